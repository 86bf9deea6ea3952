"""Connector classes, discovered through the entry-point group `open311_gateway.connectors`.

Built-in connectors register the same way third-party packages do, so a new backend
is a pip install, never a fork.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from connectors.base import Connector

GROUP = "open311_gateway.connectors"


class ConnectorNotFound(LookupError):
    pass


def available() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def connector_class(kind: str) -> type[Connector]:
    """The class registered as `kind`; raises ConnectorNotFound naming what is installed."""
    entry = available().get(kind)
    if entry is None:
        installed = ", ".join(sorted(available())) or "none"
        raise ConnectorNotFound(f"no connector '{kind}' is installed (installed: {installed})")
    try:
        cls = entry.load()
    except Exception as exc:
        raise ConnectorNotFound(f"connector '{kind}' failed to import: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise ConnectorNotFound(f"connector '{kind}' ({entry.value}) is not a Connector class")
    return cls
