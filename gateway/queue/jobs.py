"""What the queue carries: jobs, the leases that hand them out, and dead letters.

A job's payload is JSON bytes made by the caller; the queue stores and returns them
untouched and never looks inside (they hold personal data).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from gateway.randomids import random_hex


class JobKind(StrEnum):
    CREATE_REQUEST = "create_request"
    POST_UPDATE = "post_update"


def new_job_id() -> str:
    """32 hex digits: the milliseconds since the epoch (12), then 80 random bits (20).

    Ids made later sort later, so a batch's new rows land at the end of the queue's and
    the store's indexes on the job id, not on as many pages as the batch has rows (each
    page rewritten whole into the WAL); the random bits keep a token unguessable. Usable
    as is in a URL path and as a CLI argument (never starting with '-', which argparse
    would take for an option)."""
    return f"{time.time_ns() // 1_000_000:012x}{random_hex(10)}"


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    jurisdiction_id: str
    kind: JobKind
    idempotency_key: str
    payload: bytes = field(repr=False)
    """Personal data: kept out of the repr, so a logged job never shows it."""
    attempt: int
    """Deliveries that failed so far: 0 for a new or replayed job."""
    enqueued_at: datetime
    not_before: datetime
    """The job is not handed out before this moment (a retry's backoff)."""
    last_error: str | None = None
    """Why the previous delivery failed, for the worker's logs; None before any failure."""
    reply_to: str | None = None
    """Where the outcome goes for the gateway instance that accepted the job and may be
    waiting for it (`Outcomes.address`); None when that instance hears it in-process."""

    def __post_init__(self) -> None:
        # Stored times are compared as UTC instants; a naive one would be silently wrong.
        if self.enqueued_at.tzinfo is None or self.not_before.tzinfo is None:
            raise ValueError("job times must be timezone-aware")

    @classmethod
    def create(
        cls,
        jurisdiction_id: str,
        kind: JobKind,
        idempotency_key: str,
        payload: bytes,
        *,
        now: datetime | None = None,
        reply_to: str | None = None,
    ) -> Job:
        """A new job, ready at once."""
        now = now or datetime.now(UTC)
        return cls(
            new_job_id(),
            jurisdiction_id,
            kind,
            idempotency_key,
            payload,
            0,
            now,
            now,
            reply_to=reply_to,
        )


@dataclass(frozen=True, slots=True)
class Lease:
    """A job handed out to one worker until `expires_at`.

    Settling a job takes the lease's `token`: once a lease has expired and the job was
    handed out again, the old token no longer settles it.
    """

    job: Job
    token: str
    expires_at: datetime
    redelivered: bool = False
    """The job was handed out before and that lease ended unsettled (its worker crashed
    or stalled): the backend may hold the record already."""
    admitted: bool = False
    """The job was queued under this lease by the transaction that admitted it (see
    `gateway.admission`): its key had no submission before, so nothing was delivered
    under it and the worker need not look it up."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    job: Job
    reason: str
    """The backend's reason for refusing the job: safe to log, free of personal data."""
    dead_at: datetime
