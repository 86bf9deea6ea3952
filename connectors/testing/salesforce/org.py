"""The simulator's data: records of each sObject, written and read as Salesforce does.

Writes check every field against the object's description and fail with the faults
Salesforce gives (unknown field, read-only field, restricted picklist, text too long,
required field missing, duplicate external id, reference to no record). Creating or
changing a record stamps CreatedDate and LastModifiedDate, numbers it (CaseNumber),
derives IsClosed and ClosedDate, and writes its tracked changes to its history object.

All methods are called from the simulator's event loop, and from test threads reading
what it holds: a lock keeps them apart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from connectors.salesforce.ids import canonical_id
from connectors.testing.salesforce.objects import (
    TEXT_TYPES,
    FieldSpec,
    ObjectSpec,
    record_id,
    service_cloud,
)

Row = dict[str, Any]
Clock = Callable[[], datetime]
Rule = tuple[str, Callable[[Any], bool], str]
"""A validation rule: the field, a test its value must pass, and the message if not."""


class Fault(Exception):
    """A Salesforce error: HTTP status, errorCode, message and the fields concerned."""

    def __init__(self, status: int, code: str, message: str, fields: tuple[str, ...] = ()):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, object]]:
        return [{"message": self.message, "errorCode": self.code, "fields": list(self.fields)}]


def not_found() -> Fault:
    return Fault(404, "NOT_FOUND", "The requested resource does not exist")


def system_clock() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Org:
    def __init__(self, objects: Iterable[ObjectSpec] | None = None, clock: Clock = system_clock):
        self._objects = {spec.name.lower(): spec for spec in (objects or service_cloud())}
        self._rows: dict[str, dict[str, Row]] = {name: {} for name in self._objects}
        """Per object, by 15-character id, in creation order."""
        self._serial = 0
        self._numbers = 1000
        self._clock = clock
        self._rules: dict[str, list[Rule]] = {name: [] for name in self._objects}
        self.lock = threading.RLock()

    def add_rule(
        self, name: str, field_name: str, test: Callable[[Any], bool], message: str
    ) -> None:
        """A validation rule, as an admin writes one: a record whose `field_name` fails
        `test` is refused with FIELD_CUSTOM_VALIDATION_EXCEPTION and `message`."""
        with self.lock:
            spec = self.spec(name)
            column = self._field(spec, field_name)
            self._rules[spec.name.lower()].append((column.name, test, message))

    def spec(self, name: str) -> ObjectSpec:
        spec = self._objects.get(name.lower())
        if spec is None:
            raise Fault(404, "NOT_FOUND", f"The requested resource does not exist: {name}")
        return spec

    def rows(self, name: str) -> list[Row]:
        """Copies of every record of an object, oldest first."""
        with self.lock:
            return [dict(row) for row in self._rows[self.spec(name).name.lower()].values()]

    def get(self, name: str, identifier: str) -> Row:
        with self.lock:
            return dict(self._row(self.spec(name), identifier))

    def _row(self, spec: ObjectSpec, identifier: str) -> Row:
        """The stored record (not a copy) with this id; 404 NOT_FOUND without one."""
        key = canonical_id(identifier)
        row = self._rows[spec.name.lower()].get(key) if key else None
        if row is None:
            raise not_found()
        return row

    def find(self, name: str, field_name: str, value: str) -> list[Row]:
        with self.lock:
            spec = self.spec(name)
            column = self._field(spec, field_name)
            return [
                dict(row)
                for row in self._rows[spec.name.lower()].values()
                if row.get(column.name) == value
            ]

    def create(self, name: str, values: Mapping[str, Any]) -> str:
        with self.lock:
            spec = self.spec(name)
            fields = self._checked(spec, values, creating=True)
            now = self._clock()
            self._serial += 1
            identifier = record_id(spec.key_prefix, self._serial)
            row: Row = {item.name: None for item in spec.fields}
            for item in spec.fields:
                default = next((entry.value for entry in item.picklist if entry.default), None)
                if default is not None:
                    row[item.name] = default
                if item.type == "boolean":
                    row[item.name] = False
            row.update(fields)
            row.update(Id=identifier, CreatedDate=now, LastModifiedDate=now)
            if spec.auto_number:
                self._numbers += 1
                row[spec.auto_number] = f"{self._numbers:08d}"
            self._derive(spec, row, now)
            self._check(spec, row)
            self._rows[spec.name.lower()][identifier[:15]] = row
            if spec.history is not None:
                self._write_history(spec, identifier, [("created", None, None)], now)
            return identifier

    def update(self, name: str, identifier: str, values: Mapping[str, Any]) -> None:
        with self.lock:
            spec = self.spec(name)
            row = self._row(spec, identifier)
            fields = self._checked(spec, values, creating=False)
            self._check(spec, {**row, **fields})
            now = self._clock()
            tracked = spec.history.tracked if spec.history else frozenset()
            changes = [
                (field_name, row.get(field_name), value)
                for field_name, value in fields.items()
                if field_name in tracked and row.get(field_name) != value
            ]
            row.update(fields)
            row["LastModifiedDate"] = now
            self._derive(spec, row, now)
            if changes:
                self._write_history(spec, row["Id"], changes, now)

    def upsert(
        self, name: str, field_name: str, value: str, values: Mapping[str, Any]
    ) -> tuple[str, bool]:
        """Update the record whose external id `field_name` is `value`, or create it;
        its id, and whether it was created."""
        with self.lock:
            spec = self.spec(name)
            column = spec.field(field_name)
            if column is None or not column.external_id:
                raise Fault(
                    404,
                    "NOT_FOUND",
                    f"Provided external ID field does not exist or is not accessible: {field_name}",
                )
            if any(key.lower() == column.name.lower() for key in values):
                raise Fault(
                    400,
                    "INVALID_FIELD",
                    f"The external ID field {column.name} may not be set in the body of an upsert",
                    (column.name,),
                )
            found = self.find(spec.name, column.name, value)
            if len(found) > 1:
                raise Fault(300, "MULTIPLE_RECORDS", f"More than one record for {value}")
            if found:
                self.update(spec.name, found[0]["Id"], values)
                return found[0]["Id"], False
            return self.create(spec.name, {**values, column.name: value}), True

    def _field(self, spec: ObjectSpec, name: str) -> FieldSpec:
        column = spec.field(name)
        if column is None:
            raise Fault(
                400,
                "INVALID_FIELD",
                f"No such column '{name}' on sobject of type {spec.name}",
                (name,),
            )
        return column

    def _checked(self, spec: ObjectSpec, values: Mapping[str, Any], *, creating: bool) -> Row:
        fields: Row = {}
        for name, value in values.items():
            column = self._field(spec, name)
            if not (column.createable if creating else column.updateable):
                raise Fault(
                    400,
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to {'create' if creating else 'update'} fields: {column.name}. "
                    "Please check the security settings of this field.",
                    (column.name,),
                )
            fields[column.name] = self._value(column, value)
        if creating:
            missing = [
                column.name
                for column in spec.fields
                if column.required and fields.get(column.name) in (None, "")
            ]
            if missing:
                raise Fault(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    tuple(missing),
                )
        return fields

    def _value(self, column: FieldSpec, value: Any) -> Any:
        if value is None:
            if column.required:
                raise Fault(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{column.name}]",
                    (column.name,),
                )
            return None
        kind = column.type
        if kind in TEXT_TYPES:
            if not isinstance(value, str):
                raise _cannot_read(column, value)
            return self._text(column, value)
        if kind == "double":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _cannot_read(column, value)
            return float(value)
        if kind == "boolean":
            if not isinstance(value, bool):
                raise _cannot_read(column, value)
            return value
        if not isinstance(value, str):
            raise _cannot_read(column, value)
        try:
            if kind == "date":
                return date.fromisoformat(value)
            instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _cannot_read(column, value) from None
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        return instant.astimezone(UTC).replace(microsecond=0)

    def _text(self, column: FieldSpec, value: str) -> str | None:
        if column.type in ("id", "reference"):
            return self._reference(column, value)
        listed = {entry.value for entry in column.picklist if entry.active}
        if column.type == "picklist" and column.restricted and value not in listed:
            raise Fault(
                400,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{column.label or column.name}: bad value for restricted picklist field: {value}",
                (column.name,),
            )
        if len(value) > column.length:
            raise Fault(
                400,
                "STRING_TOO_LONG",
                f"{column.label or column.name}: data value too large (max length={column.length})",
                (column.name,),
            )
        return value or None

    def _reference(self, column: FieldSpec, value: str) -> str:
        key = canonical_id(value)
        target = self._objects.get((column.reference_to or "").lower())
        row = self._rows[target.name.lower()].get(key) if key and target else None
        if row is None:
            raise Fault(
                400,
                "FIELD_INTEGRITY_EXCEPTION" if key else "MALFORMED_ID",
                f"{column.label or column.name}: id value of incorrect type: {value[:40]}",
                (column.name,),
            )
        return str(row["Id"])

    def _derive(self, spec: ObjectSpec, row: Row, now: datetime) -> None:
        if not spec.closed_values:
            return
        closed = row.get("Status") in spec.closed_values
        if closed and not row.get("IsClosed"):
            row["ClosedDate"] = now
        elif not closed:
            row["ClosedDate"] = None
        row["IsClosed"] = closed

    def _check(self, spec: ObjectSpec, row: Row) -> None:
        for field_name, test, message in self._rules[spec.name.lower()]:
            if not test(row.get(field_name)):
                raise Fault(400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", message, (field_name,))
        self._check_unique(spec, row)

    def _check_unique(self, spec: ObjectSpec, row: Row) -> None:
        for column in spec.fields:
            value = row.get(column.name)
            if not column.unique or value is None:
                continue
            for other in self._rows[spec.name.lower()].values():
                if other["Id"] != row["Id"] and other.get(column.name) == value:
                    raise Fault(
                        400,
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {column.name} duplicates value on record "
                        f"with id: {other['Id']}",
                        (column.name,),
                    )

    def _write_history(
        self, spec: ObjectSpec, parent: str, changes: list[tuple[str, Any, Any]], now: datetime
    ) -> None:
        assert spec.history is not None
        history = self.spec(spec.history.sobject)
        for field_name, old, new in changes:
            self._serial += 1
            identifier = record_id(history.key_prefix, self._serial)
            self._rows[history.name.lower()][identifier[:15]] = {
                "Id": identifier,
                spec.history.parent: parent,
                "Field": field_name,
                "OldValue": old,
                "NewValue": new,
                "CreatedDate": now,
            }


def _cannot_read(column: FieldSpec, value: Any) -> Fault:
    return Fault(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {column.type} from {type(value).__name__} value "
        f"for field {column.name}",
        (column.name,),
    )
