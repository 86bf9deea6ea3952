"""The worker: takes jobs from the queue and delivers each to its jurisdiction's backend.

Every backend call goes through the tenant's `Backend` (its limits, circuit breaker and
timeout). A delivery ends in one of three ways:

- delivered: the outcome is stored, announced to a waiting POST, then the job leaves
  the queue (stored first, so a crash in between repeats nothing but the removal);
- retried later with capped, jittered backoff: a transient failure (timeout, 5xx,
  the breaker open, no turn in time, the store unreachable);
- dead-lettered with the backend's reason: a refusal, or too many failures.

A job whose key the store already knows as delivered only leaves the queue. A job that
may have reached the backend before (a redelivery after a crash, a retry, a replay, a
twin accepted under the same key) is first looked up by its key, so it is not created
twice. A job handed over by the admission that queued it (`reserve`, `hand_over`) needs
neither check: its key was new.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from pydantic import ValidationError

from connectors.base import Capability, ConnectorError, TransientError
from gateway.logs import get_logger
from gateway.mapping import MappingError
from gateway.metrics import Metrics
from gateway.outcomes import Outcome, Outcomes
from gateway.queue import Backoff, Job, JobKind, JobQueue, Lease, QueueUnavailable
from gateway.randomids import random_hex
from gateway.request_jobs import mapping_context, request_of
from gateway.store import Store, StoreUnavailable, SubmissionState
from gateway.tenants import Tenant, TenantRegistry

log = get_logger(__name__)

SHUTDOWN_GRACE_SECONDS = 10.0
"""On close, how long deliveries in flight may take to finish; the rest are cancelled
and their jobs handed out again once their leases expire."""


class Refused(Exception):
    """The job cannot be delivered as it is: it goes to the dead letters at once."""


@dataclass(frozen=True, slots=True)
class Delivered:
    service_request_id: str
    how: str
    """"created", or "found" when the backend or the store had the record already."""


class Worker:
    """One start and one close."""

    def __init__(
        self,
        queue: JobQueue,
        store: Store,
        tenants: TenantRegistry,
        outcomes: Outcomes,
        metrics: Metrics,
        *,
        concurrency: int,
        lease_seconds: float,
        poll_seconds: float,
        backoff: Backoff,
        rng: random.Random | None = None,
    ) -> None:
        self._queue = queue
        self._store = store
        self._tenants = tenants
        self._outcomes = outcomes
        self._metrics = metrics
        self._concurrency = concurrency
        self._lease_seconds = lease_seconds
        self._poll_seconds = poll_seconds
        self._backoff = backoff
        self._rng = rng or random.Random()
        self._deliveries: set[asyncio.Task[None]] = set()
        """Every delivery still running, for `close`."""
        self._busy: set[tuple[str, str]] = set()
        """The (job id, lease token) of each delivery that holds a slot: until its
        outcome is settled, not while its job then leaves the queue."""
        self._reserved = 0
        """Slots held for jobs being admitted under their lease (`reserve`). A lease in
        flight does not hold its slots: jobs reserved meanwhile may take the deliveries
        past `concurrency` for a moment (the backend's own limits still apply), where
        holding them would turn away the jobs of every admission while it runs."""
        self._slot_freed = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="worker")

    async def close(self) -> None:
        """Stop taking jobs, let those in flight finish for a while, cancel the rest."""
        self._stopping = True
        self._slot_freed.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._deliveries:
            _, unfinished = await asyncio.wait(self._deliveries, timeout=SHUTDOWN_GRACE_SECONDS)
            for delivery in unfinished:
                delivery.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)

    def reserve(self, job: Job) -> Lease | None:
        """A lease for a job about to be admitted, on a slot held for it until
        `hand_over` or `release`; None when every slot is taken, or while closing."""
        if self._task is None or self._stopping or self._free() <= 0:
            return None
        self._reserved += 1
        expires_at = job.enqueued_at + timedelta(seconds=self._lease_seconds)
        return Lease(job, random_hex(12), expires_at, admitted=True)

    def hand_over(self, lease: Lease) -> None:
        """Deliver a reserved lease's job, now queued under it. While closing, the job
        waits for its lease to expire, as any job a stopped worker held."""
        self._reserved -= 1
        if self._stopping:
            self._slot_freed.set()
            return
        self._start(lease)

    def release(self, lease: Lease) -> None:
        self._reserved -= 1
        self._slot_freed.set()

    def _free(self) -> int:
        return self._concurrency - len(self._busy) - self._reserved

    async def _run(self) -> None:
        while not self._stopping:
            free = self._free()
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            try:
                leases = await self._queue.lease(free, self._lease_seconds)
            except QueueUnavailable as failure:
                log.warning("worker_lease_failed", reason=str(failure))
                await asyncio.sleep(self._poll_seconds)
                continue
            except Exception:  # the loop must outlive a bug, or nothing is delivered again
                log.exception("worker_lease_failed")
                await asyncio.sleep(self._poll_seconds)
                continue
            if not leases:
                await self._queue.wait_for_work(self._poll_seconds)
                continue
            for lease in leases:
                self._start(lease)

    def _start(self, lease: Lease) -> None:
        self._busy.add((lease.job.id, lease.token))
        delivery = asyncio.create_task(self._deliver(lease), name="delivery")
        self._deliveries.add(delivery)
        delivery.add_done_callback(partial(self._delivery_done, lease))

    def _delivery_done(self, lease: Lease, delivery: asyncio.Task[None]) -> None:
        self._deliveries.discard(delivery)
        self._free_slot(lease)

    def _free_slot(self, lease: Lease) -> None:
        """The backend is done with the delivery: another may start (once per lease)."""
        if (lease.job.id, lease.token) in self._busy:
            self._busy.discard((lease.job.id, lease.token))
            self._slot_freed.set()

    async def _deliver(self, lease: Lease) -> None:
        jurisdiction_id = lease.job.jurisdiction_id
        self._metrics.delivery_started(jurisdiction_id)
        ended = "cancelled"
        try:
            ended = await self._deliver_once(lease)
        except Exception:  # a bug while settling: the job comes back when its lease expires
            log.exception("settling_failed", job_id=lease.job.id, jurisdiction=jurisdiction_id)
            ended = "failed"
        finally:
            self._metrics.delivery_ended(jurisdiction_id, ended)

    async def _deliver_once(self, lease: Lease) -> str:
        """Attempt the delivery and settle the job; how it ended, for the metrics."""
        try:
            delivered = await self._attempt(lease)
        except (Refused, ConnectorError, MappingError, ValidationError) as exc:
            return await self._failed(lease, exc)
        except StoreUnavailable as failure:
            return await self._retry(lease, str(failure))
        except Exception as bug:  # a bug must not lose the job: it is retried, then dead
            log.exception(
                "delivery_failed", job_id=lease.job.id, jurisdiction=lease.job.jurisdiction_id
            )
            return await self._retry(lease, f"internal error: {type(bug).__name__}")
        return await self._delivered(lease, delivered)

    async def _attempt(self, lease: Lease) -> Delivered:
        job = lease.job
        tenant = self._tenant(job.jurisdiction_id)
        if job.kind is not JobKind.CREATE_REQUEST:
            raise Refused(f"this worker does not deliver {job.kind} jobs")
        first = None
        if not lease.admitted:
            first = await self._store.by_key(job.jurisdiction_id, job.idempotency_key)
        if first is not None and first.state is SubmissionState.DELIVERED:
            assert first.service_request_id is not None
            return Delivered(first.service_request_id, "found")
        tried_before = lease.redelivered or job.attempt > 0
        if first is not None:  # a twin's, or dead and now replayed
            tried_before |= first.job_id != job.id or first.state is SubmissionState.DEAD
        connector, backend = tenant.connector, tenant.backend
        if tried_before and connector.supports(Capability.FIND_BY_REFERENCE):
            record = await backend.call(connector.find_by_reference, job.idempotency_key)
            if record is not None:
                return Delivered(tenant.mapping.service_request_id(record), "found")
        payload = tenant.mapping.create_payload(request_of(job), mapping_context(job))
        record = await backend.call(connector.create, payload, job.idempotency_key)
        return Delivered(tenant.mapping.service_request_id(record), "created")

    def _tenant(self, jurisdiction_id: str) -> Tenant:
        """The job's tenant; a transient failure while its connector cannot run here."""
        if jurisdiction_id in self._tenants.broken:
            raise TransientError(self._tenants.broken[jurisdiction_id])
        tenant = self._tenants.get(jurisdiction_id)
        if tenant is None:
            raise Refused(f"jurisdiction {jurisdiction_id} is not configured on this worker")
        if tenant.starter.problem is not None:
            raise TransientError(f"the connector has not started: {tenant.starter.problem}")
        return tenant

    async def _delivered(self, lease: Lease, delivered: Delivered) -> str:
        job = lease.job
        outcome = Outcome(job.id, job.jurisdiction_id, delivered.service_request_id, None)
        try:
            await self._store.settle(job, outcome)
        except StoreUnavailable as failure:
            return await self._retry(lease, f"the outcome could not be stored: {failure}")
        await self._outcomes.announce(job, outcome)
        await self._settle(lease, "complete", self._queue.complete(job.id, lease.token))
        return delivered.how

    async def _failed(self, lease: Lease, exc: Exception) -> str:
        if isinstance(exc, TransientError):
            return await self._retry(lease, exc.reason)
        if isinstance(exc, ConnectorError):
            return await self._dead(lease, exc.reason)
        if isinstance(exc, MappingError):
            return await self._dead(lease, f"the mapping failed: {exc}")
        if isinstance(exc, ValidationError):
            return await self._dead(lease, "the job's payload is not a valid request")
        return await self._dead(lease, str(exc))

    async def _retry(self, lease: Lease, reason: str) -> str:
        job = lease.job
        delay = self._backoff.delay(job.attempt, self._rng)
        if delay is None:
            return await self._dead(lease, f"gave up after {job.attempt + 1} deliveries: {reason}")
        log.info(
            "delivery_retried",
            job_id=job.id,
            jurisdiction=job.jurisdiction_id,
            attempt=job.attempt,
            delay_s=round(delay, 3),
            reason=reason,
        )
        await self._settle(lease, "retry", self._queue.retry(job.id, lease.token, delay, reason))
        return "retried"

    async def _dead(self, lease: Lease, reason: str) -> str:
        """Dead-lettered with the reason, stored as dead and announced: a waiting POST
        answers 400 with it, and an operator may replay the job."""
        job = lease.job
        outcome = Outcome(job.id, job.jurisdiction_id, None, reason)
        try:
            await self._store.settle(job, outcome)
        except StoreUnavailable as failure:  # the dead letter below keeps the reason
            log.warning("dead_letter_not_stored", job_id=job.id, reason=str(failure))
        await self._outcomes.announce(job, outcome)
        log.warning(
            "job_dead_lettered", job_id=job.id, jurisdiction=job.jurisdiction_id, reason=reason
        )
        await self._settle(
            lease, "dead_letter", self._queue.dead_letter(job.id, lease.token, reason)
        )
        return "dead"

    async def _settle(self, lease: Lease, action: str, settling: Awaitable[bool]) -> None:
        """A settle that did not apply was superseded (the lease expired and the job was
        handed out again); one that failed leaves the job to come back when it expires.
        The slot is free meanwhile: the backend is done with the job (and an outcome is
        stored and announced), so a waiting client's next request may take the slot."""
        self._free_slot(lease)
        try:
            applied = await settling
        except QueueUnavailable as failure:
            log.warning("settle_failed", job_id=lease.job.id, action=action, reason=str(failure))
            return
        if not applied:
            log.info("settle_superseded", job_id=lease.job.id, action=action)
