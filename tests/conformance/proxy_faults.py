"""Faults of a backend reached over the network, made by a fault proxy in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from faultproxy import FaultProxy

from connectors.testing.described import Fault


@asynccontextmanager
async def _cut(proxy: FaultProxy) -> AsyncIterator[None]:
    proxy.cut()
    try:
        yield
    finally:
        proxy.accept()


def network_outage(proxy: FaultProxy) -> Fault:
    """The backend's connections reset and new ones refused, as when it restarts or the
    network between drops: the connector reaches it through `proxy`."""
    return Fault(during=partial(_cut, proxy))


@asynccontextmanager
async def _stalled(proxy: FaultProxy) -> AsyncIterator[None]:
    proxy.stall()
    try:
        yield
    finally:
        proxy.flow()


def network_stall(proxy: FaultProxy) -> Fault:
    """The backend accepts connections and never answers: the connector reaches it
    through `proxy`, which holds every byte while the fault lasts."""
    return Fault(during=partial(_stalled, proxy))
