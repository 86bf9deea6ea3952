"""The `open311-gateway` command: serve, check a configuration, work on mappings, mint API keys."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiohttp import web

from connectors.registry import ConnectorNotFound, connector_class
from gateway import apikeys, logs
from gateway.config import Config, load_config
from gateway.embedded import JURISDICTION_ID, data_dir, embedded_config
from gateway.http.app import create_app
from gateway.mapping import load_mapping
from gateway.mapping_commands import add_mapping_commands, print_problems
from gateway.runtime import Runtime
from gateway.yamlfile import FileErrors

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except FileErrors as errors:
        for message in errors.messages:
            print(message, file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="open311-gateway", description="Open311 GeoReport v2 gateway."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", type=Path, help="configuration file (default: embedded)")
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.set_defaults(run=_serve)

    check = commands.add_parser("check", help="validate a configuration and its mappings")
    check.add_argument("--config", type=Path, required=True)
    check.set_defaults(run=_check)

    add_mapping_commands(
        commands.add_parser("mapping", help="check, dry-run and describe mapping files")
    )

    keys = commands.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(required=True, metavar="ACTION")
    new_key = key_commands.add_parser("new", help="mint an API key and print its hash")
    new_key.add_argument("--jurisdiction", required=True)
    new_key.set_defaults(run=_new_key)
    return parser


def _serve(args: argparse.Namespace) -> int:
    if args.config is None:
        config, minted = embedded_config(data_dir(), f"http://{args.host}:{args.port}")
        files: list[Path] = []
        if minted:
            print(
                f"Minted the API key for jurisdiction {JURISDICTION_ID} (shown once, only its "
                f"hash is kept):\n  {minted}\nSet OPEN311_API_KEY to choose your own.",
                file=sys.stderr,
            )
    else:
        config, files = load_config(args.config), [args.config.resolve()]
    problems = _check_jurisdictions(config)
    if problems:
        return print_problems(problems)
    logs.configure()
    runtime = Runtime(config, files)
    logs.get_logger(__name__).info("serving", url=f"http://{args.host}:{args.port}")
    web.run_app(create_app(runtime), host=args.host, port=args.port, access_log=None, print=None)
    return 0


def _check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    problems = _check_jurisdictions(config)
    if problems:
        return print_problems(problems)
    print(f"{args.config}: OK ({len(config.jurisdictions)} jurisdictions)")
    return 0


def _check_jurisdictions(config: Config) -> list[str]:
    """Every problem in every mapping the configuration names, all reported at once."""
    problems: list[str] = []
    for jurisdiction in config.jurisdictions:
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


def _new_key(args: argparse.Namespace) -> int:
    key = apikeys.mint_key()
    print(f"API key for {args.jurisdiction} (give it to the client; it is not stored):")
    print(f"  {key}")
    print("Hash to add under the jurisdiction's api_keys in the configuration:")
    print(f"  {apikeys.hash_key(key)}")
    return 0
