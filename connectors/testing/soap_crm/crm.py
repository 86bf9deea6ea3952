"""CaseWorks, the case-management system the SOAP simulator serves: its data and rules.

Its vocabulary is its own, not Open311's: case types with codes and departments,
priorities P1 (urgent) to P4, status names such as `Logged` and `WorkInProgress`,
locations and contacts as nested records, and a list of notes on every case, each
note recording the case's status after it. A case may carry the caller's external
reference, unique across cases. Every refusal is a `CrmError`, which the server
answers as a SOAP fault.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

STATUSES = (
    "Logged",
    "Triaged",
    "Assigned",
    "WorkInProgress",
    "OnHold",
    "Resolved",
    "Rejected",
    "Duplicate",
)
PRIORITIES = ("P1", "P2", "P3", "P4")
TARGET_DAYS = {"P1": 1, "P2": 3, "P3": 10, "P4": 20}
"""How long the back office promises to take, by priority."""
MAX_SUMMARY = 2000
MAX_RESULTS = 500
"""The most cases one search answers; more are cut and flagged as truncated."""


@dataclass(frozen=True, slots=True)
class CaseType:
    code: str
    name: str
    department: str
    default_priority: str
    description: str | None = None
    active: bool = True


DEFAULT_CASE_TYPES = (
    CaseType("RD-POT", "Pothole", "Highways", "P3", "A hole or crack in a road or cycle lane."),
    CaseType("RD-LGT", "Street light fault", "Highways", "P3", "A street light that is out."),
    CaseType("EN-FLY", "Fly-tipping", "Environment", "P2", "Rubbish dumped on public land."),
    CaseType("EN-GRF", "Graffiti", "Environment", "P4", "Graffiti on a public surface."),
    CaseType("PK-TRE", "Fallen tree", "Parks", "P2", "A tree or large branch down."),
    CaseType("XX-OLD", "General enquiry (retired)", "Customer Services", "P4", active=False),
)


class CrmError(Exception):
    """A refusal: `code` is CaseWorks' error code; `sender` says the caller is at fault
    (a SOAP Client/Sender fault) rather than the CRM (Server/Receiver)."""

    def __init__(self, code: str, message: str, *, field: str | None = None, sender: bool = True):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.sender = sender


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Note:
    note_id: int
    case_number: str
    author: str
    text: str
    case_status: str
    created_at: datetime


@dataclass(slots=True)
class Case:
    number: str
    case_type: str
    department: str
    priority: str
    status: str
    summary: str
    location: dict[str, Any]
    contact: dict[str, str] | None
    answers: tuple[Answer, ...]
    photo_url: str | None
    channel: str | None
    external_reference: str | None
    created_at: datetime
    updated_at: datetime
    target_date: datetime | None
    resolution: str | None = None
    notes: list[Note] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Criteria:
    case_numbers: tuple[str, ...] = ()
    external_reference: str | None = None
    case_types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    created_from: datetime | None = None
    created_before: datetime | None = None
    max_results: int | None = None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Crm:
    """The CRM's cases in memory. `clock` gives the time of each change."""

    def __init__(
        self,
        case_types: Iterable[CaseType] = DEFAULT_CASE_TYPES,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.case_types = {case_type.code: case_type for case_type in case_types}
        self._clock = clock
        self._cases: dict[str, Case] = {}
        self._references: dict[str, str] = {}
        self._notes: list[Note] = []
        self._case_numbers = itertools.count(1)
        self._note_ids = itertools.count(1)

    def create_case(
        self,
        *,
        case_type: str,
        summary: str,
        location: dict[str, Any],
        priority: str | None = None,
        contact: dict[str, str] | None = None,
        answers: Sequence[Answer] = (),
        photo_url: str | None = None,
        channel: str | None = None,
        external_reference: str | None = None,
    ) -> Case:
        kind = self.case_types.get(case_type)
        if kind is None or not kind.active:
            raise CrmError("UNKNOWN_CASE_TYPE", f"no active case type '{case_type}'", field="Case")
        if not summary.strip():
            raise CrmError("REQUIRED", "a case needs a summary", field="Summary")
        if len(summary) > MAX_SUMMARY:
            raise CrmError(
                "TOO_LONG", f"a summary has at most {MAX_SUMMARY} characters", field="Summary"
            )
        _check_location(location)
        priority = priority or kind.default_priority
        if priority not in PRIORITIES:
            raise CrmError("INVALID_VALUE", "priority is P1 to P4", field="Priority")
        if external_reference is not None and external_reference in self._references:
            raise CrmError(
                "DUPLICATE_REFERENCE",
                "a case with this external reference exists already",
                field="ExternalReference",
            )
        now = self._clock()
        case = Case(
            number=f"CW-{next(self._case_numbers):06d}",
            case_type=kind.code,
            department=kind.department,
            priority=priority,
            status="Logged",
            summary=summary,
            location=location,
            contact=contact or None,
            answers=tuple(answers),
            photo_url=photo_url,
            channel=channel,
            external_reference=external_reference,
            created_at=now,
            updated_at=now,
            target_date=now + timedelta(days=TARGET_DAYS[priority]),
        )
        self._cases[case.number] = case
        if external_reference is not None:
            self._references[external_reference] = case.number
        self._note(case, "system", f"Case logged through {channel or 'CaseWorks'}", now)
        return case

    def get_case(self, number: str) -> Case:
        case = self._cases.get(number)
        if case is None:
            raise CrmError("CASE_NOT_FOUND", f"no case '{number}'", field="CaseNumber")
        return case

    def find_cases(self, criteria: Criteria) -> tuple[list[Case], bool]:
        """Matching cases, newest first; and whether more matched than were given."""
        if criteria.case_numbers:
            found = [self._cases[n] for n in criteria.case_numbers if n in self._cases]
        elif criteria.external_reference is not None:
            number = self._references.get(criteria.external_reference)
            found = [self._cases[number]] if number is not None else []
        else:
            found = list(self._cases.values())
        for status in criteria.statuses:
            if status not in STATUSES:
                raise CrmError("INVALID_VALUE", f"no status '{status}'", field="Status")
        found = [
            case
            for case in found
            if (not criteria.case_types or case.case_type in criteria.case_types)
            and (not criteria.statuses or case.status in criteria.statuses)
            and (criteria.created_from is None or case.created_at >= criteria.created_from)
            and (criteria.created_before is None or case.created_at < criteria.created_before)
        ]
        found.sort(key=lambda case: (case.created_at, case.number), reverse=True)
        limit = min(criteria.max_results or MAX_RESULTS, MAX_RESULTS)
        if limit < 1:
            raise CrmError("INVALID_VALUE", "MaxResults must be positive", field="MaxResults")
        return found[:limit], len(found) > limit

    def list_changes(self, since: datetime, until: datetime | None = None) -> list[Note]:
        """Notes made in `[since, until)`, oldest first."""
        if until is not None and until <= since:
            raise CrmError("INVALID_VALUE", "Until must be after Since", field="Until")
        return [
            note
            for note in self._notes
            if note.created_at >= since and (until is None or note.created_at < until)
        ]

    def add_note(
        self, number: str, *, author: str, text: str, new_status: str | None = None
    ) -> Note:
        """A note on a case, moving it to `new_status` when given (an officer's action,
        or a citizen's update through the gateway)."""
        case = self.get_case(number)
        if not text.strip():
            raise CrmError("REQUIRED", "a note needs text", field="Text")
        if new_status is not None:
            if new_status not in STATUSES:
                raise CrmError("INVALID_VALUE", f"no status '{new_status}'", field="NewStatus")
            case.status = new_status
        now = self._clock()
        case.updated_at = now
        return self._note(case, author, text, now)

    def resolve(self, number: str, resolution: str, *, status: str = "Resolved") -> Note:
        """An officer closes a case with the resolution the public sees."""
        note = self.add_note(number, author="officer", text=resolution, new_status=status)
        self.get_case(number).resolution = resolution
        return note

    def list_case_types(self, *, include_inactive: bool = False) -> list[CaseType]:
        return [kind for kind in self.case_types.values() if include_inactive or kind.active]

    def retire_case_type(self, code: str) -> None:
        self.case_types[code] = replace(self.case_types[code], active=False)

    @property
    def cases(self) -> list[Case]:
        return list(self._cases.values())

    def _note(self, case: Case, author: str, text: str, at: datetime) -> Note:
        note = Note(next(self._note_ids), case.number, author, text, case.status, at)
        case.notes.append(note)
        self._notes.append(note)
        return note


def _check_location(location: dict[str, Any]) -> None:
    coordinates = location.get("Coordinates")
    if not location.get("Street") and not location.get("PropertyRef") and coordinates is None:
        raise CrmError(
            "REQUIRED", "a location needs a street, a property or coordinates", field="Location"
        )
    if coordinates is not None:
        latitude, longitude = coordinates["Latitude"], coordinates["Longitude"]
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise CrmError("INVALID_VALUE", "coordinates out of range", field="Coordinates")
