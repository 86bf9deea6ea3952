"""`open311-gateway connectors`: what the entry-point group offers, and what is broken.

Each connector is imported, so a package that is installed but broken (a missing
dependency, an error at import) shows up here with its error rather than when a
jurisdiction first needs it. The listing exits 0 even then, as the gateway serves
the jurisdictions that do not use a broken connector; `--strict` exits 1.
"""

from __future__ import annotations

import argparse

from connectors.base import Capability, Connector
from connectors.registry import InstalledConnector, installed


def add_connectors_command(listing: argparse.ArgumentParser) -> None:
    listing.add_argument(
        "--strict", action="store_true", help="exit 1 when a connector fails to import"
    )
    listing.set_defaults(run=_list)


def _list(args: argparse.Namespace) -> int:
    found = installed()
    for entry in found:
        print(f"{entry.kind}: {entry.source} ({entry.distribution})")
        print(f"  {_state(entry)}")
    if not found:
        print("no connectors installed")
    failed = any(entry.failure is not None for entry in found)
    return 1 if args.strict and failed else 0


def _state(entry: InstalledConnector) -> str:
    if entry.failure is not None:
        return f"error: {entry.failure.reason}"
    assert entry.connector is not None
    return f"capabilities: {_capabilities(entry.connector)}"


def _capabilities(cls: type[Connector]) -> str:
    """The operations a connector declares, in the contract's order."""
    names = ", ".join(c.value for c in Capability if c in cls.capabilities) or "none"
    if cls.capabilities_for.__func__ is not Connector.capabilities_for.__func__:  # type: ignore[attr-defined]
        names += " (more on some backends, as the mapping describes them)"
    return names
