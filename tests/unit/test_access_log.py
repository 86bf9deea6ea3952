"""The access log's lines: one JSON object per request, stamped as structlog stamps."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import structlog

from gateway import logs


@pytest.fixture
def lines() -> Iterator[io.BytesIO]:
    stream = io.BytesIO()
    logs.configure(stream=stream)
    structlog.configure(cache_logger_on_first_use=False)
    yield stream
    structlog.reset_defaults()


def test_a_line_is_one_json_object_with_a_utc_timestamp(lines: io.BytesIO) -> None:
    before = datetime.now(UTC)
    logs.access(request_id="r1", method="POST", route="requests", status=201)
    logs.access(request_id="r2", method="GET", route="services", status=200)
    after = datetime.now(UTC)
    first, second = (orjson.loads(line) for line in lines.getvalue().splitlines())
    assert first["event"] == "request" and first["level"] == "info"
    assert (first["request_id"], second["request_id"]) == ("r1", "r2")
    for line in (first, second):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", line["timestamp"])
        stamped = datetime.fromisoformat(line["timestamp"])
        assert before - timedelta(microseconds=1) <= stamped <= after
    assert first["timestamp"] <= second["timestamp"]
