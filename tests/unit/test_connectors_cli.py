"""`open311-gateway connectors`, and how `check` and `serve` treat a connector kind that is
not installed (a mistake in the files) and one that is installed but broken."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest

from gateway.cli import main
from mappings import mapping_path

from scripted_backend import register

MISSING_MODULE = "open311_no_such_module"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two installed kinds that do not work: a missing module, and not a connector."""
    register(monkeypatch, "broken", f"{MISSING_MODULE}:Connector")
    register(monkeypatch, "not_a_class", "json:dumps")


def config_with_kind(folder: Path, kind: str) -> Path:
    """A configuration whose one jurisdiction uses the embedded mapping on `kind`."""
    path = folder / "gateway.yaml"
    path.write_text(
        "jurisdictions:\n"
        "  - id: example.city\n"
        f"    mapping: {mapping_path('embedded.yaml')}\n"
        "    connector:\n"
        f"      kind: {kind}\n"
        "      settings: {url: sqlite:///tickets.db}\n",
        encoding="utf-8",
    )
    return path


def test_lists_each_connector_with_its_origin_and_capabilities(capsys) -> None:
    status, lines, err = run(capsys, "connectors")
    assert (status, err) == (0, "")
    at = lines.index(
        f"sql: connectors.sql:SqlConnector (open311-gateway {version('open311-gateway')})"
    )
    assert lines[at + 1] == (
        "  capabilities: create, find_by_reference, get, search, updates, post_update "
        "(more on some backends, as the mapping describes them)"
    )


def test_a_connector_that_fails_to_import_is_listed_with_its_error(broken, capsys) -> None:
    status, lines, _ = run(capsys, "connectors")
    assert status == 0
    at = lines.index(f"broken: {MISSING_MODULE}:Connector (unknown package)")
    assert lines[at + 1] == (
        f"  error: failed to import: ModuleNotFoundError: No module named '{MISSING_MODULE}'"
    )
    at = lines.index("not_a_class: json:dumps (unknown package)")
    assert lines[at + 1] == "  error: (json:dumps) is not a Connector class"
    assert any(line.startswith("sql: ") for line in lines)


def test_strict_listing_fails_when_a_connector_is_broken(broken, capsys) -> None:
    assert run(capsys, "connectors", "--strict")[0] == 1


def test_strict_listing_passes_when_every_connector_imports(capsys) -> None:
    assert run(capsys, "connectors", "--strict")[0] == 0


@pytest.mark.parametrize("command", ["check", "serve"])
def test_a_kind_that_is_not_installed_is_a_configuration_error(
    tmp_path: Path, capsys, command: str
) -> None:
    status, _, err = run(capsys, command, "--config", str(config_with_kind(tmp_path, "nope")))
    assert status == 1
    assert "connector: no connector 'nope' is installed (installed: " in err


def test_check_fails_for_a_connector_that_cannot_be_imported(
    tmp_path: Path, broken, capsys
) -> None:
    status, _, err = run(capsys, "check", "--config", str(config_with_kind(tmp_path, "broken")))
    assert status == 1
    assert "connector 'broken' failed to import: ModuleNotFoundError: No module named" in err
