"""Structured logs: one JSON object per line on stdout, never personal data.

Rendered with orjson straight to bytes: the access line is on every request's path.

Callers log identifiers of routes and jurisdictions, statuses and timings; request
bodies, query strings, contact fields and API keys are never passed to a logger.
"""

from __future__ import annotations

import logging
import sys

import orjson
import structlog


def configure(level: int = logging.INFO) -> None:
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.BytesLoggerFactory(sys.stdout.buffer),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)
