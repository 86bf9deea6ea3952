"""Open311 models filled from backend records.

A target knows the fields of its model (an unknown one is a load error), which ones a
mapping must fill, the values an enumerated field accepts, and how a backend value is
made to fit: a numeric id becomes text, a naive date-time is taken as UTC.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Generic, NamedTuple, TypeVar, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, ValidationError

from gateway.mapping.conversions import as_instant, as_text
from gateway.mapping.errors import MappingError

M = TypeVar("M", bound=BaseModel)
Coerce = Callable[[Any], Any]


class Coercion(NamedTuple):
    """How a backend value is made to fit a field; values of type `fits` already do."""

    apply: Coerce | None
    fits: type | None


_NONE = Coercion(None, None)


def _members(annotation: Any) -> set[Any]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return set().union(*(_members(arg) for arg in get_args(annotation)))
    return {annotation}


def _is_datetime(member: Any) -> bool:
    return member is AwareDatetime or (isinstance(member, type) and issubclass(member, datetime))


def _is_enum(member: Any) -> bool:
    return isinstance(member, type) and issubclass(member, Enum)


class ModelTarget(Generic[M]):
    def __init__(self, model: type[M], described_as: str) -> None:
        self.model = model
        self.described_as = described_as
        self._validate: Callable[[Mapping[str, Any]], M] = (
            model.__pydantic_validator__.validate_python
        )
        """`model_validate` without its keyword handling: the same validation, once
        per record read."""
        self.required = tuple(
            name for name, info in model.model_fields.items() if info.is_required()
        )
        self._coercions: dict[str, Coercion] = {}
        self._choices: dict[str, tuple[str, ...]] = {}
        for name, info in model.model_fields.items():
            members = _members(info.annotation)
            if any(_is_datetime(member) for member in members):
                self._coercions[name] = Coercion(as_instant, None)
            elif str in members:
                self._coercions[name] = Coercion(as_text, str)
            else:
                self._coercions[name] = _NONE
            for enum in filter(_is_enum, members):
                self._choices[name] = tuple(str(choice.value) for choice in enum)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self._coercions)

    def coercion(self, name: str) -> Coercion:
        return self._coercions[name]

    def choices(self, name: str) -> tuple[str, ...] | None:
        """The values an enumerated field accepts; None for a free field."""
        return self._choices.get(name)

    def build(self, values: Mapping[str, Any]) -> M:
        try:
            return self._validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors()
            )
            raise MappingError(
                f"the backend record is not {self.described_as}: {problems}"
            ) from None
