"""The SOAP connector on the CaseWorks simulator, as Millbrook's mapping describes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from connectors.soap import SoapConnector
from connectors.testing.soap_crm import DEFAULT_PASSWORD, DEFAULT_USERNAME, SoapCrm
from gateway.mapping import CompiledMapping, load_mapping
from mappings import mapping_path

MILLBROOK = mapping_path("examples/millbrook.yaml")
CREDENTIALS = {"username": DEFAULT_USERNAME, "password": DEFAULT_PASSWORD}
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@cache
def millbrook() -> CompiledMapping:
    return load_mapping(MILLBROOK)


def soap_settings(simulator: SoapCrm, version: str = "1.1", **more: Any) -> dict[str, Any]:
    """Settings for the simulator: basic auth on SOAP 1.1, a digest UsernameToken on 1.2."""
    settings: dict[str, Any] = {"wsdl": simulator.wsdl_url, "soap_version": version}
    if version == "1.1":
        settings["basic_auth"] = CREDENTIALS
    else:
        settings["ws_security"] = {**CREDENTIALS, "digest": True}
    return {**settings, **more}


@asynccontextmanager
async def connected(
    simulator: SoapCrm,
    version: str = "1.1",
    *,
    backend: dict[str, Any] | None = None,
    **settings: Any,
) -> AsyncIterator[SoapConnector]:
    schema = backend if backend is not None else millbrook().backend
    settings = soap_settings(simulator, version, **settings)
    connector = SoapConnector(settings, schema, timeout=5.0)
    await connector.start()
    try:
        yield connector
    finally:
        await connector.close()


class Clock:
    """The CRM's time: it moves only when a test says so."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def case(case_type: str = "RD-POT", summary: str = "Deep hole", **fields: Any) -> dict[str, Any]:
    """A NewCase record as Millbrook's requests.create writes one."""
    return {
        "CaseTypeCode": case_type,
        "Summary": summary,
        "Location": {"Street": "1 Mill Lane", "Coordinates": {"Latitude": 51.5, "Longitude": -0.1}},
        **fields,
    }


def numbers(records: list[dict[str, Any]]) -> list[str]:
    return [record["CaseNumber"] for record in records]
