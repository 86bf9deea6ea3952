"""CaseWorks' operations as XML: each request element read into a call on the `Crm`, and
its answer written back in the order the WSDL's sequences require."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from connectors.testing.soap_crm.crm import Answer, Case, CaseType, Criteria, Crm, CrmError, Note

NS = "urn:caseworks:crm:3"
Element = etree._Element


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _child(parent: Element, name: str) -> Element | None:
    return parent.find(_q(name))


def _children(parent: Element | None, name: str) -> list[Element]:
    return [] if parent is None else parent.findall(_q(name))


def _text(parent: Element, name: str, *, required: bool = False) -> str | None:
    found = _child(parent, name)
    if found is None or found.text is None:
        if required:
            raise CrmError("REQUIRED", f"{name} is required", field=name)
        return None
    return found.text


def _required(parent: Element, name: str) -> str:
    text = _text(parent, name, required=True)
    assert text is not None
    return text


def _typed(parent: Element, name: str, parse: Callable[[str], Any]) -> Any:
    text = _text(parent, name)
    if text is None:
        return None
    try:
        return parse(text.strip())
    except ValueError:
        raise CrmError("INVALID_VALUE", f"{name} is not valid", field=name) from None


def _datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _boolean(text: str) -> bool:
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(text)


def _location(element: Element | None) -> dict[str, Any]:
    if element is None:
        raise CrmError("REQUIRED", "Location is required", field="Location")
    location: dict[str, Any] = {
        name: text
        for name in ("Street", "Locality", "Postcode", "PropertyRef")
        if (text := _text(element, name)) is not None
    }
    coordinates = _child(element, "Coordinates")
    if coordinates is not None:
        location["Coordinates"] = {
            name: _typed(coordinates, name, float) for name in ("Latitude", "Longitude")
        }
        if None in location["Coordinates"].values():
            raise CrmError("REQUIRED", "coordinates need both parts", field="Coordinates")
    return location


def _contact(element: Element | None) -> dict[str, str] | None:
    if element is None:
        return None
    return {
        name: text
        for name in ("FirstName", "LastName", "Email", "Phone")
        if (text := _text(element, name)) is not None
    }


def _answers(element: Element | None) -> list[Answer]:
    return [
        Answer(
            _required(answer, "Question"), tuple(v.text or "" for v in _children(answer, "Value"))
        )
        for answer in _children(element, "Answer")
    ]


def _add(parent: Element, name: str, value: Any) -> Element:
    """A child element with `value` written as XML Schema writes it; None adds nothing."""
    child = etree.SubElement(parent, _q(name))
    if isinstance(value, bool):
        child.text = "true" if value else "false"
    elif isinstance(value, datetime):
        child.text = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    elif value is not None:
        child.text = str(value)
    return child


def _optional(parent: Element, name: str, value: Any) -> None:
    if value is not None:
        _add(parent, name, value)


def _write_location(parent: Element, location: dict[str, Any]) -> None:
    element = _add(parent, "Location", None)
    for name in ("Street", "Locality", "Postcode", "PropertyRef"):
        _optional(element, name, location.get(name))
    coordinates = location.get("Coordinates")
    if coordinates is not None:
        inner = _add(element, "Coordinates", None)
        _add(inner, "Latitude", coordinates["Latitude"])
        _add(inner, "Longitude", coordinates["Longitude"])


def _write_record(parent: Element, name: str, fields: Iterable[tuple[str, Any]]) -> Element:
    """A child element holding one element for each field with a value, in order."""
    element = _add(parent, name, None)
    for field, value in fields:
        _optional(element, field, value)
    return element


def _write_note(parent: Element, name: str, note: Note) -> None:
    _write_record(
        parent,
        name,
        (
            ("NoteId", note.note_id),
            ("CaseNumber", note.case_number),
            ("Author", note.author),
            ("Text", note.text),
            ("CaseStatus", note.case_status),
            ("CreatedAt", note.created_at),
        ),
    )


def _write_case(parent: Element, case: Case) -> None:
    element = _write_record(
        parent,
        "Case",
        (
            ("CaseNumber", case.number),
            ("CaseTypeCode", case.case_type),
            ("Department", case.department),
            ("Priority", case.priority),
            ("Status", case.status),
            ("Summary", case.summary),
        ),
    )
    _write_location(element, case.location)
    if case.contact:
        contact = _add(element, "Contact", None)
        for name in ("FirstName", "LastName", "Email", "Phone"):
            _optional(contact, name, case.contact.get(name))
    if case.answers:
        answers = _add(element, "Answers", None)
        for answer in case.answers:
            entry = _add(answers, "Answer", None)
            _add(entry, "Question", answer.question)
            for value in answer.values:
                _add(entry, "Value", value)
    for name, value in (
        ("PhotoUrl", case.photo_url),
        ("Channel", case.channel),
        ("ExternalReference", case.external_reference),
    ):
        _optional(element, name, value)
    _add(element, "CreatedAt", case.created_at)
    _add(element, "UpdatedAt", case.updated_at)
    _optional(element, "TargetDate", case.target_date)
    _optional(element, "Resolution", case.resolution)
    notes = _add(element, "Notes", None)
    for note in case.notes:
        _write_note(notes, "Note", note)


def _write_case_type(parent: Element, case_type: CaseType) -> None:
    _write_record(
        parent,
        "CaseType",
        (
            ("Code", case_type.code),
            ("Name", case_type.name),
            ("Description", case_type.description),
            ("Department", case_type.department),
            ("DefaultPriority", case_type.default_priority),
            ("Active", case_type.active),
        ),
    )


def _response(operation: str) -> Element:
    return etree.Element(_q(f"{operation}Response"), nsmap={None: NS})


def create_case(crm: Crm, request: Element) -> Element:
    new = _child(request, "Case")
    if new is None:
        raise CrmError("REQUIRED", "Case is required", field="Case")
    case = crm.create_case(
        case_type=_required(new, "CaseTypeCode"),
        priority=_text(new, "Priority"),
        summary=_text(new, "Summary") or "",
        location=_location(_child(new, "Location")),
        contact=_contact(_child(new, "Contact")),
        answers=_answers(_child(new, "Answers")),
        photo_url=_text(new, "PhotoUrl"),
        channel=_text(new, "Channel"),
        external_reference=_text(new, "ExternalReference"),
    )
    response = _response("CreateCase")
    _write_case(response, case)
    return response


def get_case(crm: Crm, request: Element) -> Element:
    response = _response("GetCase")
    _write_case(response, crm.get_case(_required(request, "CaseNumber")))
    return response


def find_cases(crm: Crm, request: Element) -> Element:
    criteria = _child(request, "Criteria")
    if criteria is None:
        raise CrmError("REQUIRED", "Criteria is required", field="Criteria")
    found, truncated = crm.find_cases(
        Criteria(
            case_numbers=_texts(_child(criteria, "CaseNumbers"), "CaseNumber"),
            external_reference=_text(criteria, "ExternalReference"),
            case_types=_texts(_child(criteria, "CaseTypeCodes"), "Code"),
            statuses=_texts(_child(criteria, "Statuses"), "Status"),
            created_from=_typed(criteria, "CreatedFrom", _datetime),
            created_before=_typed(criteria, "CreatedBefore", _datetime),
            max_results=_typed(criteria, "MaxResults", int),
        )
    )
    response = _response("FindCases")
    cases = _add(response, "Cases", None)
    for case in found:
        _write_case(cases, case)
    _add(response, "Truncated", truncated)
    return response


def _texts(parent: Element | None, name: str) -> tuple[str, ...]:
    return tuple(child.text or "" for child in _children(parent, name))


def list_changes(crm: Crm, request: Element) -> Element:
    since = _typed(request, "Since", _datetime)
    if since is None:
        raise CrmError("REQUIRED", "Since is required", field="Since")
    response = _response("ListChanges")
    changes = _add(response, "Changes", None)
    for note in crm.list_changes(since, _typed(request, "Until", _datetime)):
        _write_note(changes, "Note", note)
    return response


def add_note(crm: Crm, request: Element) -> Element:
    note = _child(request, "Note")
    if note is None:
        raise CrmError("REQUIRED", "Note is required", field="Note")
    added = crm.add_note(
        _required(request, "CaseNumber"),
        author=_required(note, "Author"),
        text=_text(note, "Text") or "",
        new_status=_text(note, "NewStatus"),
    )
    response = _response("AddNote")
    _write_note(response, "Note", added)
    return response


def list_case_types(crm: Crm, request: Element) -> Element:
    include_inactive = _typed(request, "IncludeInactive", _boolean) or False
    response = _response("ListCaseTypes")
    listed = _add(response, "CaseTypes", None)
    for case_type in crm.list_case_types(include_inactive=include_inactive):
        _write_case_type(listed, case_type)
    return response


OPERATIONS: dict[str, Callable[[Crm, Element], Element]] = {
    "CreateCase": create_case,
    "GetCase": get_case,
    "FindCases": find_cases,
    "ListChanges": list_changes,
    "AddNote": add_note,
    "ListCaseTypes": list_case_types,
}
"""Each operation by the local name of its request element."""


def operation_of(request: Element) -> str:
    """The operation a request element asks for; a `CrmError` when there is none."""
    name = etree.QName(request)
    if name.namespace != NS or name.localname not in OPERATIONS:
        raise CrmError("UNKNOWN_OPERATION", f"no operation {name.text}", field="Body")
    return name.localname
