"""The checks of the conformance kit: the common contract of `connectors.base`.

Subclass `ConnectorConformance` in a test module that enables the plugin
(`pytest_plugins = ["connectors.testing.plugin"]`) and give the subclass a fixture
`connector_under_test`. Each test is one check; a check the connector or its
description cannot take part in is skipped with the reason, never passed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.base import (
    Capability,
    NotFoundError,
    PermanentError,
    TransientError,
    UnsupportedError,
)
from connectors.testing.described import OPERATIONS
from connectors.testing.harness import Kit, ids, inner_window, new_key, unknown_ids
from gateway.open311.models import RequestQuery, RequestStatus, RequestUpdate, UpdateStatus

PERSONAL_FIELDS = ("email", "phone", "first_name", "last_name", "device_id", "account_id")

RESULTS = {
    Capability.CREATE: (lambda result: isinstance(result, dict), "a record"),
    Capability.FIND_BY_REFERENCE: (
        lambda result: result is None or isinstance(result, dict),
        "a record or None",
    ),
    Capability.POST_UPDATE: (lambda result: isinstance(result, dict), "a record"),
}
"""What a declared operation returns, where it is not a list of records."""


def _by_content(changes: list[RequestUpdate]) -> dict[tuple[object, ...], RequestUpdate]:
    """Changes by what they say, without their ids; changes that say the same are left out."""
    found: dict[tuple[object, ...], list[RequestUpdate]] = {}
    for change in changes:
        content = tuple(change.model_dump(exclude={"update_id"}).values())
        found.setdefault(content, []).append(change)
    return {content: alike[0] for content, alike in found.items() if len(alike) == 1}


def _is_records(result: object) -> bool:
    return isinstance(result, list) and all(isinstance(item, dict) for item in result)


class ConnectorConformance:
    """The checks; a subclass named `Test...` with a `connector_under_test` fixture runs them."""

    pytestmark = pytest.mark.asyncio

    # -- health and create

    async def test_health_passes_on_a_live_backend(self, connector_kit: Kit) -> None:
        await connector_kit.call(connector_kit.connector.health(), "health")

    async def test_create_returns_a_record_that_maps_to_the_request(
        self, connector_kit: Kit
    ) -> None:
        connector_kit.require(Capability.CREATE)
        for sample in connector_kit.requests:
            created = await connector_kit.create(sample)
            assert created.id, "the record create returned has no service_request_id"
            assert created.request.service_code == sample.service_code, (
                f"a request to {sample.service_code} was created, and the record create "
                f"returned reads back as {created.request.service_code}"
            )

    async def test_each_create_makes_a_record_of_its_own(self, connector_kit: Kit) -> None:
        connector_kit.require(Capability.CREATE)
        created = [await connector_kit.create() for _ in range(3)]
        assert len({record.id for record in created}) == 3, (
            f"three creates with three idempotency keys gave ids {[r.id for r in created]}"
        )

    # -- find_by_reference

    async def test_find_by_reference_finds_the_record_created_with_the_key(
        self, connector_kit: Kit
    ) -> None:
        connector_kit.require(Capability.CREATE, Capability.FIND_BY_REFERENCE)
        created = [await connector_kit.create() for _ in range(2)]
        for record in created:
            found = await connector_kit.find_by_reference(record.key)
            assert found is not None, "find_by_reference found nothing for a key create wrote"
            assert found.service_request_id == record.id, (
                f"find_by_reference found {found.service_request_id} for the key of {record.id}"
            )

    async def test_find_by_reference_of_an_unknown_key_is_none(self, connector_kit: Kit) -> None:
        connector_kit.require(Capability.FIND_BY_REFERENCE)
        await connector_kit.existing()
        found = await connector_kit.find_by_reference(new_key())
        assert found is None, f"find_by_reference of an unknown key found {found}"

    # -- get

    async def test_get_returns_the_records_asked_for_and_leaves_out_unknown_ids(
        self, connector_kit: Kit
    ) -> None:
        connector_kit.require(Capability.CREATE, Capability.GET)
        first, _, third = [await connector_kit.create() for _ in range(3)]
        missing = unknown_ids([first.id, third.id])
        found = await connector_kit.get([first.id, *missing, third.id])
        assert ids(found) == sorted([first.id, third.id]), (
            f"get of {first.id}, {third.id} and unknown {', '.join(missing)} found {ids(found)}"
        )
        by_id = {request.service_request_id: request for request in found}
        for record in (first, third):
            assert by_id[record.id] == record.request, (
                f"get returned {record.id} other than create did:\n"
                f"get:    {by_id[record.id]!r}\ncreate: {record.request!r}"
            )

    async def test_get_of_unknown_ids_is_empty(self, connector_kit: Kit) -> None:
        connector_kit.require(Capability.GET)
        existing = await connector_kit.existing()
        missing = unknown_ids([existing.id] if existing else [])
        found = await connector_kit.get(missing)
        assert found == [], f"get of unknown ids {', '.join(missing)} found {ids(found)}"

    # -- search, through the mapping's backend_query

    async def test_search_without_filters_finds_every_record(self, connector_kit: Kit) -> None:
        await connector_kit.seeded_requests()

    async def test_search_by_ids_overrides_every_other_filter(self, connector_kit: Kit) -> None:
        everything = await connector_kit.seeded_requests()
        asked = [everything[0], everything[-1]]
        asked_statuses = {request.status for request in asked}
        missing = unknown_ids(ids(everything))
        newest = max(request.requested_datetime for request in everything)
        query = RequestQuery(  # other filters that each leave out the records asked for
            service_request_ids=(*ids(asked), *missing),
            service_codes=tuple(
                sorted({r.service_code for r in everything} - {r.service_code for r in asked})
            ),
            statuses=tuple(status for status in RequestStatus if status not in asked_statuses),
            start=newest + timedelta(days=1),
            end=newest + timedelta(days=2),
        )
        found = await connector_kit.search(query)
        assert ids(found) == ids(asked), (
            f"a search for ids {ids(asked)} (and unknown {', '.join(missing)}) with filters "
            f"that leave them out found {ids(found)}: ids override other filters"
        )

    async def test_search_of_unknown_ids_is_empty(self, connector_kit: Kit) -> None:
        everything = await connector_kit.seeded_requests()
        missing = unknown_ids(ids(everything))
        found = await connector_kit.search(RequestQuery(service_request_ids=missing))
        assert found == [], f"a search for unknown ids {', '.join(missing)} found {ids(found)}"

    async def test_search_by_service_code(self, connector_kit: Kit) -> None:
        everything = await connector_kit.seeded_requests()
        codes = sorted({request.service_code for request in everything})
        for wanted in [(code,) for code in codes] + [tuple(codes[:2])]:
            found = await connector_kit.search(RequestQuery(service_codes=wanted))
            expected = [request for request in everything if request.service_code in wanted]
            assert ids(found) == ids(expected), (
                f"a search for service_code {','.join(wanted)} found {ids(found)}; "
                f"the records of those services are {ids(expected)}"
            )

    async def test_search_by_status(self, connector_kit: Kit) -> None:
        everything = await connector_kit.seeded_requests()
        for wanted in [(status,) for status in RequestStatus] + [tuple(RequestStatus)]:
            found = await connector_kit.search(RequestQuery(statuses=wanted))
            expected = [request for request in everything if request.status in wanted]
            assert ids(found) == ids(expected), (
                f"a search for status {','.join(wanted)} found {ids(found)}; "
                f"the records read as {','.join(wanted)} are {ids(expected)}"
            )

    async def test_search_by_date_range_includes_start_and_excludes_end(
        self, connector_kit: Kit
    ) -> None:
        everything = await connector_kit.seeded_requests()
        start, end = inner_window(request.requested_datetime for request in everything)
        for low, high in ((start, end), (start, None), (None, end)):
            found = await connector_kit.search(RequestQuery(start=low, end=high))
            expected = [
                request
                for request in everything
                if (low is None or low <= request.requested_datetime)
                and (high is None or request.requested_datetime < high)
            ]
            assert ids(found) == ids(expected), (
                f"a search from {low} to {high} (requested_datetime, start included, end "
                f"excluded) found {ids(found)}; the records in it are {ids(expected)}"
            )

    async def test_search_is_newest_first(self, connector_kit: Kit) -> None:
        everything = await connector_kit.seeded_requests()
        times = [request.requested_datetime for request in everything]
        assert times == sorted(times, reverse=True), (
            f"a search must list the newest requested_datetime first; it gave "
            f"{[time.isoformat() for time in times]}"
        )

    async def test_search_honours_the_limit_keeping_the_newest(self, connector_kit: Kit) -> None:
        everything = await connector_kit.seeded_requests()
        found = await connector_kit.search(RequestQuery(limit=2))
        assert len(found) == 2, f"a search with limit 2 found {len(found)} records"
        left_out = [request for request in everything if request not in found]
        assert min(r.requested_datetime for r in found) >= max(
            r.requested_datetime for r in left_out
        ), f"a search with limit 2 must keep the two newest; it kept {ids(found)}"

    # -- updates

    async def test_updates_come_oldest_first(self, connector_kit: Kit) -> None:
        changes = await connector_kit.seeded_changes()
        times = [change.updated_datetime for change in changes]
        assert times == sorted(times), (
            f"updates must list the oldest change first; it gave {[t.isoformat() for t in times]}"
        )

    async def test_updates_include_the_window_start_and_nothing_outside(
        self, connector_kit: Kit
    ) -> None:
        changes = await connector_kit.seeded_changes()
        times = [change.updated_datetime for change in changes]
        first, last = min(times), max(times)
        windows = (
            inner_window(times),
            (first - timedelta(days=1), first),
            (last + timedelta(seconds=1), last + timedelta(days=1)),
        )
        for since, until in windows:
            found = await connector_kit.updates(since, until)
            expected = [change for change in changes if since <= change.updated_datetime < until]
            assert ids(found) == ids(expected), (
                f"updates from {since} to {until} (start included, end excluded) found "
                f"{ids(found)}; the changes in it are {ids(expected)}"
            )

    async def test_update_ids_are_stable_across_calls(self, connector_kit: Kit) -> None:
        """FixMyStreet polls a sliding window and de-duplicates on update_id: a change
        keeps its id in every answer, whatever the window around it."""
        first = await connector_kit.seeded_changes()
        assert len(ids(first)) == len(set(ids(first))), f"update_ids repeat: {ids(first)}"
        if connector_kit.posts_updates:
            await connector_kit.post_update(first[-1].service_request_id, UpdateStatus.OPEN)
        since, _ = inner_window(change.updated_datetime for change in first)
        later = await connector_kit.updates(since, connector_kit.clock.window()[1])
        before, after = _by_content(first), _by_content(later)
        shared = before.keys() & after.keys()
        assert shared, (
            f"updates from {since} on found none of the changes found before: {ids(later)}"
        )
        for content in shared:
            assert before[content].update_id == after[content].update_id, (
                f"a change read as update {before[content].update_id}, and later as "
                f"{after[content].update_id}: {after[content]!r}"
            )

    # -- post_update

    async def test_post_update_returns_the_change_it_made(self, connector_kit: Kit) -> None:
        connector_kit.require(Capability.CREATE, Capability.POST_UPDATE)
        connector_kit.require_update_mapping()
        created = await connector_kit.create()
        posted = await connector_kit.post_update(created.id, UpdateStatus.OPEN)
        assert posted.service_request_id == created.id, (
            f"post_update on {created.id} returned a change of {posted.service_request_id}"
        )

    async def test_a_posted_update_shows_in_updates(self, connector_kit: Kit) -> None:
        connector_kit.require(Capability.CREATE, Capability.POST_UPDATE, Capability.UPDATES)
        connector_kit.require_update_mapping()
        created = await connector_kit.create()
        posted = await connector_kit.post_update(created.id, UpdateStatus.CLOSED)
        changes = await connector_kit.updates(*connector_kit.clock.window())
        shown = [change for change in changes if change.update_id == posted.update_id]
        assert shown, f"update {posted.update_id} is not among updates {ids(changes)}"
        assert shown[0].service_request_id == created.id, (
            f"update {posted.update_id} shows as a change of {shown[0].service_request_id}, "
            f"not of {created.id}"
        )

    async def test_post_update_on_an_unknown_request_is_not_found(self, connector_kit: Kit) -> None:
        connector_kit.require(Capability.POST_UPDATE)
        connector_kit.require_update_mapping()
        existing = await connector_kit.existing()
        for missing in unknown_ids([existing.id] if existing else []):
            payload = connector_kit.update_payload(missing, UpdateStatus.OPEN)
            await connector_kit.expect(
                NotFoundError,
                connector_kit.connector.post_update(payload),
                f"post_update on unknown request {missing}",
            )

    # -- typed errors and timeouts

    async def test_a_refused_payload_is_a_permanent_error(self, connector_kit: Kit) -> None:
        connector_kit.require(Capability.CREATE)
        refuse = connector_kit.described.refuse
        if refuse is None:
            pytest.skip(
                "no `refuse` described: say how to spoil a payload so the backend rejects it"
            )
        sample = connector_kit.requests[0]
        key = new_key()
        payload = refuse(connector_kit.payload(sample, key))
        error = await connector_kit.expect(
            PermanentError,
            connector_kit.connector.create(payload, key),
            "create of a refused payload",
        )
        for field in PERSONAL_FIELDS:
            value = getattr(sample, field)
            assert not value or value not in error.reason, (
                f"the reason of a refusal must keep personal data out; it holds the {field}"
            )

    @pytest.mark.parametrize("operation", OPERATIONS)
    async def test_an_outage_is_transient_and_the_call_works_once_it_ends(
        self, connector_kit: Kit, operation: str
    ) -> None:
        """Transient means the same call may succeed later: once the backend is back, it does."""
        fault, existing = await connector_kit.prepare_fault("outage", operation)
        async with connector_kit.short_timeout_connector() as connector:
            async with fault.during():
                await connector_kit.fail_in_outage(connector, operation, existing)
            await connector_kit.works_again(connector, operation, existing)

    @pytest.mark.parametrize("operation", OPERATIONS)
    async def test_a_stalled_call_gives_up_with_a_transient_error(
        self, connector_kit: Kit, operation: str
    ) -> None:
        fault, existing = await connector_kit.prepare_fault("stall", operation)
        async with connector_kit.short_timeout_connector() as connector, fault.during():
            await connector_kit.expect(
                TransientError,
                connector_kit.invoke(connector, operation, existing),
                f"{operation} on a stalled backend",
                seconds=connector_kit.described.fault_timeout,
            )

    # -- capabilities

    @pytest.mark.parametrize("capability", [capability.value for capability in Capability])
    async def test_operation_matches_its_declaration(
        self, connector_kit: Kit, capability: str
    ) -> None:
        """Undeclared: UnsupportedError, never another error. Declared: it works."""
        operation = Capability(capability)
        declared = operation in connector_kit.capabilities
        if declared and operation is Capability.POST_UPDATE:
            connector_kit.require(Capability.CREATE)
            connector_kit.require_update_mapping()
        existing = await connector_kit.existing()
        call = connector_kit.invoke(connector_kit.connector, operation, existing)
        if not declared:
            await connector_kit.expect(
                UnsupportedError, call, f"{operation}, which the connector does not declare"
            )
            return
        result = await connector_kit.call(call, f"{operation}, which the connector declares")
        works, expected = RESULTS.get(operation, (_is_records, "a list of records"))
        assert works(result), f"{operation} must return {expected}; it returned {result!r}"
