"""Connector classes, discovered through the entry-point group `open311_gateway.connectors`.

Built-in connectors register the same way third-party packages do, so a new backend
is a pip install, never a fork. A kind that is installed but cannot be imported is
told apart from one that is not installed at all: the first is a broken package the
gateway serves around (the other jurisdictions keep working), the second a mistake in
the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from connectors.base import Connector

GROUP = "open311_gateway.connectors"


class ConnectorNotFound(LookupError):
    """No usable connector of the kind asked for."""


class ConnectorImportFailed(ConnectorNotFound):
    """The kind is installed, but its class cannot be imported or is not a `Connector`."""

    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(f"connector '{kind}' {reason}")


@dataclass(frozen=True, slots=True)
class InstalledConnector:
    """One entry of the group: where it comes from, and its class or why there is none."""

    kind: str
    source: str
    """The entry point's value, `module:Class`."""
    distribution: str
    """The package that registers it, with its version."""
    connector: type[Connector] | None
    failure: ConnectorImportFailed | None


def available() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def connector_class(kind: str) -> type[Connector]:
    """The class registered as `kind`; raises ConnectorNotFound naming what is installed,
    ConnectorImportFailed when it is installed but broken."""
    entry = available().get(kind)
    if entry is None:
        installed_kinds = ", ".join(sorted(available())) or "none"
        raise ConnectorNotFound(
            f"no connector '{kind}' is installed (installed: {installed_kinds})"
        )
    return _load(entry)


def installed() -> list[InstalledConnector]:
    """Every registered connector by kind, each imported to tell whether it works."""
    found = []
    for kind, entry in sorted(available().items()):
        try:
            connector, failure = _load(entry), None
        except ConnectorImportFailed as exc:
            connector, failure = None, exc
        found.append(
            InstalledConnector(kind, entry.value, _distribution(entry), connector, failure)
        )
    return found


def _load(entry: EntryPoint) -> type[Connector]:
    try:
        cls = entry.load()
    except Exception as exc:  # whatever a third-party module raises while it is imported
        raise ConnectorImportFailed(
            entry.name, f"failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise ConnectorImportFailed(entry.name, f"({entry.value}) is not a Connector class")
    return cls


def _distribution(entry: EntryPoint) -> str:
    dist = entry.dist
    return "unknown package" if dist is None else f"{dist.name} {dist.version}"
