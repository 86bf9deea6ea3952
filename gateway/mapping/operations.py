"""What a mapping entry says a value is: the operations of the mapping language.

Each operation is a small pydantic model; together they form a discriminated union
chosen by the key an entry has (`from`, `const`), so the language grows by adding a
member, and an entry with an unknown key or a misspelt option is a load error. Plain
text is short for `{from: <text>}`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    Tag,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


class _Operation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Take(_Operation):
    """A source field's value, or `default` when it has none, translated by `table`.

    `reverse: true` reads the table backwards (value → key), so the table that writes
    a code to the backend also reads it back.
    """

    source: str = Field(alias="from", min_length=1)
    default: Any = None
    table: str | None = None
    reverse: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, entry: Any) -> Any:
        return {"from": entry} if isinstance(entry, str) else entry

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The JSON Schema admits the shorthand too, which the validator above reads.

        The object comes first: editors then explain a misspelt key, not a wanted text.
        """
        schema = handler(core_schema)
        text = handler.resolve_ref_schema(schema)["properties"]["from"]
        return {"anyOf": [schema, {**text, "description": "Short for `{from: <text>}`."}]}


class Constant(_Operation):
    """The same value every time."""

    const: Any


_KEYS = ("from", "const")
"""The key that says which operation an entry is; the first one present wins."""


def _tag(kind: str) -> str:
    """A union tag with '[' in it, so located errors leave it out of the key path."""
    return f"operation[{kind}]"


def _kind_of(entry: Any) -> str | None:
    if isinstance(entry, str):
        return _tag("from")
    if isinstance(entry, dict):
        return next((_tag(key) for key in _KEYS if key in entry), None)
    return None


Operation = Annotated[
    Annotated[Take, Tag(_tag("from"))] | Annotated[Constant, Tag(_tag("const"))],
    Discriminator(
        _kind_of,
        custom_error_type="operation",
        custom_error_message=(
            "an entry needs one of the keys 'from' or 'const' (or a field path as text)"
        ),
    ),
]
