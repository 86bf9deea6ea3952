"""Value tables: code lists translated between the backend and Open311.

One table serves both ways: read forward (`key → value`) to translate a code, read
backwards (`value → key`) when the table is written from the other side, and inverted
(`value → every key giving it`) to turn an Open311 filter into backend values, which
is how `status=open` becomes every backend state that reads as open. A value of null
means "no value": the target is left out. A value not in the table takes the
`fallback` when one is given; without one it has no value when the entry has a
`default` (which then applies), else it is a `MappingError`. Filters list only the keys
written in a table: a backend value that only the fallback covers is not found by one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from gateway.mapping.errors import MappingError
from gateway.mapping.values import NUMBERS, kind_of

Scalar = str | int | float | bool


class ValueTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    values: dict[str, Scalar | None]
    """Code -> value; null means "no value": the target is left out."""
    fallback: Scalar | None = None
    """The result for a value not in the table; without it, such a value is an error."""

    @property
    def has_fallback(self) -> bool:
        return "fallback" in self.model_fields_set


def table_key(value: Any) -> str | None:
    """Table keys are text in YAML; a backend's numeric code finds its entry as text.

    Only text and numbers can be keys: anything else (a record, a list, bytes) is in
    no table.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, NUMBERS):
        try:
            return str(value)
        except ValueError:  # an int beyond Python's digit limit
            return None
    return None


class Lookup:
    """A table compiled for fast translation in both directions."""

    def __init__(self, name: str, table: ValueTable) -> None:
        self.name = name
        self.table = table
        keys_by_value: dict[str, list[str]] = {}
        for key, value in table.values.items():
            if value is not None:
                keys_by_value.setdefault(table_key(value), []).append(key)
        self._keys_by_value = {value: tuple(keys) for value, keys in keys_by_value.items()}
        self._backwards = {value: keys[0] for value, keys in keys_by_value.items()}

    def shared_values(self) -> list[str]:
        """Values given by several keys: reading backwards could not tell which key."""
        return [value for value, keys in self._keys_by_value.items() if len(keys) > 1]

    def forward(self, source: str, *, defaulted: bool) -> Callable[[Any], Any]:
        return self._translator(self.table.values, source, defaulted)

    def backwards(self, source: str, *, defaulted: bool) -> Callable[[Any], Any]:
        return self._translator(self._backwards, source, defaulted)

    def keys_giving(self, values: Iterable[Any]) -> tuple[str, ...]:
        """Every key whose value is one of `values`, without repeats."""
        found: dict[str, None] = {}
        for value in values:
            found.update(dict.fromkeys(self._keys_by_value.get(table_key(value), ())))
        return tuple(found)

    def values_for(self, keys: Iterable[Any]) -> tuple[Any, ...]:
        """The values of `keys` that are in the table (the inverse of reading backwards)."""
        found: dict[Any, None] = {}
        for key in keys:
            value = self.table.values.get(table_key(key))
            if value is not None:
                found[value] = None
        return tuple(found)

    def _translator(
        self, entries: dict[str, Any], source: str, defaulted: bool
    ) -> Callable[[Any], Any]:
        """`defaulted`: the entry has a `default`, which stands in for a missing fallback."""
        name, fallback = self.name, self.table.fallback
        if self.table.has_fallback or defaulted:

            def translate_or_fall_back(value: Any) -> Any:
                key = value if value.__class__ is str else table_key(value)
                return fallback if key is None else entries.get(key, fallback)

            return translate_or_fall_back

        def translate(value: Any) -> Any:
            key = value if value.__class__ is str else table_key(value)
            if key is not None and key in entries:
                return entries[key]
            shown = kind_of(value) if key is None else f"'{key}'"
            raise MappingError(f"{source}: {shown} is not in table '{name}', which has no fallback")

        return translate
