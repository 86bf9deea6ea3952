"""`open311-gateway mapping ...`: check mapping files, dry-run one, write the JSON Schema.

A dry run takes the path of a live call up to the connector and stops there: a request
goes through the edge's parser and its check against the service definition, then the
mapping; a backend record goes through the mapping and the GeoReport JSON rendering.
Nothing is sent to a backend. Every failure is one located message per problem on
stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from connectors.registry import ConnectorNotFound
from gateway.catalogue import Catalogue
from gateway.intake import accept_new_request
from gateway.mapping import CompiledMapping, MappingContext, MappingError, load_mapping
from gateway.mapping.schema import installed_connectors, mapping_schema, render_schema
from gateway.open311 import render
from gateway.open311.errors import Open311Error
from gateway.open311.parse import parse_datetime
from gateway.yamlfile import FileErrors

DRY_RUN = "dry-run"
"""The jurisdiction id and idempotency key a dry run gives the mapping unless told."""


def add_mapping_commands(mapping: argparse.ArgumentParser) -> None:
    """The actions of the `mapping` command, added to its parser."""
    actions = mapping.add_subparsers(required=True, metavar="ACTION")

    check = actions.add_parser("check", help="check mapping files completely")
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.set_defaults(run=_check)

    apply = actions.add_parser(
        "apply", help="show what a request becomes for the backend, or a record for Open311"
    )
    apply.add_argument("file", type=Path, metavar="FILE", help="the mapping")
    given = apply.add_mutually_exclusive_group(required=True)
    given.add_argument(
        "--request",
        type=Path,
        metavar="REQ.json",
        help="Open311 POST parameters as a JSON object; prints the backend payload",
    )
    given.add_argument(
        "--record",
        type=Path,
        metavar="REC.json",
        help="a backend record as a JSON object; prints the Open311 request it stands for",
    )
    given.add_argument(
        "--update-record",
        type=Path,
        metavar="REC.json",
        help="a backend change as a JSON object; prints the Open311 update it stands for",
    )
    apply.add_argument("--jurisdiction", default=DRY_RUN, metavar="ID", help=f"default: {DRY_RUN}")
    apply.add_argument(
        "--idempotency-key", default=DRY_RUN, metavar="KEY", help=f"default: {DRY_RUN}"
    )
    apply.add_argument(
        "--now",
        type=_instant,
        metavar="ISO",
        help="the call's time as an RFC 3339 date-time (default: the current time)",
    )
    apply.set_defaults(run=_apply)

    schema = actions.add_parser("schema", help="write the JSON Schema of the mapping format")
    schema.add_argument("--output", type=Path, metavar="FILE", help="default: standard output")
    schema.set_defaults(run=_schema)


def _check(args: argparse.Namespace) -> int:
    broken = False
    for path in args.files:
        try:
            load_mapping(path)
        except FileErrors as errors:
            broken = True
            print_problems(errors.messages)
            continue
        print(f"{path}: ok")
    return 1 if broken else 0


def _apply(args: argparse.Namespace) -> int:
    try:
        mapping = load_mapping(args.file)
        if args.request is not None:
            output = _payload(mapping, args)
        elif args.record is not None:
            names = Catalogue(mapping.services, mapping.definitions).names
            output = _translated(
                partial(mapping.service_request, names=names), render.render_requests, args.record
            )
        else:
            output = _translated(mapping.request_update, render.render_updates, args.update_record)
    except FileErrors as errors:
        return print_problems(errors.messages)
    print(output)
    return 0


def _payload(mapping: CompiledMapping, args: argparse.Namespace) -> str:
    """The backend payload of a request, as the edge would accept and map it."""
    params = _post_params(args.request, _json_object(args.request))
    try:
        request = accept_new_request(Catalogue(mapping.services, mapping.definitions), params)
    except Open311Error as error:
        raise FileErrors([f"{args.request}: {p.description}" for p in error.problems]) from None
    context = MappingContext(args.jurisdiction, args.idempotency_key, args.now or datetime.now(UTC))
    try:
        payload = mapping.create_payload(request, context)
    except MappingError as error:
        message = f"{args.file}: the request cannot be mapped for the backend: {error}"
        raise FileErrors([message]) from None
    try:
        return json.dumps(payload, indent=2, ensure_ascii=False, default=_json_value)
    except TypeError as error:
        raise FileErrors([f"{args.file}: the payload has no JSON form: {error}"]) from None


def _translated(
    translate: Callable[[dict[str, Any]], Any],
    rendered: Callable[[list[Any], render.Format], bytes],
    path: Path,
) -> str:
    """A backend record as the gateway serves it: GeoReport JSON, a list of one."""
    record = _json_object(path)
    try:
        model = translate(record)
    except MappingError as error:
        raise FileErrors([f"{path}: the record cannot be mapped: {error}"]) from None
    return json.dumps(json.loads(rendered([model], "json")), indent=2, ensure_ascii=False)


def _schema(args: argparse.Namespace) -> int:
    try:
        text = render_schema(mapping_schema(installed_connectors()))
    except ConnectorNotFound as error:
        return print_problems([str(error)])
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


def _json_object(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileErrors([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileErrors([f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}"]) from None
    if not isinstance(value, dict):
        raise FileErrors([f"{path}: expected a JSON object"])
    return value


def _post_params(path: Path, body: dict[str, Any]) -> list[tuple[str, str]]:
    """The form a client would post: a list repeats its key, null means "not sent"."""
    params: list[tuple[str, str]] = []
    problems: list[str] = []
    for key, value in body.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool):
                params.append((key, "true" if item else "false"))
            elif isinstance(item, str | int | float):
                params.append((key, str(item)))
            elif item is not None:
                problems.append(f"{path}: {key}: expected text, a number, or a list of them")
                break
    if problems:
        raise FileErrors(problems)
    return params


def _instant(text: str) -> datetime:
    try:
        return parse_datetime(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _json_value(value: Any) -> str | float:
    """What JSON has no type for: date-times (the call's time, dates written in the
    mapping, conversions) as ISO 8601 text, decimals as numbers (shown to a float's
    precision: the backend itself gets the exact decimal)."""
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"a {type(value).__name__} is neither text, a number nor a date-time")


def print_problems(messages: Iterable[str]) -> int:
    """Each problem on its own line of stderr; the exit status of a failed check."""
    for message in messages:
        print(message, file=sys.stderr)
    return 1
