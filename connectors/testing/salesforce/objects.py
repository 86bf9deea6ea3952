"""The sObjects the simulator holds: their fields as `describe` tells them, and ids.

`service_cloud()` is the default org: Case (with the custom fields an Open311
integration adds), CaseComment and CaseHistory, as Service Cloud has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from connectors.salesforce.ids import checksum

FieldType = Literal[
    "id",
    "string",
    "textarea",
    "picklist",
    "email",
    "phone",
    "url",
    "double",
    "boolean",
    "date",
    "datetime",
    "reference",
]
TEXT_TYPES = frozenset(
    {"id", "string", "textarea", "picklist", "email", "phone", "url", "reference"}
)


@dataclass(frozen=True, slots=True)
class Picklist:
    value: str
    label: str
    active: bool = True
    default: bool = False


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: FieldType
    label: str = ""
    length: int = 255
    picklist: tuple[Picklist, ...] = ()
    restricted: bool = False
    """A restricted picklist refuses values it does not list."""
    external_id: bool = False
    unique: bool = False
    createable: bool = True
    updateable: bool = True
    required: bool = False
    """Must be given on create (describe: not nillable, no default)."""
    filterable: bool = True
    reference_to: str | None = None

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "label": self.label or self.name,
            "type": self.type,
            "length": self.length if self.type in TEXT_TYPES else 0,
            "createable": self.createable,
            "updateable": self.updateable,
            "nillable": not self.required and self.type != "boolean",
            "filterable": self.filterable,
            "externalId": self.external_id,
            "unique": self.unique,
            "restrictedPicklist": self.restricted,
            "referenceTo": [self.reference_to] if self.reference_to else [],
            "picklistValues": [
                {
                    "value": entry.value,
                    "label": entry.label,
                    "active": entry.active,
                    "defaultValue": entry.default,
                    "validFor": None,
                }
                for entry in self.picklist
            ],
        }


@dataclass(frozen=True, slots=True)
class History:
    """Where changes of an object's tracked fields are written."""

    sobject: str
    parent: str
    tracked: frozenset[str]


@dataclass(frozen=True, slots=True)
class ObjectSpec:
    name: str
    key_prefix: str
    fields: tuple[FieldSpec, ...]
    auto_number: str | None = None
    """A field numbered on create (CaseNumber)."""
    history: History | None = None
    closed_values: frozenset[str] = frozenset()
    """Status values that close a record (IsClosed, ClosedDate)."""
    by_name: dict[str, FieldSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {spec.name.lower(): spec for spec in self.fields})

    def field(self, name: str) -> FieldSpec | None:
        return self.by_name.get(name.lower())

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "label": self.name,
            "keyPrefix": self.key_prefix,
            "createable": True,
            "queryable": True,
            "fields": [spec.describe() for spec in self.fields],
        }


_SYSTEM = dict(createable=False, updateable=False)


def _system_fields() -> tuple[FieldSpec, ...]:
    return (
        FieldSpec("CreatedDate", "datetime", "Created Date", **_SYSTEM),
        FieldSpec("LastModifiedDate", "datetime", "Last Modified Date", **_SYSTEM),
    )


def _choices(*values: str, default: str | None = None) -> tuple[Picklist, ...]:
    return tuple(Picklist(value, value, default=value == default) for value in values)


CASE_TYPES = (
    Picklist("Pothole", "Pothole"),
    Picklist("Streetlight", "Street light out"),
    Picklist("Graffiti", "Graffiti"),
    Picklist("Abandoned Vehicle", "Abandoned vehicle"),
    Picklist("Snow Removal", "Snow removal", active=False),
)


def service_cloud() -> tuple[ObjectSpec, ...]:
    case = ObjectSpec(
        "Case",
        "500",
        (
            FieldSpec("Id", "id", "Case ID", 18, **_SYSTEM),
            FieldSpec("CaseNumber", "string", "Case Number", 30, **_SYSTEM),
            FieldSpec("Subject", "string", "Subject", 255),
            FieldSpec("Description", "textarea", "Description", 32000, filterable=False),
            FieldSpec(
                "Status",
                "picklist",
                "Status",
                picklist=_choices("New", "Working", "Escalated", "Closed", default="New"),
                restricted=True,
            ),
            FieldSpec(
                "Priority",
                "picklist",
                "Priority",
                picklist=_choices("High", "Medium", "Low", default="Medium"),
            ),
            FieldSpec(
                "Origin", "picklist", "Case Origin", picklist=_choices("Phone", "Email", "Web")
            ),
            FieldSpec("Type", "picklist", "Type", picklist=CASE_TYPES, restricted=True),
            FieldSpec("SuppliedName", "string", "Name", 80),
            FieldSpec("SuppliedEmail", "email", "Email", 80),
            FieldSpec("SuppliedPhone", "phone", "Phone", 40),
            FieldSpec("IsClosed", "boolean", "Closed", **_SYSTEM),
            FieldSpec("ClosedDate", "datetime", "Closed Date", **_SYSTEM),
            FieldSpec(
                "Open311_Key__c",
                "string",
                "Open311 Key",
                255,
                external_id=True,
                unique=True,
            ),
            FieldSpec("Latitude__c", "double", "Latitude"),
            FieldSpec("Longitude__c", "double", "Longitude"),
            FieldSpec("Address__c", "string", "Address", 255),
            FieldSpec("Address_Id__c", "string", "Address ID", 255),
            FieldSpec("Open311_Attributes__c", "textarea", "Open311 Attributes", 32768),
            FieldSpec("Media_URL__c", "url", "Media URL", 1000),
            FieldSpec("Device_Id__c", "string", "Device ID", 255),
            FieldSpec("Account_Id__c", "string", "Reporter Account ID", 255),
            FieldSpec("Status_Notes__c", "textarea", "Status Notes", 4000, filterable=False),
            *_system_fields(),
        ),
        auto_number="CaseNumber",
        history=History("CaseHistory", "CaseId", frozenset({"Status", "Priority", "Type"})),
        closed_values=frozenset({"Closed"}),
    )
    comment = ObjectSpec(
        "CaseComment",
        "00a",
        (
            FieldSpec("Id", "id", "Case Comment ID", 18, **_SYSTEM),
            FieldSpec(
                "ParentId",
                "reference",
                "Parent Case ID",
                18,
                required=True,
                updateable=False,
                reference_to="Case",
            ),
            FieldSpec("CommentBody", "textarea", "Body", 4000, required=True, filterable=False),
            FieldSpec("IsPublished", "boolean", "Published"),
            *_system_fields(),
        ),
    )
    history = ObjectSpec(
        "CaseHistory",
        "017",
        (
            FieldSpec("Id", "id", "Case History ID", 18, **_SYSTEM),
            FieldSpec("CaseId", "reference", "Case ID", 18, reference_to="Case", **_SYSTEM),
            FieldSpec("Field", "string", "Changed Field", 255, **_SYSTEM),
            FieldSpec("OldValue", "string", "Old Value", 255, **_SYSTEM),
            FieldSpec("NewValue", "string", "New Value", 255, **_SYSTEM),
            FieldSpec("CreatedDate", "datetime", "Created Date", **_SYSTEM),
        ),
    )
    return (case, comment, history)


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def record_id(key_prefix: str, number: int) -> str:
    """An 18-character Salesforce id: the object's prefix, a serial, and the checksum."""
    serial = ""
    for _ in range(7):
        number, digit = divmod(number, 62)
        serial = _BASE62[digit] + serial
    short = f"{key_prefix}5g000{serial}"
    return short + checksum(short)
