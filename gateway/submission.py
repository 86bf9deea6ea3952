"""A new request's way in: recognised if repeated, durably admitted, then answered.

A repeat (same key, or same content within the window) gets the first answer and
queues nothing. A new request is mapped once (a request the mapping refuses is a 400
now, not a dead letter later), admitted (queued durably and recorded, see
`gateway.admission`; or 503: never a 2xx for a request that is not stored), and then
waits at most the jurisdiction's `sync_wait` for its outcome: the backend's id, or a
token that resolves later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from gateway import idempotency
from gateway.admission import Admission
from gateway.idempotency import Identity
from gateway.mapping import MappingError
from gateway.open311.errors import Open311Error, bad_request, unavailable
from gateway.open311.models import NewServiceRequest, RequestReceipt, ServiceType
from gateway.outcomes import Outcome, Outcomes
from gateway.queue import Job, QueueUnavailable
from gateway.request_jobs import mapping_context, new_request_job
from gateway.store import Store, StoreUnavailable, Submission, SubmissionState
from gateway.tenants import Tenant

POLL_SECONDS = 0.05
"""How often a waiting POST reads the store when no worker can tell it in-process."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Submissions:
    def __init__(
        self,
        store: Store,
        admission: Admission,
        outcomes: Outcomes,
        *,
        poll_store: bool,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._store = store
        self._admission = admission
        self._outcomes = outcomes
        self._poll_store = poll_store
        """Whether the worker may be in another process that `outcomes` cannot hear."""
        self._clock = clock
        """Stamps acceptances, and ages them against the fingerprint window."""

    async def submit(
        self, tenant: Tenant, request: NewServiceRequest, identity: Identity, received_at: float
    ) -> RequestReceipt:
        """The answer to a validated request that arrived at `received_at` (loop time)."""
        service_type = tenant.catalogue.current().service(request.service_code).type
        realtime = service_type is not ServiceType.BATCH
        recognised = await self._recognise(tenant, identity)
        if isinstance(recognised, Submission):
            return _answer(recognised, realtime, request)
        job = new_request_job(
            tenant.id, request, recognised, reply_to=self._outcomes.address, now=self._clock()
        )
        try:
            tenant.mapping.create_payload(request, mapping_context(job))
        except MappingError as exc:
            # A repeat of a request accepted before the mapping changed keeps its answer.
            if (first := await self._first_under(tenant, recognised)) is not None:
                return _answer(first, realtime, request)
            raise bad_request(f"request cannot be mapped for the backend: {exc}") from None
        if not realtime:  # answered with its token once queued: nobody waits for it
            return _answer(await self._admit(job, identity, awaited=False), realtime, request)
        heard = self._outcomes.expect(job.id)
        try:
            stored = await self._admit(job, identity, awaited=True)
            if stored.job_id != job.id or stored.state is not SubmissionState.ACCEPTED:
                return _answer(stored, realtime, request)
            seconds = tenant.sync_wait - (asyncio.get_running_loop().time() - received_at)
            outcome = await self._wait(heard, job, seconds)
        finally:
            self._outcomes.forget(job.id)
        if outcome is None:
            return _receipt(job.id, None, None, realtime, request)
        return _receipt(job.id, outcome.service_request_id, outcome.error, realtime, request)

    async def _admit(self, job: Job, identity: Identity, *, awaited: bool) -> Submission:
        """The submission as stored (see `Admission.admit`); 503 when the job may not
        be durable."""
        accepted = Submission.accepting(job, identity.fingerprint)
        try:
            return await self._admission.admit(job, accepted, awaited=awaited)
        except QueueUnavailable as failure:
            raise unavailable(f"the request could not be queued: {failure}") from None
        except StoreUnavailable as failure:
            raise _cannot_check_repeats(failure) from None

    async def _recognise(self, tenant: Tenant, identity: Identity) -> Submission | str:
        """The key to queue the request under (admission tells whether it is a repeat);
        for a request without a key, the first submission when it is a repeat within the
        fingerprint window."""
        if identity.key is not None:
            return identity.key
        assert identity.fingerprint is not None
        try:
            latest = await self._store.latest_by_fingerprint(tenant.id, identity.fingerprint)
        except StoreUnavailable as failure:
            raise _cannot_check_repeats(failure) from None
        if latest is None:
            return idempotency.fingerprint_key(identity.fingerprint, None)
        if (self._clock() - latest.accepted_at).total_seconds() < tenant.fingerprint_window:
            return latest
        return idempotency.fingerprint_key(identity.fingerprint, latest.job_id)

    async def _first_under(self, tenant: Tenant, key: str) -> Submission | None:
        try:
            return await self._store.by_key(tenant.id, key)
        except StoreUnavailable as failure:
            raise _cannot_check_repeats(failure) from None

    async def _wait(
        self, heard: asyncio.Future[Outcome], job: Job, seconds: float
    ) -> Outcome | None:
        """The job's outcome if it comes within `seconds`, else None."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            await asyncio.wait(
                {heard}, timeout=min(left, POLL_SECONDS) if self._poll_store else left
            )
            if heard.done():
                return None if heard.cancelled() else heard.result()
            if self._poll_store and (settled := await self._settled(job)) is not None:
                return settled
        return None

    async def _settled(self, job: Job) -> Outcome | None:
        try:
            found = await self._store.submission(job.jurisdiction_id, job.id)
        except StoreUnavailable:
            return None  # the answer becomes a token, which resolves once the store is back
        if found is None or found.state is SubmissionState.ACCEPTED:
            return None
        return Outcome(job.id, job.jurisdiction_id, found.service_request_id, found.reason)


def _cannot_check_repeats(failure: StoreUnavailable) -> Open311Error:
    return unavailable(f"the gateway cannot check for repeats now: {failure}")


def _answer(stored: Submission, realtime: bool, request: NewServiceRequest) -> RequestReceipt:
    """The answer a stored submission gives: the first one's for a repeat."""
    return _receipt(stored.job_id, stored.service_request_id, stored.reason, realtime, request)


def _receipt(
    token: str,
    service_request_id: str | None,
    refusal: str | None,
    realtime: bool,
    request: NewServiceRequest,
) -> RequestReceipt:
    """The backend's id for a realtime service once it is known, else the token; a 400
    when the backend refused the request."""
    if refusal is not None:
        raise bad_request(f"the backend did not accept the request: {refusal}")
    if realtime and service_request_id is not None:
        return RequestReceipt(service_request_id=service_request_id, account_id=request.account_id)
    return RequestReceipt(token=token, account_id=request.account_id)
