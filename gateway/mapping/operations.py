"""What a mapping entry says a value is: the operations of the mapping language.

Each operation is a small pydantic model; together they form a discriminated union
chosen by the key an entry has, so the language grows by adding a member, and an
entry with an unknown key or a misspelt option is a load error:

```yaml
target: description                           # plain text is short for {from: description}
target: {from: PATH, ...modifiers}            # a source of the section
target: {const: VALUE}                        # the same value every time
target: {template: "{first_name} {last_name}", ...modifiers}
target:
  when:                                       # the first rule that holds gives the value
    - {if: CONDITION, then: OPERATION}
  else: OPERATION                             # optional: without it, no value
```

`from` and `template` take modifiers, always applied in this order, whatever order
the file writes them in:

1. `split: SEP`: text becomes the list of its stripped, non-empty parts.
2. `join: SEP`: a list becomes text (text stays as it is).
3. `convert: TYPE` or `{to: TYPE, format: ..., timezone: ...}` (`gateway.mapping.conversions`).
4. `table: NAME`, with `reverse: true` to read the table backwards (`gateway.mapping.tables`).
5. `truncate: N`: text longer than N characters is cut to N (what is not text is left
   as it is; a `convert` to a type other than text, with no table after it, is an error).
6. `default: VALUE`: the value when there is none by now (the source had none, a
   table gave null, a table without fallback did not list it, a split found no part).

`convert`, `table` and `truncate` apply to each item of a list. Nothing here can run
code: templates name sources, conditions compare values.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

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

from gateway.mapping.conditions import Condition
from gateway.mapping.conversions import ConvertType


class _Operation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class _Shorthand(_Operation):
    """An object that may be written as the text of its one required key alone."""

    shorthand_key: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, entry: Any) -> Any:
        return {cls.shorthand_key: entry} if isinstance(entry, str) else entry

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The JSON Schema admits the shorthand too, which the validator above reads.

        The object comes first: editors then explain a misspelt key, not a wanted text.
        """
        schema = handler(core_schema)
        text = handler.resolve_ref_schema(schema)["properties"][cls.shorthand_key]
        described = f"Short for `{{{cls.shorthand_key}: <text>}}`."
        return {"anyOf": [schema, {**text, "description": described}]}


class Convert(_Shorthand):
    """A type conversion; `format` and `timezone` describe the backend's date-times."""

    shorthand_key = "to"

    to: ConvertType
    """The type the value becomes (Open311 date-times are always aware UTC)."""
    format: str | None = Field(default=None, min_length=1)
    """strftime/strptime directives of the backend's date-time text (ISO 8601 without)."""
    timezone: str | None = Field(default=None, min_length=1)
    """The IANA zone of the backend's naive date-times (UTC without)."""


class _Modified(_Operation):
    split: str | None = Field(default=None, min_length=1)
    """1. Text becomes the list of its stripped, non-empty parts between SEP."""
    join: str | None = None
    """2. A list becomes text, its items joined with SEP (text stays as it is)."""
    convert: Convert | None = None
    """3. Each item converted to a type (`int`, `decimal`, `float`, `bool`, `str`,
    `datetime`, `date`)."""
    table: str | None = None
    """4. Each item translated through this value table."""
    reverse: bool = False
    """Read the table backwards (value -> key)."""
    truncate: int | None = None
    """5. Text longer than N characters (at least 1) cut to N."""
    default: Any = None
    """6. The value when there is none by now."""


class Take(_Modified, _Shorthand):
    """A source's value, changed by the modifiers."""

    shorthand_key = "from"

    source: str = Field(alias="from", min_length=1)
    """The source: an input field, `attributes.CODE`, `context.*`, or a backend field path."""


class Template(_Modified):
    """Text with `{source}` placeholders (`{{` and `}}` for braces), then the modifiers."""

    template: str = Field(min_length=1)
    """Text with `{source}` placeholders: one without a value writes nothing; with none
    at all, the entry has no value."""


class Constant(_Operation):
    """The same value every time."""

    const: Any
    """The value, written as YAML (null: no value)."""


class Rule(_Operation):
    """A condition, and the value when it holds."""

    if_: Condition = Field(alias="if")
    """What must hold for this rule to give the value."""
    then: Operation
    """The value when the condition holds."""


class When(_Operation):
    """The value of the first rule whose condition holds, else `else` (or no value)."""

    when: list[Rule] = Field(min_length=1)
    """Rules tried in order; the first whose condition holds gives the value."""
    else_: Operation | None = Field(default=None, alias="else")
    """The value when no rule holds; without it, no value."""


_KEYS = ("from", "const", "template", "when")
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
    Annotated[Take, Tag(_tag("from"))]
    | Annotated[Constant, Tag(_tag("const"))]
    | Annotated[Template, Tag(_tag("template"))]
    | Annotated[When, Tag(_tag("when"))],
    Discriminator(
        _kind_of,
        custom_error_type="operation",
        custom_error_message=(
            "an entry needs one of the keys 'from', 'const', 'template' or 'when' "
            "(or a field path as text)"
        ),
    ),
]

Rule.model_rebuild()
When.model_rebuild()
