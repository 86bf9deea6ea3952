"""Queue URLs: the scheme picks the implementation, the rest says where it lives."""

from __future__ import annotations

from pathlib import Path

from yarl import URL

from gateway.queue.amqp import DEFAULT_PREFETCH, DEFAULT_PREFIX, AmqpQueue
from gateway.queue.base import JobQueue
from gateway.queue.embedded import EmbeddedQueue

SCHEMES = ("sqlite", "amqp", "amqps")
"""Supported schemes: `sqlite:///path/queue.db` is the embedded queue;
`amqp://user:password@host:5672/vhost` (or `amqps://` over TLS) is RabbitMQ."""

_AMQP_SCHEMES = ("amqp", "amqps")


def check_queue_url(url: str) -> str:
    """The URL itself when an implementation exists for it; ValueError naming the choices."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES:
        raise ValueError(
            f"unsupported queue URL scheme '{scheme}'; supported: {', '.join(SCHEMES)}"
        )
    if scheme in _AMQP_SCHEMES:
        if not URL(url).host:
            raise ValueError(f"a RabbitMQ queue URL names its broker: {scheme}://user@host/")
    elif not rest.startswith("/") or rest.strip("/") in ("", ":memory:"):
        raise ValueError("a sqlite queue URL names a file: sqlite:///path/to/queue.db")
    return url


def is_broker(url: str) -> bool:
    """Whether the URL names RabbitMQ (shared by several processes) rather than a file."""
    return url.partition("://")[0] in _AMQP_SCHEMES


def open_queue(
    url: str, *, prefetch: int = DEFAULT_PREFETCH, prefix: str = DEFAULT_PREFIX
) -> JobQueue:
    """The queue a URL names, not started yet; `prefetch` and `prefix` (of exchange and
    queue names) apply to RabbitMQ only."""
    check_queue_url(url)
    if is_broker(url):
        return AmqpQueue(url, name_prefix=prefix, prefetch=prefetch)
    return EmbeddedQueue(Path(url.partition(":///")[2]))


def queue_url_in_store(store_url: str) -> str | None:
    """The embedded queue in a SQLite store's own file, where a request's job and its
    acceptance commit together; None for any other store."""
    scheme, sep, file = store_url.partition(":///")
    if not sep or not scheme.startswith("sqlite") or file in ("", ":memory:"):
        return None
    return f"sqlite:///{file}"
