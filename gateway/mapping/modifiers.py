"""The value modifiers of `from` and `template`, and the `Value` they compile to.

The order is fixed (split, join, convert, table, truncate, then default; see
`gateway.mapping.operations`) and chosen when the mapping is compiled: a `Value`
holds only the steps an entry asks for, chained into one function.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from gateway.mapping.conversions import Transform, as_text
from gateway.mapping.errors import MappingError
from gateway.mapping.sources import Getter
from gateway.mapping.values import LISTS, NUMBERS, kind_of


def split_text(separator: str) -> Transform:
    def split(value: Any) -> list[str] | None:
        if not isinstance(value, str):
            raise MappingError(f"split needs text, not {kind_of(value)}")
        return list(filter(None, map(str.strip, value.split(separator)))) or None

    return split


def join_items(separator: str) -> Transform:
    def join(value: Any) -> str | None:
        if isinstance(value, str):
            return value
        if not isinstance(value, LISTS):
            raise MappingError(f"join needs a list, not {kind_of(value)}")
        texts = []
        for item in value:
            if item is None:
                continue
            if not isinstance(item, (str, *NUMBERS)) or isinstance(item, bool):
                raise MappingError(f"join needs items of text or numbers, not {kind_of(item)}")
            texts.append(as_text(item))
        return separator.join(texts) if texts else None

    return join


def truncate_text(length: int) -> Transform:
    return lambda value: (
        value[:length] if value.__class__ is str or isinstance(value, str) else value
    )


def _chain(transforms: Sequence[Transform]) -> Transform:
    """One function applying `transforms` in turn, stopping at a missing value."""
    if len(transforms) == 1:
        return transforms[0]
    chained = tuple(transforms)

    def chain(value: Any) -> Any:
        for transform in chained:
            value = transform(value)
            if value is None:
                return None
        return value

    return chain


def each(change: Transform, items: list[Any] | tuple[Any, ...]) -> list[Any] | None:
    """`change` applied to every item of a list, leaving out missing ones."""
    results = []
    for item in items:
        if item is not None and (result := change(item)) is not None:
            results.append(result)
    return results or None


class Value(NamedTuple):
    """A compiled entry: read a value, change it while it has one (each item of a
    list, or the value itself), else give `default`. Without `read`, the value is
    `default` every time (a `const`).

    Kept in three parts, not one closure, so that the loops applying a whole section
    (`gateway.mapping.compiled`) run them without a frame of their own per field.
    """

    read: Getter | None
    change: Transform | None
    default: Any

    def getter(self) -> Getter:
        """The value as one function, for where it is nested (a rule's `then`)."""
        read, change, default = self
        if read is None:
            return lambda _subject: default
        if change is None:
            if default is None:
                return read
            return lambda subject: default if (value := read(subject)) is None else value

        def get(subject: Any) -> Any:
            value = read(subject)
            if value is None:
                return default
            value = each(change, value) if isinstance(value, LISTS) else change(value)
            return default if value is None else value

        return get


def modified_value(
    read: Getter, whole: Sequence[Transform], per_item: Sequence[Transform], default: Any
) -> Value:
    """`whole` steps (split, join) take the value as it is; `per_item` steps (convert,
    table, truncate) take each item of a list, or the value itself when it is not one."""
    if whole:
        read = _whole(read, _chain(whole))
    return Value(read, _chain(per_item) if per_item else None, default)


def _whole(read: Getter, transform: Transform) -> Getter:
    def get(subject: Any) -> Any:
        value = read(subject)
        return None if value is None else transform(value)

    return get
