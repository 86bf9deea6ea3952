"""Jobs as AMQP messages: the payload is the body, untouched; the job's other fields
travel in headers, so the broker, the CLI and an operator's tools see them without
ever parsing the body (it holds personal data).

The fields share one header, `open311-job`, as a JSON object: a table of eight
entries costs the client and the broker enough to take about a fifth off the
confirmed publish rate at 64 publishers (tests/bench/bench_amqp.py), one entry does not.

Messages are persistent: aio-pika's default delivery mode is not, and a transient
message in a quorum queue is still lost with the node's memory on a full restart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from aio_pika import DeliveryMode, Message
from aio_pika.abc import AbstractMessage

from gateway.queue.jobs import DeadLetter, Job, JobKind

JOB_HEADER = "open311-job"
_DEAD_REASON = "dead_reason"
_DEAD_AT = "dead_at"


def job_message(
    job: Job, dead_reason: str | None = None, dead_at: datetime | None = None
) -> Message:
    """A job as a persistent message; a dead letter also carries why and when it died."""
    fields = {
        "jurisdiction_id": job.jurisdiction_id,
        "kind": job.kind.value,
        "idempotency_key": job.idempotency_key,
        "attempt": job.attempt,
        "enqueued_at": job.enqueued_at,
        "not_before": job.not_before,
        "last_error": job.last_error,
        "reply_to": job.reply_to,
    }
    headers: dict[str, Any] = {JOB_HEADER: orjson.dumps(fields).decode()}
    if dead_reason is not None and dead_at is not None:
        headers[_DEAD_REASON] = dead_reason
        headers[_DEAD_AT] = dead_at.isoformat()
    return Message(
        job.payload,
        message_id=job.id,
        headers=headers,
        content_type="application/json",
        delivery_mode=DeliveryMode.PERSISTENT,
    )


def job_of(message: AbstractMessage) -> Job:
    """The job a message carries; ValueError when it is not one of ours."""
    try:
        fields = orjson.loads(_text(message.headers[JOB_HEADER]))
        return Job(
            id=_text(message.message_id),
            jurisdiction_id=_text(fields["jurisdiction_id"]),
            kind=JobKind(fields["kind"]),
            idempotency_key=_text(fields["idempotency_key"]),
            payload=message.body,
            attempt=int(fields["attempt"]),
            enqueued_at=_instant(fields["enqueued_at"]),
            not_before=_instant(fields["not_before"]),
            last_error=_optional_text(fields["last_error"]),
            reply_to=_optional_text(fields["reply_to"]),
        )
    except (KeyError, TypeError) as missing:
        raise ValueError(f"not a job message: {missing!r}") from None


def dead_letter_of(message: AbstractMessage) -> DeadLetter:
    """A message in the dead-letter queue. One the broker moved there itself (past the
    work queue's delivery limit) has no reason of ours: the broker's is given instead."""
    job = job_of(message)
    headers = message.headers
    reason = _optional_text(headers.get(_DEAD_REASON))
    dead_at = headers.get(_DEAD_AT)
    if reason is not None and dead_at is not None:
        return DeadLetter(job, reason, _instant(dead_at))
    death = _latest_death(headers)
    broker_reason = _optional_text(death.get("reason")) or "unknown"
    when = death.get("time")
    return DeadLetter(
        job,
        f"dead-lettered by the broker: {broker_reason}",
        when.astimezone(UTC) if isinstance(when, datetime) else job.enqueued_at,
    )


def _latest_death(headers: dict[str, Any]) -> dict[str, Any]:
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        return deaths[0]  # the broker lists the most recent death first
    return {}


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode()
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _instant(value: object) -> datetime:
    try:
        return datetime.fromisoformat(_text(value))
    except ValueError:
        raise TypeError("expected an ISO 8601 time") from None
