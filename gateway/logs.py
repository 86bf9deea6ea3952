"""Structured logs: one JSON object per line on stdout, never personal data.

Rendered with orjson straight to bytes: the access line is on every request's path.
Inside a running event loop, lines are gathered and written together once per turn
of the loop: one write for every request the turn answered, instead of one each.
A line logged with no loop running is written at once.

The access line (`access`) is the one line rendered without structlog's processor
chain: on a cached GET, that chain cost more than the gateway's own work (measured
with py-spy under wrk). It has the same shape and the same writer as every other line.

Callers log identifiers of routes and jurisdictions, statuses and timings; request
bodies, query strings, contact fields and API keys are never passed to a logger.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import time
from typing import BinaryIO

import orjson
import structlog


class LineWriter:
    """Writes log lines to a stream, batched per turn of the running event loop."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._pending: list[bytes] = []
        atexit.register(self.flush)

    def write(self, line: bytes) -> None:
        self._pending.append(line)
        if len(self._pending) > 1:
            return  # a flush is already scheduled
        try:
            asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            lines, self._pending = self._pending, []
            self._stream.write(b"".join(lines))
            self._stream.flush()


class LineLogger:
    """A structlog logger that hands each rendered line to a `LineWriter`."""

    def __init__(self, writer: LineWriter) -> None:
        self._writer = writer

    def msg(self, message: bytes) -> None:
        self._writer.write(message + b"\n")

    debug = info = warning = error = critical = exception = log = msg


_writer: LineWriter | None = None


def access(**fields: object) -> None:
    """One request's line: `event`, `level` and `timestamp` are added as structlog would."""
    global _writer
    if _writer is None:
        _writer = LineWriter(sys.stdout.buffer)
    fields["event"] = "request"
    fields["level"] = "info"
    fields["timestamp"] = utc_timestamp()
    _writer.write(orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE))


def utc_timestamp() -> str:
    """Now in ISO 8601 with microseconds and `Z`, as structlog's TimeStamper writes it.
    The date and time to the second are formatted once per second."""
    global _second
    now = time.time()
    whole = int(now)
    if whole != _second[0]:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int((now - whole) * 1_000_000):06d}Z"


_second: tuple[int, str] = (-1, "")
"""The last second `utc_timestamp` formatted, and its text."""


def configure(level: int = logging.INFO, stream: BinaryIO | None = None) -> None:
    global _writer
    _writer = LineWriter(stream or sys.stdout.buffer)
    logger = LineLogger(_writer)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=lambda *_args: logger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)
