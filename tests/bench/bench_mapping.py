"""Mapping throughput: one new request mapped to the backend and its record read back.

Loads `mapping_bench.yaml` (25 targets written with templates, tables, conversions,
rules and nested paths; every Open311 request field read back), then times a plain
loop of `create_payload` followed by `service_request` on one core.

Run:  python tests/bench/bench_mapping.py [--n 200000] [--rounds 5]
Target: >= 50,000 forward + reverse applications per second.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.mapping import CompiledMapping, MappingContext, load_mapping
from gateway.open311.models import Location, NewServiceRequest

MAPPING = Path(__file__).resolve().parent / "mapping_bench.yaml"
TARGET = 50_000

REQUEST = NewServiceRequest(
    service_code="FLY",
    location=Location(lat=51.5072, long=-0.1276, address_string="12 Back Lane", address_id="1001"),
    description="Tyres and a fridge dumped behind the garages",
    email="ann@example.org",
    first_name="Ann",
    last_name="Lee",
    phone="01234 567890",
    account_id="acc-1",
    device_id="dev-1",
    media_urls=("https://img.example/1.jpg",),
    attributes={"waste": ("tyres", "hazardous"), "depth": "12", "tags": "rear, garages"},
)
CONTEXT = MappingContext("example.city", "key-1", datetime(2026, 5, 1, 12, 0, tzinfo=UTC))


def stored(mapping: CompiledMapping) -> dict[str, object]:
    """The record the backend would hand back for REQUEST: its payload, an id and more."""
    payload = mapping.create_payload(REQUEST, CONTEXT)
    return {
        **payload,
        "case_no": 4711,
        "status": "SCHEDULED",
        "resolution": "Booked for collection",
        "resolution_code": "R2",
        "due": "2026-05-04T09:00:00",
        "address": {**payload["address"], "postcode": "EC1A 1BB"},
    }


def rate(mapping: CompiledMapping, record: dict[str, object], n: int) -> float:
    create, read = mapping.create_payload, mapping.service_request
    started = time.perf_counter()
    for _ in range(n):
        create(REQUEST, CONTEXT)
        read(record)
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="applications per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best one counts")
    args = parser.parse_args()
    mapping = load_mapping(MAPPING)
    record = stored(mapping)
    read_back = mapping.service_request(record)
    assert read_back.service_code == REQUEST.service_code, "the mapping does not round-trip"
    rate(mapping, record, min(args.n, 10_000))  # warm-up
    rates = [rate(mapping, record, args.n) for _ in range(args.rounds)]
    best, median = max(rates), statistics.median(rates)
    verdict = "meets" if best >= TARGET else "MISSES"
    print(
        f"forward + reverse, 25-field mapping: best {best:,.0f}, median {median:,.0f} "
        f"per second over {args.rounds} rounds of {args.n:,} ({verdict} {TARGET:,})"
    )


if __name__ == "__main__":
    main()
