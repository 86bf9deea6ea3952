"""The CaseWorks simulator on the wire, as any SOAP client meets it: its WSDL, faults in
both SOAP versions, refusals that are not SOAP, and the CRM's own rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from lxml import etree

from connectors.testing.soap_crm import Crm, CrmError, SoapCrm
from connectors.testing.soap_crm.crm import MAX_RESULTS, Criteria
from gateway.cli import _parser

from soapcrm import CREDENTIALS, T0, Clock

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
GET_UNKNOWN = '<GetCase xmlns="urn:caseworks:crm:3"><CaseNumber>CW-9</CaseNumber></GetCase>'
AUTH = httpx.BasicAuth(CREDENTIALS["username"], CREDENTIALS["password"])


@pytest.fixture
async def crm() -> AsyncIterator[SoapCrm]:
    async with SoapCrm(Crm(clock=Clock())) as simulator:
        yield simulator


async def post(
    crm: SoapCrm, version: str, body: str, auth: httpx.BasicAuth | None = AUTH
) -> tuple[int, str, etree._Element | None]:
    envelope = f'<s:Envelope xmlns:s="{version}"><s:Body>{body}</s:Body></s:Envelope>'
    content_type = "text/xml" if version == SOAP11 else "application/soap+xml"
    async with httpx.AsyncClient(auth=auth) as client:
        answer = await client.post(
            crm.url, content=envelope, headers={"Content-Type": content_type}
        )
    media_type = answer.headers["Content-Type"].split(";")[0]
    root = etree.fromstring(answer.content) if "xml" in media_type else None
    return answer.status_code, media_type, root


async def test_the_wsdl_names_the_simulators_own_address(crm: SoapCrm) -> None:
    async with httpx.AsyncClient() as client:
        wsdl = etree.fromstring((await client.get(crm.wsdl_url)).content)
        assert (await client.get(crm.url)).status_code == 404
    addresses = {node.get("location") for node in wsdl.iter() if node.get("location")}
    assert addresses == {crm.url}


async def test_a_soap_11_fault_names_the_client_and_the_crms_code(crm: SoapCrm) -> None:
    status, content_type, root = await post(crm, SOAP11, GET_UNKNOWN)
    assert (status, content_type) == (500, "text/xml")
    assert root is not None
    assert root.findtext(f".//{{{SOAP11}}}Fault/faultcode") == "soap:Client"
    assert root.findtext(f".//{{{SOAP11}}}Fault/faultstring") == "no case 'CW-9'"
    assert root.findtext(".//{urn:caseworks:crm:3}Code") == "CASE_NOT_FOUND"


async def test_a_soap_12_sender_fault_is_a_400_with_a_subcode(crm: SoapCrm) -> None:
    status, content_type, root = await post(crm, SOAP12, GET_UNKNOWN)
    assert (status, content_type) == (400, "application/soap+xml")
    assert root is not None
    values = [node.text for node in root.iter(f"{{{SOAP12}}}Value")]
    assert values == ["soap:Sender", "cw:CASE_NOT_FOUND"]
    assert root.findtext(f".//{{{SOAP12}}}Reason/{{{SOAP12}}}Text") == "no case 'CW-9'"


async def test_a_busy_crm_answers_a_receiver_fault(crm: SoapCrm) -> None:
    crm.fault_rate = 1.0
    status, _, root = await post(crm, SOAP12, GET_UNKNOWN)
    assert status == 500 and root is not None
    assert [node.text for node in root.iter(f"{{{SOAP12}}}Value")] == ["soap:Receiver", "cw:BUSY"]


async def test_refusals_that_are_not_soap(crm: SoapCrm) -> None:
    assert (await post(crm, SOAP11, GET_UNKNOWN, auth=None))[0] == 401
    wrong = httpx.BasicAuth(CREDENTIALS["username"], "guess")
    assert (await post(crm, SOAP11, GET_UNKNOWN, auth=wrong))[0] == 401
    async with httpx.AsyncClient(auth=AUTH) as client:
        assert (await client.post(crm.url, content=b"<notsoap/>")).status_code == 400
        crm.outage = True
        down = await client.post(crm.url, content=b"<notsoap/>")
        assert (down.status_code, down.headers["Content-Type"]) == (503, "text/html")


async def test_an_unknown_operation_is_a_client_fault(crm: SoapCrm) -> None:
    status, _, root = await post(crm, SOAP11, '<DeleteCase xmlns="urn:caseworks:crm:3"/>')
    assert status == 500 and root is not None
    assert root.findtext(".//{urn:caseworks:crm:3}Code") == "UNKNOWN_OPERATION"


def test_the_crms_own_rules() -> None:
    clock = Clock()
    crm = Crm(clock=clock)
    where = {"Street": "1 Mill Lane"}
    crm.create_case(case_type="PK-TRE", summary="Oak down", location=where, external_reference="r")
    with pytest.raises(CrmError) as duplicate:
        crm.create_case(case_type="PK-TRE", summary="Oak", location=where, external_reference="r")
    assert duplicate.value.code == "DUPLICATE_REFERENCE"
    with pytest.raises(CrmError) as out_of_range:
        crm.create_case(
            case_type="PK-TRE",
            summary="Oak",
            location={"Coordinates": {"Latitude": 91.0, "Longitude": 0.0}},
        )
    assert out_of_range.value.code == "INVALID_VALUE"
    with pytest.raises(CrmError, match="Until must be after Since"):
        crm.list_changes(T0, T0)
    with pytest.raises(CrmError, match="no status 'Open'"):
        crm.find_cases(Criteria(statuses=("Open",)))
    for _ in range(MAX_RESULTS):
        clock.advance(seconds=1)
        crm.create_case(case_type="EN-GRF", summary="Tag", location=where)
    found, truncated = crm.find_cases(Criteria())
    assert (len(found), truncated) == (MAX_RESULTS, True)
    assert found[0].created_at == T0 + timedelta(seconds=MAX_RESULTS)


def test_the_simulate_command_takes_the_knobs() -> None:
    args = _parser(simulators=True).parse_args(
        ["simulate", "soap-crm", "--port", "8399", "--latency", "0.05", "--fault-rate", "0.1"]
    )
    assert (args.port, args.latency, args.fault_rate, args.auth) == (8399, 0.05, 0.1, "either")
    assert callable(args.run)
