"""mappings/README.md cannot go wrong silently: every example in it is run.

A marker comment, invisible once rendered, stands right before each checked block:

- `<!-- mapping NAME -->` (yaml): a complete mapping file called NAME. It loads, unless
  an `output` block shows what `mapping check NAME` prints for it.
- `<!-- example -->` (yaml): part of a mapping, completed with `BACKEND` and the fields
  a loadable mapping needs (`REQUEST_FIELDS`, `UPDATE_FIELDS`) where it leaves them out.
  Its comment lines `# in: JSON`, `# out: JSON`, `# error: TEXT` and `# load error: TEXT`
  say what the section it fills makes of an input, or why it does not load; `# in
  SECTION:` names the section where the example fills several.
- `<!-- excerpt FILE -->`: text found verbatim in FILE.
- `<!-- output ARGS -->`: what `open311-gateway ARGS` prints, run in a folder holding the
  README's mappings and the repository's `mappings/`.

Every yaml block has a marker. `needs=backend_catalogue` after the kind skips a block
while `gateway.mapping.backend_catalogue` cannot be imported, and the `mapping` commands
are run only where `gateway.mapping_commands` can be: both come with main, where nothing
is skipped.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from gateway.catalogue import Catalogue
from gateway.cli import main
from gateway.mapping import CompiledMapping, MappingContext, MappingError, load_mapping
from gateway.open311 import render
from gateway.open311.models import NewServiceRequest
from gateway.open311.parse import (
    parse_datetime,
    parse_new_request,
    parse_new_update,
    parse_request_query,
)
from gateway.open311.validate import validate_against_definition
from gateway.yamlfile import FileErrors

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "mappings" / "README.md"
HAS_BACKEND_CATALOGUE = importlib.util.find_spec("gateway.mapping.backend_catalogue") is not None
HAS_MAPPING_COMMANDS = importlib.util.find_spec("gateway.mapping_commands") is not None

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CONTEXT = MappingContext("example.city", "k-20260501-0001", NOW)
"""The call an example's `create` section sees, as the README says."""
DRY_RUN = "dry-run"
"""The jurisdiction and idempotency key of a dry run, unless told."""

BACKEND: dict[str, Any] = {
    "tickets": {
        "table": "tickets",
        "id": "id",
        "reference": "ref",
        "created_at": "created",
        "columns": {"id": "integer", "ref": "text", "created": "datetime"},
    },
    "history": {
        "table": "changes",
        "id": "id",
        "ticket": "ticket_id",
        "time": "at",
        "columns": {"id": "integer", "ticket_id": "integer", "at": "datetime"},
    },
}
SERVICES_TABLE = {"table": "service_types", "id": "code", "columns": {"code": "text"}}
"""What the SQL connector needs to list services, for a catalogue taken from the backend."""

REQUEST_FIELDS = {
    "service_request_id": "harness_id",
    "status": "harness_status",
    "service_code": "harness_code",
    "requested_datetime": "harness_at",
}
UPDATE_FIELDS = {
    "update_id": "harness_id",
    "service_request_id": "harness_ticket",
    "status": "harness_status",
    "updated_datetime": "harness_at",
}
HARNESS_RECORD = {
    "harness_id": 1,
    "harness_ticket": 1,
    "harness_status": "open",
    "harness_code": "POT",
    "harness_at": "2026-05-01T12:00:00Z",
}
"""What the completed fields read; an example's record is added to it."""

LOCATION = ("lat", "long", "address_string", "address_id")
NEW_UPDATE = {
    "service_request_id": "1",
    "update_id": "fms-1",
    "status": "OPEN",
    "updated_datetime": "2026-05-01T12:00:00Z",
    "description": "Still there",
}
"""What a citizen's update needs, where an example leaves it out."""


# --- the README's blocks ---------------------------------------------------------------------

BLOCK = re.compile(
    r"^<!-- (?P<marker>[^>]*?) -->\n```(?P<lang>\w*)\n(?P<text>.*?)^```$", re.M | re.S
)
YAML_FENCE = re.compile(r"^```yaml$", re.M)
NEEDS_BACKEND_CATALOGUE = "needs=backend_catalogue"


@dataclass(frozen=True)
class Block:
    kind: str
    args: tuple[str, ...]
    needs_backend_catalogue: bool
    lang: str
    text: str
    line: int
    """Where the block's text starts in the README, for the tests' ids."""


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    blocks = []
    for found in BLOCK.finditer(text):
        kind, *args = shlex.split(found["marker"])
        needs = NEEDS_BACKEND_CATALOGUE in args
        plain = tuple(arg for arg in args if arg != NEEDS_BACKEND_CATALOGUE)
        line = text.count("\n", 0, found.start("text")) + 1
        blocks.append(Block(kind, plain, needs, found["lang"], found["text"], line))
    return blocks


BLOCKS = readme_blocks()


def params(kind: str, keep: Callable[[Block], bool] = lambda _: True) -> list[Any]:
    """The blocks of one kind as test parameters, skipped where they need main's code."""
    skip = pytest.mark.skip(reason="the catalogue from the backend comes with main")
    return [
        pytest.param(
            block,
            id=f"line {block.line}",
            marks=[skip] if block.needs_backend_catalogue and not HAS_BACKEND_CATALOGUE else [],
        )
        for block in BLOCKS
        if block.kind == kind and keep(block)
    ]


def test_every_yaml_block_is_checked() -> None:
    text = README.read_text(encoding="utf-8")
    marked = [block for block in BLOCKS if block.lang == "yaml"]
    assert len(marked) == len(YAML_FENCE.findall(text)), "a ```yaml block has no marker"
    assert {block.kind for block in BLOCKS} == {"mapping", "example", "excerpt", "output"}


# --- complete mappings and excerpts -----------------------------------------------------------


def shown_checked(mapping: Block) -> bool:
    """Whether an `output` block shows what `mapping check` prints for this mapping."""
    return any(
        block.kind == "output" and block.args[:2] == ("mapping", "check")
        for block in BLOCKS
        if mapping.args[0] in block.args
    )


@pytest.mark.parametrize("block", params("mapping", lambda block: not shown_checked(block)))
def test_a_complete_mapping_loads(block: Block, tmp_path: Path) -> None:
    (name,) = block.args
    path = tmp_path / name
    path.write_text(block.text, encoding="utf-8")
    load_mapping(path)


@pytest.mark.parametrize("block", params("excerpt"))
def test_an_excerpt_is_in_its_file(block: Block) -> None:
    (name,) = block.args
    assert block.text in (ROOT / name).read_text(encoding="utf-8")


# --- examples ---------------------------------------------------------------------------------

EXAMPLE_LINE = re.compile(
    r"^# (?P<what>in|out|error|load error)(?: (?P<section>[\w.]+))?: (?P<value>.*)$", re.M
)
SECTIONS = ("requests.create", "requests.read", "updates.create", "updates.read", "services")
QUERY = "query"
"""A section name of example lines only: GET requests' parameters in, and out the
backend values each field is searched for."""


def completed(fragment: dict[str, Any]) -> dict[str, Any]:
    """The fragment as a loadable mapping: what it leaves out is filled in."""
    document: dict[str, Any] = {"connector": "sql", "backend": dict(BACKEND)}
    document |= copy.deepcopy(fragment)
    if isinstance(fragment.get("services"), dict) and "backend" not in fragment:
        document["backend"]["services"] = SERVICES_TABLE
    requests = document.setdefault("requests", {})
    requests.setdefault("create", {})
    requests["read"] = with_fields(requests.get("read", {}), REQUEST_FIELDS)
    updates = document.get("updates", {})
    if "read" in updates:
        updates["read"] = with_fields(updates["read"], UPDATE_FIELDS)
    return document


def with_fields(entries: dict[str, Any], needed: dict[str, str]) -> dict[str, Any]:
    """The entries, then the needed fields they leave out (so problems keep their order)."""
    return entries | {name: source for name, source in needed.items() if name not in entries}


def sections_of(fragment: dict[str, Any]) -> list[str]:
    """The sections an example fills, for lines that do not name theirs."""
    found = [
        f"{top}.{part}"
        for top in ("requests", "updates")
        for part in ("create", "read")
        if part in (fragment.get(top) or {})
    ]
    return [*found, *(["services"] if isinstance(fragment.get("services"), dict) else [])]


def form_value(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    return str(item)


def post_params(given: dict[str, Any], defaults: dict[str, str]) -> list[tuple[str, str]]:
    """A JSON object as the form a client posts (a list repeats its key), as the dry run
    reads REQ.json; what a POST needs and the example leaves out comes from `defaults`."""
    params = [(key, value) for key, value in defaults.items() if key not in given]
    for key, value in given.items():
        params.extend(
            (key, form_value(item)) for item in (value if isinstance(value, list) else [value])
        )
    return params


def new_request(mapping: CompiledMapping, given: dict[str, Any]) -> NewServiceRequest:
    """The request as the edge accepts it: parsed, and checked against its service."""
    defaults = {"service_code": mapping.services[0].service_code if mapping.services else "POT"}
    if not any(name in given for name in LOCATION):
        defaults |= {"lat": "51.5072", "long": "-0.1276"}
    request = parse_new_request(post_params(given, defaults))
    catalogue = Catalogue(mapping.services, mapping.definitions)
    if not catalogue.has(request.service_code):
        return request
    return validate_against_definition(request, catalogue.definition(request.service_code))


def as_json_value(value: Any) -> Any:
    """A payload's value as the examples write it: date-times as ISO 8601, decimals as
    numbers."""
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"a {type(value).__name__} in a payload")


def canonical(value: Any) -> str:
    """JSON text, which tells `true` from `1` and `1.0` from `1` where == does not."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=as_json_value)


def rendered(
    draw: Callable[[list[Any], render.Format], bytes], model: Any, mapped: dict[str, Any]
) -> dict[str, Any]:
    """The model as a client gets it in JSON, only the fields the example maps."""
    (item,) = json.loads(draw([model], "json"))
    return {name: value for name, value in item.items() if name in mapped}


def applied(mapping: CompiledMapping, fragment: dict[str, Any], section: str, given: Any) -> Any:
    """What `section` of the mapping makes of `given`, as the examples write it."""
    if section == "requests.create":
        return mapping.create_payload(new_request(mapping, given), CONTEXT)
    if section == "updates.create":
        update = parse_new_update(post_params(given, NEW_UPDATE))
        return mapping.update_payload(update, CONTEXT)
    if section == QUERY:
        query = mapping.backend_query(parse_request_query(post_params(given, {}), NOW))
        return {field: list(values) for field, values in query.any_of.items()}
    if section == "services":
        contents = mapping.backend_catalogue.build(given)
        return json.loads(render.render_services(contents.services, "json"))
    record = {**HARNESS_RECORD, **given}
    if section == "requests.read":
        request = mapping.service_request(record)
        return rendered(render.render_requests, request, fragment["requests"]["read"])
    update = mapping.request_update(record)
    return rendered(render.render_updates, update, fragment["updates"]["read"])


def example_lines(block: Block) -> Iterator[tuple[str, str | None, str]]:
    for found in EXAMPLE_LINE.finditer(block.text):
        yield found["what"], found["section"], found["value"]


def without_location(message: str, path: Path) -> str:
    """A loader's message less its `file:line:col: ` (the example was completed)."""
    return re.sub(rf"^{re.escape(str(path))}(:\d+:\d+)?: ", "", message)


@pytest.mark.parametrize("block", params("example"))
def test_an_example_gives_what_it_says(block: Block, tmp_path: Path) -> None:
    fragment = YAML(typ="safe", pure=True).load(block.text)
    lines = list(example_lines(block))
    path = tmp_path / "city.yaml"
    path.write_text(json.dumps(completed(fragment)), encoding="utf-8")
    load_errors = [value for what, _, value in lines if what == "load error"]
    if load_errors:
        with pytest.raises(FileErrors) as caught:
            load_mapping(path)
        assert [without_location(m, path) for m in caught.value.messages] == load_errors
        return
    mapping = load_mapping(path)
    sections = sections_of(fragment)
    given: Any = None
    shown = 0
    for what, named, value in lines:
        if named is None:
            assert len(sections) == 1, f"each line must name its section, one of {sections}"
        section = named or sections[0]
        if what == "in":
            given = json.loads(value)
        elif what == "error":
            with pytest.raises(MappingError) as error:
                applied(mapping, fragment, section, given)
            assert str(error.value) == value
            shown += 1
        else:
            expected = json.loads(value)
            assert canonical(applied(mapping, fragment, section, given)) == canonical(expected)
            shown += 1
    assert shown, "an example shows what an input gives, or a load error"


# --- what the commands print ------------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with the README's mappings and the repository's `mappings/` in it."""
    for block in BLOCKS:
        if block.kind == "mapping":
            (tmp_path / block.args[0]).write_text(block.text, encoding="utf-8")
    (tmp_path / "mappings").symlink_to(ROOT / "mappings")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RIVERSIDE_API_KEY", "riverside-trial-key")
    return tmp_path


def checked(names: list[str]) -> str:
    """What `mapping check` prints, from the loader it runs."""
    lines = []
    for name in names:
        try:
            load_mapping(name)
        except FileErrors as errors:
            lines.extend(errors.messages)
        else:
            lines.append(f"{name}: ok")
    return "\n".join(lines)


def dry_run(name: str, option: str, given: str, *rest: str) -> str:
    """What `mapping apply` prints, from the library it runs."""
    options = dict(zip(rest[::2], rest[1::2], strict=True))
    mapping = load_mapping(name)
    body = json.loads(Path(given).read_text(encoding="utf-8"))
    if option == "--request":
        now = parse_datetime(options["--now"]) if "--now" in options else NOW
        jurisdiction = options.get("--jurisdiction", DRY_RUN)
        context = MappingContext(jurisdiction, options.get("--idempotency-key", DRY_RUN), now)
        payload = mapping.create_payload(new_request(mapping, body), context)
        return json.dumps(payload, indent=2, ensure_ascii=False, default=as_json_value)
    if option == "--record":
        request = mapping.service_request(body)
        if request.service_name is None:  # named by the catalogue served, as the gateway does
            names = {service.service_code: service.service_name for service in mapping.services}
            request = request.model_copy(update={"service_name": names[request.service_code]})
        shown = render.render_requests([request], "json")
    else:
        shown = render.render_updates([mapping.request_update(body)], "json")
    return json.dumps(json.loads(shown), indent=2, ensure_ascii=False)


def is_mapping_command(block: Block) -> bool:
    return block.args[0] == "mapping"


@pytest.mark.parametrize("block", params("output", is_mapping_command))
def test_the_library_gives_what_the_mapping_commands_show(block: Block, workdir: Path) -> None:
    action, *args = block.args[1:]
    printed = checked(args) if action == "check" else dry_run(*args)
    assert printed == block.text.rstrip("\n")


@pytest.mark.parametrize("block", params("output"))
def test_each_command_prints_what_the_readme_shows(
    block: Block, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if is_mapping_command(block) and not HAS_MAPPING_COMMANDS:
        pytest.skip("the mapping commands come with main")
    main(list(block.args))
    printed = capsys.readouterr()
    assert (printed.out + printed.err).rstrip("\n") == block.text.rstrip("\n")


@pytest.mark.parametrize("block", params("output"))
def test_each_output_follows_its_command(block: Block) -> None:
    assert f"open311-gateway {shlex.join(block.args)}" in README.read_text(encoding="utf-8")
