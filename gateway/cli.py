"""The `open311-gateway` command: serve, deliver (worker), check a configuration, list the
installed connectors, work on mappings, mint API keys, dead letters, run back-office
simulators."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from connectors.registry import ConnectorImportFailed, ConnectorNotFound, connector_class
from gateway import apikeys, logs
from gateway.config import Config, GatewayConfig, JurisdictionConfig, load_config
from gateway.connector_list import add_connectors_command
from gateway.embedded import JURISDICTION_ID, data_dir, embedded_config, store_url
from gateway.http.app import LISTEN_BACKLOG, GatewayRunner
from gateway.mapping import load_mapping
from gateway.mapping_commands import add_mapping_commands, print_problems
from gateway.queue import DeadLetter, JobQueue, QueueUnavailable, open_queue
from gateway.runtime import Runtime, freeze_startup_objects
from gateway.store import Store, StoreUnavailable, Submission
from gateway.tenants import tenant_connector
from gateway.yamlfile import FileErrors

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080

GIL_SWITCH_SECONDS = 0.001
"""How long a thread that wants the GIL may wait for the event loop to let go of it.
The database thread needs it at each step of a group commit, so Python's 5 ms default
added that much to every commit, and POSTs waited; 1 ms gave 10-30% more accepted
POSTs per second (`tests/bench/bench_http.py`)."""

SIMULATORS = {
    "salesforce": "connectors.testing.salesforce.command",
    "soap-crm": "connectors.testing.soap_crm.command",
}
"""`simulate NAME`: each module's `add_command(subparsers, NAME)` adds its command."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser(simulators=argv[:1] == ["simulate"]).parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except FileErrors as errors:
        for message in errors.messages:
            print(message, file=sys.stderr)
        return 2


def _parser(*, simulators: bool) -> argparse.ArgumentParser:
    """`simulators`: add the `simulate` commands, whose modules load the simulators
    (zeep, trustme, cryptography...): about 0.4 s and 300 modules that `serve` and the
    other commands would otherwise load and keep."""
    parser = argparse.ArgumentParser(
        prog="open311-gateway", description="Open311 GeoReport v2 gateway."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", type=Path, help="configuration file (default: embedded)")
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.set_defaults(run=_serve)

    worker = commands.add_parser(
        "worker", help="deliver queued requests to the backends, serving no HTTP"
    )
    worker.add_argument("--config", type=Path, help="configuration file (default: embedded)")
    worker.set_defaults(run=_work)

    check = commands.add_parser("check", help="validate a configuration and its mappings")
    check.add_argument("--config", type=Path, required=True)
    check.set_defaults(run=_check)

    add_connectors_command(
        commands.add_parser("connectors", help="list the installed connectors and what they do")
    )

    add_mapping_commands(
        commands.add_parser("mapping", help="check, dry-run and describe mapping files")
    )

    keys = commands.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(required=True, metavar="ACTION")
    new_key = key_commands.add_parser("new", help="mint an API key and print its hash")
    new_key.add_argument("--jurisdiction", required=True)
    new_key.set_defaults(run=_new_key)

    queue_config = argparse.ArgumentParser(add_help=False)
    queue_config.add_argument(
        "--config", type=Path, help="configuration file naming the queue (default: embedded)"
    )
    dlq = commands.add_parser("dlq", help="dead letters: jobs that failed for good")
    dlq_commands = dlq.add_subparsers(required=True, metavar="ACTION")
    listing = dlq_commands.add_parser(
        "list", parents=[queue_config], help="dead letters, newest first"
    )
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--offset", type=int, default=0)
    listing.set_defaults(run=_dead_letter_command(_list_dead_letters))
    show = dlq_commands.add_parser(
        "show", parents=[queue_config], help="one dead letter, without its payload"
    )
    show.add_argument("job_id", metavar="ID")
    show.add_argument(
        "--payload", action="store_true", help="print the payload too (it holds personal data)"
    )
    show.set_defaults(run=_dead_letter_command(_show_dead_letter))
    replay = dlq_commands.add_parser(
        "replay", parents=[queue_config], help="put a dead letter back in the queue"
    )
    replay.add_argument("job_id", metavar="ID")
    replay.set_defaults(run=_dead_letter_command(_replay_dead_letter))
    discard = dlq_commands.add_parser(
        "discard", parents=[queue_config], help="delete a dead letter for good"
    )
    discard.add_argument("job_id", metavar="ID")
    discard.set_defaults(run=_dead_letter_command(_discard_dead_letter))
    audit = dlq_commands.add_parser(
        "audit",
        parents=[queue_config],
        help="requests the store recorded as dead-lettered, newest first, with the reason",
    )
    audit.add_argument("--limit", type=int, default=50)
    audit.add_argument("--offset", type=int, default=0)
    audit.set_defaults(run=_audit_dead_submissions)

    simulate = commands.add_parser("simulate", help="run a back-office simulator, for trials")
    backends = simulate.add_subparsers(required=True, metavar="BACKEND")
    if simulators:
        for name, module in SIMULATORS.items():
            importlib.import_module(module).add_command(backends, name)
    return parser


def _serve(args: argparse.Namespace) -> int:
    config, files = _configuration(args.config, f"http://{args.host}:{args.port}")
    problems = _check_jurisdictions(config, serve_broken=True)
    if problems:
        return print_problems(problems)
    logs.configure()
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    runtime = Runtime(config, files)
    logs.get_logger(__name__).info("serving", url=f"http://{args.host}:{args.port}")
    asyncio.run(_serve_until_stopped(runtime, args.host, args.port))
    return 0


async def _serve_until_stopped(runtime: Runtime, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT; then stop listening, let the requests in flight
    finish, and close."""
    stopped = _stop_on_signals()
    runner = GatewayRunner(runtime, serves_until_stopped=True, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, backlog=LISTEN_BACKLOG).start()
        await stopped.wait()
    finally:
        await runner.cleanup()


def _work(args: argparse.Namespace) -> int:
    config, files = _configuration(args.config, f"http://{DEFAULT_HOST}:{DEFAULT_PORT}")
    problems = _check_jurisdictions(config, serve_broken=True)
    if problems:
        return print_problems(problems)
    logs.configure()
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    asyncio.run(_deliver_until_stopped(Runtime(config, files, worker_only=True)))
    return 0


async def _deliver_until_stopped(runtime: Runtime) -> None:
    """Deliver until SIGTERM or SIGINT; then finish the deliveries in flight and close."""
    stop = _stop_on_signals()
    log = logs.get_logger(__name__)
    await runtime.start()
    freeze_startup_objects()
    log.info("worker_started", jurisdictions=[tenant.id for tenant in runtime.tenants])
    try:
        await stop.wait()
    finally:
        await runtime.close()
        log.info("worker_stopped")


def _stop_on_signals() -> asyncio.Event:
    """An event set on SIGTERM or SIGINT, which no longer end the process."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


def _configuration(file: Path | None, base_url: str) -> tuple[Config, list[Path]]:
    """The configuration in `file` and the files it came from; without a file, the
    embedded default, whose API key is printed once when it is minted."""
    if file is not None:
        return load_config(file), [file.resolve()]
    config, minted = embedded_config(data_dir(), base_url)
    if minted:
        print(
            f"Minted the API key for jurisdiction {JURISDICTION_ID} (shown once, only its "
            f"hash is kept):\n  {minted}\nSet OPEN311_API_KEY to choose your own.",
            file=sys.stderr,
        )
    return config, []


def _check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    problems = _check_jurisdictions(config)
    if problems:
        return print_problems(problems)
    print(f"{args.config}: OK ({len(config.jurisdictions)} jurisdictions)")
    return 0


def _check_jurisdictions(config: Config, *, serve_broken: bool = False) -> list[str]:
    """Every problem in every mapping the configuration names, all reported at once.

    With `serve_broken` (serve, worker), a jurisdiction whose connector is installed but
    fails to import is not a problem: the runtime serves the others and answers it 503.
    """
    problems: list[str] = []
    for jurisdiction in config.jurisdictions:
        if serve_broken and _connector_broken(jurisdiction):
            continue
        try:
            mapping = load_mapping(jurisdiction.mapping)
        except FileErrors as errors:
            problems.extend(errors.messages)
            continue
        try:
            connector_class(jurisdiction.connector.kind or mapping.connector)
        except ConnectorNotFound as error:
            problems.append(f"{jurisdiction.mapping}: connector: {error}")
    return problems


def _connector_broken(jurisdiction: JurisdictionConfig) -> bool:
    """Whether its connector is installed but fails to import."""
    try:
        tenant_connector(jurisdiction)
    except ConnectorImportFailed:
        return True
    except (ConnectorNotFound, FileErrors):
        return False  # a mistake in the files: reported with the mapping's other problems
    return False


def _new_key(args: argparse.Namespace) -> int:
    key = apikeys.mint_key()
    print(f"API key for {args.jurisdiction} (give it to the client; it is not stored):")
    print(f"  {key}")
    print("Hash to add under the jurisdiction's api_keys in the configuration:")
    print(f"  {apikeys.hash_key(key)}")
    return 0


DeadLetterAction = Callable[[JobQueue, argparse.Namespace], Awaitable[int]]


def _dead_letter_command(action: DeadLetterAction) -> Callable[[argparse.Namespace], int]:
    """A `dlq` action run against the configured queue, started and closed around it."""

    def run(args: argparse.Namespace) -> int:
        if args.config is None:
            url = GatewayConfig(store_url=store_url(data_dir())).queue_url
        else:
            url = load_config(args.config).gateway.queue_url
        try:
            return asyncio.run(_on_queue(open_queue(url), action, args))
        except QueueUnavailable as failure:
            print(f"queue unavailable: {failure}", file=sys.stderr)
            return 1

    return run


async def _on_queue(queue: JobQueue, action: DeadLetterAction, args: argparse.Namespace) -> int:
    await queue.start()
    try:
        return await action(queue, args)
    finally:
        await queue.close()


async def _list_dead_letters(queue: JobQueue, args: argparse.Namespace) -> int:
    letters = await queue.dead_letters(args.limit, args.offset)
    for letter in letters:
        job = letter.job
        print(
            f"{job.id}  {letter.dead_at.isoformat(timespec='seconds')}  {job.jurisdiction_id}  "
            f"{job.kind}  deliveries={job.attempt + 1}  {letter.reason}"
        )
    if not letters:
        print("no dead letters")
    return 0


async def _show_dead_letter(queue: JobQueue, args: argparse.Namespace) -> int:
    letter = await queue.dead_letter_of(args.job_id)
    if letter is None:
        return _unknown_dead_letter(args.job_id)
    for name, value in _dead_letter_fields(letter):
        print(f"{name}: {value}")
    if args.payload:
        print(f"payload: {letter.job.payload.decode('utf-8', errors='replace')}")
    else:
        print("payload: (hidden: personal data; --payload prints it)")
    return 0


def _dead_letter_fields(letter: DeadLetter) -> list[tuple[str, object]]:
    job = letter.job
    return [
        ("id", job.id),
        ("jurisdiction", job.jurisdiction_id),
        ("kind", job.kind),
        ("idempotency_key", job.idempotency_key),
        ("deliveries", job.attempt + 1),
        ("enqueued_at", job.enqueued_at.isoformat()),
        ("dead_at", letter.dead_at.isoformat()),
        ("reason", letter.reason),
    ]


async def _replay_dead_letter(queue: JobQueue, args: argparse.Namespace) -> int:
    if not await queue.replay(args.job_id):
        return _unknown_dead_letter(args.job_id)
    print(f"{args.job_id}: back in the queue")
    return 0


async def _discard_dead_letter(queue: JobQueue, args: argparse.Namespace) -> int:
    if not await queue.discard(args.job_id):
        return _unknown_dead_letter(args.job_id)
    print(f"{args.job_id}: discarded")
    return 0


def _audit_dead_submissions(args: argparse.Namespace) -> int:
    """The store's record of dead-lettered requests: it outlives a discarded dead letter."""
    if args.config is None:
        url = store_url(data_dir())
    else:
        url = load_config(args.config).gateway.store_url
    try:
        dead = asyncio.run(_dead_submissions(Store(url), args.limit, args.offset))
    except StoreUnavailable as failure:
        print(f"store unavailable: {failure}", file=sys.stderr)
        return 1
    for submission in dead:
        settled = (
            submission.settled_at.isoformat(timespec="seconds") if submission.settled_at else "-"
        )
        print(f"{submission.job_id}  {settled}  {submission.jurisdiction_id}  {submission.reason}")
    if not dead:
        print("no dead submissions")
    return 0


async def _dead_submissions(store: Store, limit: int, offset: int) -> list[Submission]:
    await store.start()
    try:
        return await store.dead(limit, offset)
    finally:
        await store.close()


def _unknown_dead_letter(job_id: str) -> int:
    print(f"no dead letter with id '{job_id}'", file=sys.stderr)
    return 1
