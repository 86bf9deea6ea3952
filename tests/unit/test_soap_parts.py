"""The SOAP connector's parts alone: its backend section checked on load, fault rules,
redaction, messages and responses, HTTP answers judged before zeep, wire logs."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import httpx
import pytest
import zeep
from lxml import etree
from zeep.exceptions import Fault

from connectors.base import NotFoundError, PermanentError, TransientError
from connectors.redaction import MAX_REASON, redacted
from connectors.soap.faults import FaultRules, RecordExists
from connectors.soap.messages import placed, put, records_at, response_record, without_gaps
from connectors.soap.schema import FaultRule
from connectors.soap.transport import check_answer
from connectors.soap.wirelog import WireLog
from gateway.mapping import load_mapping
from gateway.yamlfile import FileErrors

from soapcrm import MILLBROOK

WSDL = str(files("connectors.testing.soap_crm").joinpath("caseworks.wsdl"))
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"


def problems(tmp_path: Path, old: str, new: str) -> list[str]:
    text = MILLBROOK.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "city.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(FileErrors) as errors:
        load_mapping(path)
    return [message.split(": ", 1)[1] for message in errors.value.messages]


def test_the_backend_section_is_checked_on_load(tmp_path: Path) -> None:
    assert problems(tmp_path, "    find_by_reference:\n", "    find_by_references:\n") == [
        "backend.operations.find_by_references: unknown key 'find_by_references'"
    ]
    lookup = "    find_by_reference:\n      operation: FindCases\n"
    lookup += "      reference: Criteria.ExternalReference\n      result: Cases.Case\n"
    assert problems(tmp_path, lookup, "") == [
        "backend.operations: create needs find_by_reference: a redelivered request must "
        "find its record"
    ]
    assert problems(tmp_path, "      id: CaseNumber\n", "      id: CaseNumber\n      ids: X\n") == [
        "backend.operations.get: give id (one call a record) or ids (one call for all), not both"
    ]
    assert problems(tmp_path, "then: not_found}", "then: missing}")[0].startswith(
        "backend.faults.0.then: Input should be 'transient', 'permanent', 'not_found' or 'exists'"
    )
    assert problems(tmp_path, '{detail: "^BUSY\\\\b",', '{detail: "(BUSY",') == [
        "backend.faults.2.detail: not a regular expression: missing ), unterminated "
        "subpattern at position 0"
    ]
    assert problems(tmp_path, "{code: Server, then: transient}", "{then: transient}") == [
        "backend.faults.3: a fault rule needs code, message or detail to match"
    ]
    assert problems(tmp_path, "reference: Case.ExternalReference", "reference: Case..Ref")[
        0
    ].startswith("backend.operations.create.reference: String should match pattern")


def test_a_catalogue_from_the_backend_needs_list_services(tmp_path: Path) -> None:
    old = "    list_services:\n      operation: ListCaseTypes"
    old += "               # active case types only\n      result: CaseTypes.CaseType\n"
    assert problems(tmp_path, old, "") == [
        "services.from_backend: the soap connector cannot list services with this backend"
    ]


def fault(
    code: str | None,
    message: str,
    detail: str = "",
    subcodes: list[etree.QName] | None = None,
) -> Fault:
    node = etree.fromstring(f"<detail><Error><Code>{detail}</Code></Error></detail>")
    return Fault(message, code=code, detail=node if detail else None, subcodes=subcodes)


RULES = FaultRules(
    [
        FaultRule(detail="^CASE_NOT_FOUND", then="not_found"),
        FaultRule(detail="^DUPLICATE", then="exists"),
        FaultRule(code="Server", message="(?i)try again", then="transient"),
        FaultRule(code="Locked", then="transient"),
    ],
    "permanent",
)


def test_faults_are_classified_by_the_first_rule_that_matches() -> None:
    assert type(RULES.error("GetCase", fault("soap:Client", "no", "CASE_NOT_FOUND"))) is (
        NotFoundError
    )
    assert type(RULES.error("CreateCase", fault("soap:Client", "dup", "DUPLICATE_REF"))) is (
        RecordExists
    )
    assert isinstance(RecordExists("x"), PermanentError)
    busy = RULES.error("GetCase", fault("soap-env:Server", "Busy, try again later"))
    assert type(busy) is TransientError
    broken = RULES.error("GetCase", fault("soap-env:Server", "NullPointerException"))
    assert type(broken) is PermanentError  # unclassified
    locked = fault("soap:Receiver", "busy", subcodes=[etree.QName("urn:x", "Locked")])
    assert type(RULES.error("AddNote", locked)) is TransientError
    unknown = Fault("Unknown fault occured", code=None, detail="<html>whole page</html>")
    assert type(RULES.error("AddNote", unknown)) is PermanentError


def test_a_faults_text_is_kept_without_personal_data() -> None:
    error = RULES.error(
        "CreateCase",
        fault("soap:Client", "Contact ada@example.org / +44 1632 960000 is invalid", "BAD"),
    )
    assert error.reason == (
        "CreateCase: SOAP fault Client: Contact [email] / [number] is invalid (BAD)"
    )
    assert len(redacted("x" * 2000)) == MAX_REASON
    assert redacted("case CW-000123 on 2026-05-01") == "case CW-000123 on 2026-05-01"


def test_messages_never_change_the_mappings_record() -> None:
    record = {"Case": {"Summary": "Hole"}}
    message = placed(record, None)
    put(message, "Case.ExternalReference", "key-1")
    assert message == {"Case": {"Summary": "Hole", "ExternalReference": "key-1"}}
    assert record == {"Case": {"Summary": "Hole"}}
    nested = placed({"Summary": "Hole"}, "Request.Case")
    assert nested == {"Request": {"Case": {"Summary": "Hole"}}}
    assert without_gaps({"A": {"B": [None, {"C": [None, 1]}, None]}}) == {"A": {"B": [{"C": [1]}]}}


def test_records_at_a_path() -> None:
    response = {"Cases": {"Case": [{"N": 1}, None, {"N": 2}]}, "One": {"N": 3}}
    assert records_at(response, "Cases.Case") == [{"N": 1}, {"N": 2}]
    assert records_at(response, "One") == [{"N": 3}]
    assert records_at(response, "Cases.Nothing") == []
    assert records_at({"Cases": None}, "Cases.Case") == []


@pytest.fixture(scope="module")
def binding() -> object:
    client = zeep.Client(WSDL)
    return client.wsdl.services["CaseWorks"].ports["CasesSoap"].binding


def reply(binding: object, operation: str, body: str) -> object:
    envelope = etree.fromstring(
        f'<s:Envelope xmlns:s="{SOAP11}"><s:Body>'
        f'<{operation}Response xmlns="urn:caseworks:crm:3">{body}</{operation}Response>'
        "</s:Body></s:Envelope>"
    )
    bound = binding.get(operation)  # type: ignore[attr-defined]
    return response_record(bound, bound.process_reply(envelope))


def test_a_response_reads_from_its_element_whatever_zeep_unwrapped(binding: object) -> None:
    types = "<CaseTypes>" + "<CaseType><Code>A</Code><Name>a</Name><Department>d</Department>"
    types += "<DefaultPriority>P1</DefaultPriority><Active>true</Active></CaseType></CaseTypes>"
    listed = reply(binding, "ListCaseTypes", types)
    assert listed["CaseTypes"]["CaseType"][0]["Code"] == "A"
    found = reply(binding, "FindCases", "<Cases/><Truncated>true</Truncated>")
    assert found == {"Cases": None, "Truncated": True}
    note = "<Note><NoteId>7</NoteId><CaseNumber>CW-1</CaseNumber><Author>a</Author>"
    note += "<Text>t</Text><CaseStatus>Logged</CaseStatus>"
    note += "<CreatedAt>2026-05-01T12:00:00Z</CreatedAt></Note>"
    added = reply(binding, "AddNote", note)
    assert added["Note"]["NoteId"] == 7
    changes = reply(binding, "ListChanges", f"<Changes>{note}{note}</Changes>")
    assert [change["NoteId"] for change in changes["Changes"]["Note"]] == [7, 7]
    assert records_at(reply(binding, "ListChanges", "<Changes/>"), "Changes.Note") == []


def answer(status: int, body: bytes, content_type: str = "text/xml") -> httpx.Response:
    return httpx.Response(status, content=body, headers={"Content-Type": content_type})


ENVELOPE = f'<s:Envelope xmlns:s="{SOAP11}"><s:Body/></s:Envelope>'.encode()


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_unavailable_answers_that_are_not_soap_are_transient(status: int) -> None:
    with pytest.raises(TransientError, match=f"HTTP {status}"):
        check_answer(answer(status, b"<html><body>down</body></html>", "text/html"))
    with pytest.raises(TransientError):
        check_answer(answer(status, b"<error>xml, but not SOAP</error>"))


def test_faults_go_on_to_zeep_and_other_answers_are_judged() -> None:
    check_answer(answer(200, ENVELOPE))
    check_answer(answer(500, ENVELOPE))
    check_answer(answer(400, ENVELOPE))
    with pytest.raises(TransientError, match=r"refused the credentials \(HTTP 401\)"):
        check_answer(answer(401, b"no"))
    with pytest.raises(PermanentError, match="answered HTTP 404, not SOAP"):
        check_answer(answer(404, b"not here"))


def test_wire_logs_redact_every_value_but_the_named_ones() -> None:
    envelope = etree.fromstring(
        f'<s:Envelope xmlns:s="{SOAP11}"><s:Header><Security><UsernameToken>'
        "<Username>gateway</Username><Password>secret</Password></UsernameToken></Security>"
        "</s:Header><s:Body><Case><CaseNumber>CW-1</CaseNumber><!-- ada@example.org -->"
        "<Contact><Email>ada@example.org</Email></Contact>tail</Case></s:Body></s:Envelope>"
    )
    text = WireLog(["CaseNumber", "Password", "Username"]).redact(envelope)
    assert ">CW-1<" in text
    for secret in ("gateway", "secret", "ada@example.org", "tail"):
        assert secret not in text
    assert "Email>ada" in etree.tostring(envelope, encoding="unicode")  # the original is kept
