"""The SOAP connector against the CaseWorks simulator on loopback, over SOAP 1.1 (basic
auth) and SOAP 1.2 (a WS-Security UsernameToken), with Millbrook's backend section."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from importlib.resources import files

import pytest
import structlog

from connectors.base import (
    BackendQuery,
    Capability,
    NotFoundError,
    PermanentError,
    Range,
    TransientError,
    UnsupportedError,
)
from connectors.registry import connector_class
from connectors.soap import SoapConnector
from connectors.testing.soap_crm import Auth, Crm, SoapCrm

from soapcrm import T0, Clock, case, connected, millbrook, numbers

VERSIONS = ["1.1", "1.2"]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def crm(clock: Clock) -> AsyncIterator[SoapCrm]:
    async with SoapCrm(Crm(clock=clock)) as simulator:
        yield simulator


@pytest.fixture(params=VERSIONS)
async def soap(request: pytest.FixtureRequest, crm: SoapCrm) -> AsyncIterator[SoapConnector]:
    async with connected(crm, request.param) as connector:
        yield connector


def test_registered_with_the_capabilities_its_backend_section_declares() -> None:
    assert connector_class("soap") is SoapConnector
    backend = millbrook().backend
    assert SoapConnector.capabilities_for(backend) == frozenset(Capability)
    reading = {"operations": {key: backend["operations"][key] for key in ("get", "search")}}
    assert SoapConnector.capabilities_for(reading) == {Capability.GET, Capability.SEARCH}
    assert SoapConnector.capabilities_for({"operations": {"nonsense": {}}}) == frozenset(Capability)


async def test_an_undeclared_operation_is_unsupported(crm: SoapCrm) -> None:
    reading = {"operations": {"get": millbrook().backend["operations"]["get"]}}
    async with connected(crm, backend=reading) as connector:
        assert not connector.supports(Capability.CREATE)
        with pytest.raises(UnsupportedError, match="declares no create operation"):
            await connector.create(case(), "key-1")


async def test_create_writes_the_key_and_returns_the_case(
    soap: SoapConnector, crm: SoapCrm
) -> None:
    answers = {"Answer": [None, {"Question": "fault", "Value": ["dark"]}, None]}
    stored = await soap.create(case("RD-LGT", Answers=answers), "key-1")
    assert stored["CaseNumber"] == "CW-000001"
    assert (stored["ExternalReference"], stored["Channel"]) == ("key-1", "OPEN311")
    assert (stored["Status"], stored["Priority"], stored["Department"]) == (
        "Logged",
        "P3",
        "Highways",
    )
    assert stored["CreatedAt"] == T0
    assert stored["Location"]["Coordinates"] == {"Latitude": 51.5, "Longitude": -0.1}
    assert stored["Answers"] == {"Answer": [{"Question": "fault", "Value": ["dark"]}]}
    [note] = stored["Notes"]["Note"]
    assert (note["NoteId"], note["CaseStatus"]) == (1, "Logged")


async def test_create_is_idempotent_through_the_external_reference(
    soap: SoapConnector, crm: SoapCrm
) -> None:
    first = await soap.create(case(), "key-1")
    again = await soap.create(case(summary="Different"), "key-1")
    assert again == first
    twins = await asyncio.gather(*(soap.create(case(), "key-2") for _ in range(5)))
    assert len({twin["CaseNumber"] for twin in twins}) == 1
    assert len(crm.crm.cases) == 2
    assert await soap.find_by_reference("key-1") == first
    assert await soap.find_by_reference("key-3") is None


async def test_get_leaves_unknown_ids_out(soap: SoapConnector) -> None:
    for key in ("key-1", "key-2"):
        await soap.create(case(), key)
    found = await soap.get(["CW-000002", "CW-999999", "CW-000001", "CW-000002"])
    assert numbers(found) == ["CW-000002", "CW-000001"]  # in the order asked, once each
    assert await soap.get([]) == []


async def seed(soap: SoapConnector, crm: SoapCrm, clock: Clock) -> None:
    """Five cases an hour apart; the second resolved and the fourth in progress."""
    for number, case_type in enumerate(["RD-POT", "EN-FLY", "RD-POT", "EN-GRF", "RD-LGT"]):
        await soap.create(case(case_type), f"key-{number}")
        clock.advance(hours=1)
    crm.crm.resolve("CW-000002", "Cleared")
    crm.crm.add_note("CW-000004", author="officer", text="Crew out", new_status="WorkInProgress")


async def test_search_newest_first_with_a_limit(
    soap: SoapConnector, crm: SoapCrm, clock: Clock
) -> None:
    await seed(soap, crm, clock)
    everything = await soap.search(BackendQuery(order_by="CreatedAt"))
    assert numbers(everything) == [f"CW-00000{n}" for n in (5, 4, 3, 2, 1)]
    assert numbers(await soap.search(BackendQuery(limit=2))) == ["CW-000005", "CW-000004"]


async def test_search_by_each_filter(soap: SoapConnector, crm: SoapCrm, clock: Clock) -> None:
    await seed(soap, crm, clock)
    by_type = BackendQuery(any_of={"CaseTypeCode": ("RD-POT", "RD-LGT")})
    assert numbers(await soap.search(by_type)) == ["CW-000005", "CW-000003", "CW-000001"]
    by_status = BackendQuery(any_of={"Status": ("Resolved", "WorkInProgress")})
    assert numbers(await soap.search(by_status)) == ["CW-000004", "CW-000002"]
    window = BackendQuery(
        ranges={"CreatedAt": Range(T0 + timedelta(hours=1), T0 + timedelta(hours=3))}
    )
    assert numbers(await soap.search(window)) == ["CW-000003", "CW-000002"]
    since = BackendQuery(ranges={"CreatedAt": Range(low=T0 + timedelta(hours=4))})
    assert numbers(await soap.search(since)) == ["CW-000005"]
    both = BackendQuery(any_of={"CaseTypeCode": ("RD-POT",), "Status": ("Logged",)})
    assert numbers(await soap.search(both)) == ["CW-000003", "CW-000001"]
    by_ids = BackendQuery(ids=("CW-000004", "CW-000001", "CW-000404"), any_of={"Status": ("X",)})
    assert numbers(await soap.search(by_ids)) == ["CW-000004", "CW-000001"]


async def test_a_filter_no_backend_value_reads_as_finds_nothing_without_a_call(
    soap: SoapConnector, crm: SoapCrm
) -> None:
    await soap.create(case(), "key-1")
    searches = crm.calls["FindCases"]
    assert await soap.search(BackendQuery(any_of={"Status": ()})) == []
    assert crm.calls["FindCases"] == searches


async def test_a_filter_the_section_does_not_place_is_refused(soap: SoapConnector) -> None:
    with pytest.raises(PermanentError, match="cannot filter by Department"):
        await soap.search(BackendQuery(any_of={"Department": ("Parks",)}))
    with pytest.raises(PermanentError, match="cannot filter by UpdatedAt"):
        await soap.search(BackendQuery(ranges={"UpdatedAt": Range(low=T0)}))


async def test_updates_in_a_window_oldest_first_with_stable_ids(
    soap: SoapConnector, crm: SoapCrm, clock: Clock
) -> None:
    await soap.create(case(), "key-1")
    clock.advance(minutes=10)
    crm.crm.add_note("CW-000001", author="officer", text="Triaged", new_status="Triaged")
    clock.advance(minutes=10)
    crm.crm.resolve("CW-000001", "Filled")
    changes = await soap.updates(T0, T0 + timedelta(minutes=20))
    assert [(c["NoteId"], c["CaseStatus"]) for c in changes] == [(1, "Logged"), (2, "Triaged")]
    later = await soap.updates(T0 + timedelta(minutes=10), T0 + timedelta(hours=1))
    assert [(c["NoteId"], c["CaseStatus"], c["Text"]) for c in later] == [
        (2, "Triaged", "Triaged"),
        (3, "Resolved", "Filled"),
    ]


async def test_post_update_adds_a_note_and_moves_the_case(
    soap: SoapConnector, crm: SoapCrm, clock: Clock
) -> None:
    await soap.create(case(), "key-1")
    clock.advance(minutes=5)
    note = await soap.post_update(
        {
            "CaseNumber": "CW-000001",
            "Note": {"Author": "public", "Text": "Fixed now", "NewStatus": "Resolved"},
        }
    )
    assert (note["NoteId"], note["CaseStatus"], note["CreatedAt"]) == (
        2,
        "Resolved",
        T0 + timedelta(minutes=5),
    )
    [stored] = await soap.get(["CW-000001"])
    assert (stored["Status"], stored["UpdatedAt"]) == ("Resolved", T0 + timedelta(minutes=5))
    with pytest.raises(NotFoundError, match="CASE_NOT_FOUND"):
        await soap.post_update(
            {"CaseNumber": "CW-999999", "Note": {"Author": "public", "Text": "?"}}
        )


async def test_list_services_lists_the_active_case_types(soap: SoapConnector, crm: SoapCrm) -> None:
    listed = await soap.list_services()
    assert [kind["Code"] for kind in listed] == ["RD-POT", "RD-LGT", "EN-FLY", "EN-GRF", "PK-TRE"]
    assert listed[0] == {
        "Code": "RD-POT",
        "Name": "Pothole",
        "Description": "A hole or crack in a road or cycle lane.",
        "Department": "Highways",
        "DefaultPriority": "P3",
        "Active": True,
    }


async def test_validation_faults_are_permanent_with_their_text(soap: SoapConnector) -> None:
    with pytest.raises(PermanentError) as refused:
        await soap.create(case("XX-OLD"), "key-1")
    assert "CreateCase: SOAP fault" in refused.value.reason
    assert "no active case type 'XX-OLD'" in refused.value.reason
    assert "UNKNOWN_CASE_TYPE" in refused.value.reason
    with pytest.raises(PermanentError, match="a location needs a street"):
        await soap.create(case(Location={}), "key-2")


async def test_busy_faults_are_transient(crm: SoapCrm) -> None:
    crm.fault_rate = 1.0
    async with connected(crm, "1.2") as connector:
        with pytest.raises(TransientError, match="BUSY"):
            await connector.list_services()


async def test_a_request_that_does_not_fit_the_wsdl_is_permanent(soap: SoapConnector) -> None:
    with pytest.raises(PermanentError, match="does not fit the WSDL"):
        await soap.create(case(Colour="red"), "key-1")


async def test_an_outage_is_transient_and_passes(soap: SoapConnector, crm: SoapCrm) -> None:
    crm.outage = True
    with pytest.raises(TransientError, match=r"unavailable \(HTTP 503\)"):
        await soap.create(case(), "key-1")
    with pytest.raises(TransientError, match="503"):
        await soap.health()
    crm.outage = False
    await soap.health()
    assert (await soap.create(case(), "key-1"))["CaseNumber"] == "CW-000001"


async def test_a_backend_gone_away_is_transient(crm: SoapCrm) -> None:
    async with connected(crm) as connector:
        await crm.stop()
        with pytest.raises(TransientError, match="could not be reached"):
            await connector.list_services()


async def test_a_slow_answer_is_a_timeout(crm: SoapCrm) -> None:
    async with connected(crm) as connector:
        connector.timeout = 0.2  # after the start: loading the WSDL may take longer here
        crm.latency = 0.6
        with pytest.raises(TransientError, match=r"no answer within 0.2 s|did not answer in time"):
            await connector.list_services()


@pytest.mark.parametrize("digest", [False, True])
async def test_a_username_token_with_the_password_or_its_digest(crm: SoapCrm, digest: bool) -> None:
    crm.auth = Auth.WSSE
    token = {"username": crm.username, "password": crm.password, "digest": digest}
    async with connected(crm, "1.1", basic_auth=None, ws_security=token) as connector:
        assert len(await connector.list_services()) == 5


async def test_refused_credentials_are_transient(crm: SoapCrm) -> None:
    wrong = {"username": crm.username, "password": "guess"}
    async with connected(crm, basic_auth=wrong) as connector:
        with pytest.raises(TransientError, match=r"refused the credentials \(HTTP 401\)"):
            await connector.list_services()


async def test_a_wsdl_file_with_the_address_set(crm: SoapCrm) -> None:
    wsdl = files("connectors.testing.soap_crm").joinpath("caseworks.wsdl")
    async with connected(crm, "1.2", wsdl=str(wsdl), address=crm.url) as connector:
        assert len(await connector.list_services()) == 5


async def test_a_port_named_in_the_settings(crm: SoapCrm) -> None:
    async with connected(crm, service="CaseWorks", port="CasesSoap12") as connector:
        assert len(await connector.list_services()) == 5
    with pytest.raises(PermanentError, match="no service Nowhere"):
        async with connected(crm, service="Nowhere"):
            pass


async def test_a_backend_section_the_wsdl_does_not_have_stops_the_start(crm: SoapCrm) -> None:
    backend = millbrook().backend
    operations = backend["operations"]
    wrong = {
        **backend,
        "operations": {
            **operations,
            "get": {**operations["get"], "operation": "GetTicket"},
            "create": {**operations["create"], "reference": "Case.ExternalRef"},
        },
    }
    with pytest.raises(PermanentError) as stopped:
        async with connected(crm, backend=wrong):
            pass
    assert "no operation GetTicket (operations: AddNote, CreateCase," in stopped.value.reason
    assert (
        "CreateCase: request path Case.ExternalRef: no element ExternalRef" in stopped.value.reason
    )


async def test_an_unreachable_wsdl_stops_the_start_transiently(crm: SoapCrm) -> None:
    crm.outage = True
    with pytest.raises(TransientError, match=r"could not be loaded \(HTTP 503\)"):
        async with connected(crm, wsdl_cache_seconds=0):
            pass


async def test_wire_logs_show_only_the_elements_named(soap: SoapConnector) -> None:
    with structlog.testing.capture_logs() as logged:
        await soap.create(case(Contact={"Email": "resident@example.org"}), "key-1")
    envelopes = [entry["envelope"] for entry in logged if entry["event"].startswith("soap_")]
    assert len(envelopes) == 2
    assert all("resident@example.org" not in text and "Mill Lane" not in text for text in envelopes)
    assert all("<ns0:ExternalReference>key-1<" in text or ">key-1<" in text for text in envelopes)
    assert ">CW-000001<" in envelopes[1] and ">[redacted]<" in envelopes[1]
