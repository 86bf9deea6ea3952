"""Submissions in SQL: the steps the store runs, most of them grouped so that a batch of
callers shares one statement (see `gateway.groupcommit`).

Acceptance and outcomes may reach the store in either order: a worker in another
process can deliver a job before the gateway that queued it has recorded its
acceptance. Both writes therefore insert the row when it is missing and leave what
the other wrote: acceptance keeps a recorded outcome, an outcome fills in the row.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from connectors.sql.rows import RowsInsert, RowsUpdate
from gateway.queue.jobs import Job
from gateway.store.tables import submissions


class SubmissionState(StrEnum):
    ACCEPTED = "accepted"
    """Durably queued; the backend has not answered yet."""
    DELIVERED = "delivered"
    """The backend holds the record: `service_request_id` is its id."""
    DEAD = "dead"
    """Dead-lettered: `reason` is the backend's; an operator may replay it."""


@dataclass(frozen=True, slots=True)
class Submission:
    job_id: str
    """Also the token the client was given."""
    jurisdiction_id: str
    idempotency_key: str | None
    fingerprint: str | None
    state: SubmissionState
    accepted_at: datetime
    service_request_id: str | None = None
    reason: str | None = None
    """The backend's reason for refusing it: safe to show, free of personal data."""
    settled_at: datetime | None = None

    @property
    def token(self) -> str:
        return self.job_id

    @classmethod
    def accepting(cls, job: Job, fingerprint: str | None = None) -> Submission:
        """The acceptance of a job newly queued; `fingerprint` when the request came
        without a key."""
        return cls(
            job_id=job.id,
            jurisdiction_id=job.jurisdiction_id,
            idempotency_key=job.idempotency_key,
            fingerprint=fingerprint,
            state=SubmissionState.ACCEPTED,
            accepted_at=job.enqueued_at,
        )


@dataclass(frozen=True, slots=True)
class Settlement:
    """What a worker records for a job: delivered with an id, or dead with a reason."""

    job_id: str
    jurisdiction_id: str
    idempotency_key: str
    accepted_at: datetime
    service_request_id: str | None
    reason: str | None

    @property
    def state(self) -> SubmissionState:
        return SubmissionState.DEAD if self.reason is not None else SubmissionState.DELIVERED


Key = tuple[str, str]
"""(jurisdiction_id, idempotency_key or job id)"""


LOOKUP_WIDTH = 16
"""Values one lookup statement takes. A fixed number of parameters keeps the statement
the same whatever the batch: an expanding `IN` is rendered anew on every execution,
which cost about a tenth of a POST's CPU."""

_LOOKUP_VALUES = [f"value_{i}" for i in range(LOOKUP_WIDTH)]
_LOOKUPS = {
    name: select(submissions).where(
        submissions.c[name].in_([bindparam(value) for value in _LOOKUP_VALUES])
    )
    for name in ("idempotency_key", "job_id")
}


def by_key(connection: Connection, _now: datetime, keys: list[Key]) -> list[Submission | None]:
    found = _matching(connection, "idempotency_key", {key for _, key in keys})
    index = {(row.jurisdiction_id, row.idempotency_key): row for row in found}
    return [index.get(key) for key in keys]


def by_job(connection: Connection, _now: datetime, keys: list[Key]) -> list[Submission | None]:
    found = _matching(connection, "job_id", {job_id for _, job_id in keys})
    index = {(row.jurisdiction_id, row.job_id): row for row in found}
    return [index.get(key) for key in keys]


def _matching(connection: Connection, column: str, values: set[str]) -> list[Submission]:
    """Rows whose `column` is one of `values`, `LOOKUP_WIDTH` values per statement (the
    last chunk padded with a value it already holds)."""
    statement, ordered, found = _LOOKUPS[column], sorted(values), []
    for start in range(0, len(ordered), LOOKUP_WIDTH):
        chunk = ordered[start : start + LOOKUP_WIDTH]
        chunk += chunk[:1] * (LOOKUP_WIDTH - len(chunk))
        parameters = dict(zip(_LOOKUP_VALUES, chunk, strict=True))
        found.extend(_submission(row) for row in connection.execute(statement, parameters))
    return found


_LATEST_BY_FINGERPRINT = (
    select(submissions)
    .where(
        submissions.c.jurisdiction_id == bindparam("jurisdiction_id"),
        submissions.c.fingerprint == bindparam("fingerprint"),
    )
    .order_by(submissions.c.accepted_at.desc(), submissions.c.job_id.desc())
    .limit(1)
)
"""Built once: every POST without an idempotency key runs it."""


def latest_by_fingerprint(
    connection: Connection, _now: datetime, fingerprints: list[Key]
) -> list[Submission | None]:
    """The newest submission with each (jurisdiction, fingerprint), in any state."""
    latest = []
    for jurisdiction_id, fingerprint in fingerprints:
        parameters = {"jurisdiction_id": jurisdiction_id, "fingerprint": fingerprint}
        row = connection.execute(_LATEST_BY_FINGERPRINT, parameters).first()
        latest.append(None if row is None else _submission(row))
    return latest


def accept(connection: Connection, _now: datetime, accepted: list[Submission]) -> list[Submission]:
    """Each submission as stored: itself when new; else the row already there under its
    job id (its outcome came first) or under its key (a concurrent twin: its answer)."""
    statement = _insert(connection).on_conflict_do_nothing().returning(submissions.c.job_id)
    inserted = set(connection.execute(statement, [_row(s) for s in accepted]).scalars())
    stored = []
    for submission in accepted:
        if submission.job_id in inserted:
            stored.append(submission)
            continue
        (own,) = by_job(connection, _now, [(submission.jurisdiction_id, submission.job_id)])
        if own is not None:
            stored.append(_with_fingerprint(connection, own, submission.fingerprint))
            continue
        key = (submission.jurisdiction_id, submission.idempotency_key or "")
        (twin,) = by_key(connection, _now, [key])
        if twin is None:
            raise RuntimeError("a submission neither inserted nor found")  # a bug, not data
        stored.append(twin)
    return stored


_RECORD_UNLESS_KNOWN = RowsInsert(
    submissions,
    ("job_id", "jurisdiction_id", "idempotency_key", "fingerprint", "state", "accepted_at"),
    skip_conflicts_on=("idempotency_key", "jurisdiction_id"),
)


def record_unless_known(connection: Connection, accepted: list[Submission]) -> set[str]:
    """The job ids of the acceptances recorded: those whose key was not stored yet (nor
    taken by an earlier one of `accepted`), in one multi-row INSERT that skips the rest.
    New job ids are the caller's to guarantee: a stored one fails the INSERT. The rows
    that went in are counted, not returned (see `RowsInsert.inserted`); only when some
    were skipped, as repeats, are the recorded ones looked up."""
    inserted = _RECORD_UNLESS_KNOWN.inserted(
        connection,
        [
            (
                submission.job_id,
                submission.jurisdiction_id,
                submission.idempotency_key,
                submission.fingerprint,
                submission.state.value,
                submission.accepted_at,
            )
            for submission in accepted
        ],
    )
    job_ids = {submission.job_id for submission in accepted}
    if inserted == len(accepted):
        return job_ids
    return {stored.job_id for stored in _matching(connection, "job_id", job_ids)}


_SETTLE_OWN = update(submissions).where(submissions.c.job_id == bindparam("settled_job_id"))
_SETTLE_OWN_ROWS = RowsUpdate(
    submissions, ("job_id", "state", "service_request_id", "reason", "settled_at")
)


def settle(connection: Connection, now: datetime, settlements: list[Settlement]) -> list[None]:
    """Outcomes of jobs whose acceptance is stored go in with one UPDATE; the others
    (accepted by a twin, or not recorded yet) one by one. A job settled twice in the
    batch keeps its last outcome."""
    last = list({settlement.job_id: settlement for settlement in settlements}.values())
    if connection.dialect.name == "sqlite":
        rows = [(s.job_id, s.state.value, s.service_request_id, s.reason, now) for s in last]
        stored = set(_SETTLE_OWN_ROWS.execute(connection, rows))
    else:
        stored = _settle_stored(connection, now, last)
    for settlement in last:
        if settlement.job_id not in stored:
            _settle_elsewhere(connection, now, settlement)
    return [None] * len(settlements)


def _settle_stored(
    connection: Connection, now: datetime, settlements: list[Settlement]
) -> set[str]:
    """The job ids among `settlements` whose acceptance is stored, their outcomes set."""
    wanted = {settlement.job_id for settlement in settlements}
    stored = set(
        connection.execute(
            select(submissions.c.job_id).where(submissions.c.job_id.in_(wanted))
        ).scalars()
    )
    own = [
        {"settled_job_id": settlement.job_id, **_outcome(settlement, now)}
        for settlement in settlements
        if settlement.job_id in stored
    ]
    if own:
        connection.execute(_SETTLE_OWN, own)
    return stored


def _outcome(settlement: Settlement, now: datetime) -> dict[str, Any]:
    return {
        "state": settlement.state.value,
        "service_request_id": settlement.service_request_id,
        "reason": settlement.reason,
        "settled_at": now,
    }


def _settle_elsewhere(connection: Connection, now: datetime, settlement: Settlement) -> None:
    outcome = _outcome(settlement, now)
    own = submissions.c.job_id == settlement.job_id
    if settlement.state is SubmissionState.DELIVERED:
        # A twin accepted under the same key: the record this job found or made is its.
        twin = update(submissions).where(
            submissions.c.jurisdiction_id == settlement.jurisdiction_id,
            submissions.c.idempotency_key == settlement.idempotency_key,
            submissions.c.state != SubmissionState.DELIVERED.value,
        )
        if connection.execute(twin.values(outcome)).rowcount:
            return
    row = {
        "job_id": settlement.job_id,
        "jurisdiction_id": settlement.jurisdiction_id,
        "idempotency_key": settlement.idempotency_key,
        "fingerprint": None,
        "accepted_at": settlement.accepted_at,
        **outcome,
    }
    statement = _insert(connection).on_conflict_do_nothing()
    if not connection.execute(statement, row).rowcount:
        # Its acceptance was committed meanwhile (or the key is a delivered twin's).
        connection.execute(update(submissions).where(own).values(outcome))


def dead(connection: Connection, *, limit: int, offset: int) -> list[Submission]:
    query = (
        select(submissions)
        .where(
            submissions.c.state == SubmissionState.DEAD.value,
            submissions.c.settled_at.is_not(None),  # always true; lets the partial index serve
        )
        .order_by(submissions.c.settled_at.desc(), submissions.c.job_id)
        .limit(limit)
        .offset(offset)
    )
    return [_submission(row) for row in connection.execute(query)]


def _with_fingerprint(
    connection: Connection, stored: Submission, fingerprint: str | None
) -> Submission:
    """A row its worker wrote first does not know the request's fingerprint: add it."""
    if fingerprint is None or stored.fingerprint is not None:
        return stored
    statement = update(submissions).where(submissions.c.job_id == stored.job_id)
    connection.execute(statement.values(fingerprint=fingerprint))
    return replace(stored, fingerprint=fingerprint)


def _insert(connection: Connection) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can skip conflicting rows, on either database."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(submissions)
    return sqlite.insert(submissions)


def _row(submission: Submission) -> dict[str, Any]:
    row = {field.name: getattr(submission, field.name) for field in fields(Submission)}
    row["state"] = submission.state.value
    return row


def _submission(row: Row[Any]) -> Submission:
    values = row._mapping  # `row.job_id` would first fail a lookup on the class: an exception
    return Submission(
        job_id=values["job_id"],
        jurisdiction_id=values["jurisdiction_id"],
        idempotency_key=values["idempotency_key"],
        fingerprint=values["fingerprint"],
        state=SubmissionState(values["state"]),
        accepted_at=values["accepted_at"],
        service_request_id=values["service_request_id"],
        reason=values["reason"],
        settled_at=values["settled_at"],
    )
