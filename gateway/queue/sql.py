"""The embedded queue's operations in SQL: steps run on the database thread, each inside
the shared transaction of its batch (see `gateway.groupcommit`), given the batch's `now`.

Every transaction starts with `BEGIN IMMEDIATE`, so a lease's SELECT and UPDATE see
and change the same rows even when another process (a worker, the CLI) uses the file.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    CursorResult,
    Row,
    RowMapping,
    Select,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)

from connectors.sql.rows import RowsDelete, RowsInsert
from gateway.queue.jobs import DeadLetter, Job, JobKind, Lease
from gateway.queue.schema import JOB_COLUMNS, UtcMicros, dead_letters, jobs

_INSERT_JOBS = RowsInsert(
    jobs, (*JOB_COLUMNS, "last_error", "visible_at", "lease_token", "reply_to"), prefix="OR IGNORE"
)
"""Enqueueing a job whose id is already queued is a no-op, not a failed batch."""
_DELETE_LEASED = RowsDelete(jobs, ("id", "lease_token"))


def _ready(*columns: Any) -> Select[Any]:
    """The `limit` jobs that have waited longest since they became visible, oldest first."""
    return (
        select(*columns)
        .where(jobs.c.visible_at <= bindparam("now"))
        .order_by(jobs.c.visible_at, jobs.c.seq)
        .limit(bindparam("limit"))
    )


_READY = _ready(jobs)
_TAKE = (
    update(jobs)
    .where(jobs.c.seq.in_(_ready(jobs.c.seq).scalar_subquery()))
    .values(visible_at=bindparam("expires_at"), lease_token=bindparam("token"))
)
"""Leases the same rows `_READY` returned: both run in one `BEGIN IMMEDIATE` transaction."""


def job_row(job: Job, lease: Lease | None = None) -> tuple[Any, ...]:
    """The job as `insert_jobs` takes it (the columns of `_INSERT_JOBS`, in order):
    visible once it may run, and not leased; or already under `lease`, hidden until the
    lease expires, as `lease` would leave it."""
    return (
        job.id,
        job.jurisdiction_id,
        job.kind.value,
        job.idempotency_key,
        job.payload,
        job.attempt,
        job.enqueued_at,
        job.not_before,
        job.last_error,
        job.not_before if lease is None else lease.expires_at,
        None if lease is None else lease.token,
        job.reply_to,
    )


def insert_jobs(connection: Connection, _now: datetime, rows: list[tuple[Any, ...]]) -> list[None]:
    """Every job enqueued in the batch, in one multi-row INSERT."""
    _INSERT_JOBS.execute(connection, rows)
    return [None] * len(rows)


def lease(
    connection: Connection, now: datetime, *, limit: int, seconds: float, token: str
) -> list[Lease]:
    selection = {"now": now, "limit": limit}
    rows = connection.execute(_READY, selection).all()
    if not rows:
        return []
    expires_at = now + timedelta(seconds=seconds)
    connection.execute(_TAKE, {**selection, "expires_at": expires_at, "token": token})
    leases = []
    for row in rows:
        values = row._mapping
        job = _job(values, last_error=values["last_error"], reply_to=values["reply_to"])
        leases.append(Lease(job, token, expires_at, redelivered=values["lease_token"] is not None))
    return leases


def complete(connection: Connection, _now: datetime, settled: list[tuple[str, str]]) -> list[bool]:
    """Every (job id, lease token) completed in the batch, by one DELETE that returns
    the leases it found; the same lease settled twice applies once."""
    removed = set(_DELETE_LEASED.execute(connection, list(dict.fromkeys(settled))))
    done = []
    for lease in settled:
        done.append(lease in removed)
        removed.discard(lease)
    return done


def retry(
    connection: Connection, now: datetime, *, job_id: str, token: str, delay: float, reason: str
) -> bool:
    ready_at = now + timedelta(seconds=delay)
    statement = (
        update(jobs)
        .where(*_leased(job_id, token))
        .values(
            attempt=jobs.c.attempt + 1,
            not_before=ready_at,
            visible_at=ready_at,
            lease_token=None,
            last_error=reason,
        )
    )
    return _applied(connection.execute(statement))


def move_to_dead_letters(
    connection: Connection, now: datetime, *, job_id: str, token: str, reason: str
) -> bool:
    moved = insert(dead_letters).from_select(
        [*JOB_COLUMNS, "reason", "dead_at"],
        select(
            *(jobs.c[name] for name in JOB_COLUMNS),
            literal(reason),
            literal(now, UtcMicros),
        ).where(*_leased(job_id, token)),
    )
    if not _applied(connection.execute(moved)):
        return False
    connection.execute(delete(jobs).where(jobs.c.id == job_id))
    return True


def replay(connection: Connection, now: datetime, *, job_id: str) -> bool:
    """A dead letter back among the jobs, ready now, as if never delivered."""
    fresh = {"attempt": literal(0), "not_before": literal(now, UtcMicros)}
    moved = insert(jobs).from_select(
        [*JOB_COLUMNS, "visible_at"],
        select(
            *(fresh.get(name, dead_letters.c[name]) for name in JOB_COLUMNS),
            literal(now, UtcMicros),
        ).where(dead_letters.c.id == job_id),
    )
    if not _applied(connection.execute(moved)):
        return False
    connection.execute(delete(dead_letters).where(dead_letters.c.id == job_id))
    return True


def discard(connection: Connection, _now: datetime, *, job_id: str) -> bool:
    return _applied(connection.execute(delete(dead_letters).where(dead_letters.c.id == job_id)))


def ping(connection: Connection, _now: datetime) -> None:
    """Nothing read: the transaction around it takes the write lock, as an enqueue would."""
    connection.exec_driver_sql("SELECT 1")


def depth(connection: Connection, _now: datetime) -> int:
    return connection.execute(select(func.count()).select_from(jobs)).scalar_one()


def list_dead_letters(
    connection: Connection, _now: datetime, *, limit: int, offset: int
) -> list[DeadLetter]:
    query = (
        select(dead_letters)
        .order_by(dead_letters.c.dead_at.desc(), dead_letters.c.id)
        .limit(limit)
        .offset(offset)
    )
    return [_dead_letter(row) for row in connection.execute(query)]


def dead_letter_of(connection: Connection, _now: datetime, *, job_id: str) -> DeadLetter | None:
    row = connection.execute(select(dead_letters).where(dead_letters.c.id == job_id)).first()
    return None if row is None else _dead_letter(row)


def _leased(job_id: str, token: str) -> tuple[Any, ...]:
    return (jobs.c.id == job_id, jobs.c.lease_token == token)


def _applied(result: CursorResult[Any]) -> bool:
    return bool(result.rowcount)


def _job(values: RowMapping, *, last_error: str | None = None, reply_to: str | None = None) -> Job:
    """A job from its row's mapping: `row.id` would first fail a lookup on the class, an
    exception for every column read."""
    return Job(
        id=values["id"],
        jurisdiction_id=values["jurisdiction_id"],
        kind=JobKind(values["kind"]),
        idempotency_key=values["idempotency_key"],
        payload=values["payload"],
        attempt=values["attempt"],
        enqueued_at=values["enqueued_at"],
        not_before=values["not_before"],
        last_error=last_error,
        reply_to=reply_to,
    )


def _dead_letter(row: Row[Any]) -> DeadLetter:
    values = row._mapping
    return DeadLetter(_job(values), values["reason"], values["dead_at"])
