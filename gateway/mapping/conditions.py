"""Conditions of `when` rules, and the tests they compile to.

A condition reads one source of its section and tests its value:

```yaml
{field: attributes.position, equals: junction}   # a list attribute: the list contains it
{field: service_code, in: [POT, SL]}               # a list: one of its items is listed
{field: attributes.depth, present: true}           # has a value (is not missing)
{all: [CONDITION, ...]}                            # every one holds
{any: [CONDITION, ...]}                            # at least one holds
```
Values are compared as the section gives them, without conversion: text equals text,
so a number in the file never equals an attribute's text. A value that cannot be
compared (a record, a signalling NaN) fails the test instead of raising.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from gateway.mapping.sources import Getter
from gateway.mapping.tables import Scalar
from gateway.mapping.values import LISTS

Test = Callable[[Any], bool]
"""Whether a condition holds for a subject (what the section reads)."""


class _Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class _FieldTest(_Condition):
    field: str = Field(min_length=1)
    """The source whose value is tested."""


class Equals(_FieldTest):
    """The value is this one (a list: contains it)."""

    equals: Scalar | None


class OneOf(_FieldTest):
    """The value is one of these (a list: one of its items is)."""

    in_: list[Scalar] = Field(alias="in", min_length=1)


class Present(_FieldTest):
    """The value is there (true) or missing (false)."""

    present: bool


class AllOf(_Condition):
    """Every condition holds."""

    all: list[Condition] = Field(min_length=1)


class AnyOf(_Condition):
    """At least one condition holds."""

    any: list[Condition] = Field(min_length=1)


_TESTS = ("equals", "in", "present")


def _tag(kind: str) -> str:
    """A union tag with '[' in it, so located errors leave it out of the key path."""
    return f"condition[{kind}]"


def _kind_of(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return None
    for group in ("all", "any"):
        if group in entry:
            return _tag(group)
    tests = [test for test in _TESTS if test in entry]
    return _tag(tests[0]) if len(tests) == 1 else None


Condition = Annotated[
    Annotated[Equals, Tag(_tag("equals"))]
    | Annotated[OneOf, Tag(_tag("in"))]
    | Annotated[Present, Tag(_tag("present"))]
    | Annotated[AllOf, Tag(_tag("all"))]
    | Annotated[AnyOf, Tag(_tag("any"))],
    Discriminator(
        _kind_of,
        custom_error_type="condition",
        custom_error_message=(
            "a condition is 'field' with exactly one of 'equals', 'in' or 'present', "
            "or 'all' or 'any' of conditions"
        ),
    ),
]

AllOf.model_rebuild()
AnyOf.model_rebuild()


def equals_test(read: Getter, expected: Any) -> Test:
    def test(subject: Any) -> bool:
        value = read(subject)
        try:
            if value.__class__ is not str and isinstance(value, LISTS):
                return expected in value
            return bool(value == expected)
        except ArithmeticError:  # a signalling NaN refuses to be compared
            return False

    return test


def one_of_test(read: Getter, allowed: Sequence[Any]) -> Test:
    values = frozenset(allowed)

    def test(subject: Any) -> bool:
        value = read(subject)
        try:
            if value.__class__ is not str and isinstance(value, LISTS):
                return not values.isdisjoint(value)
            return value in values
        except (TypeError, ArithmeticError):  # unhashable (a record), a signalling NaN
            return False

    return test


def present_test(read: Getter, expected: bool) -> Test:
    return lambda subject: (read(subject) is not None) is expected


def all_test(tests: Sequence[Test]) -> Test:
    first, *rest = tests
    if not rest:
        return first
    others = all_test(rest)
    return lambda subject: first(subject) and others(subject)


def any_test(tests: Sequence[Test]) -> Test:
    first, *rest = tests
    if not rest:
        return first
    others = any_test(rest)
    return lambda subject: first(subject) or others(subject)
