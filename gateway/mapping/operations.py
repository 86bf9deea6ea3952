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

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from gateway.mapping.conditions import Condition
from gateway.mapping.conversions import ConvertType


class _Operation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Convert(_Operation):
    """A type conversion; `format` and `timezone` describe the backend's date-times."""

    to: ConvertType
    format: str | None = Field(default=None, min_length=1)
    timezone: str | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, entry: Any) -> Any:
        return {"to": entry} if isinstance(entry, str) else entry


class _Modified(_Operation):
    split: str | None = Field(default=None, min_length=1)
    join: str | None = None
    convert: Convert | None = None
    table: str | None = None
    reverse: bool = False
    truncate: int | None = None
    default: Any = None


class Take(_Modified):
    """A source's value, changed by the modifiers."""

    source: str = Field(alias="from", min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, entry: Any) -> Any:
        return {"from": entry} if isinstance(entry, str) else entry


class Template(_Modified):
    """Text with `{source}` placeholders (`{{` and `}}` for braces), then the modifiers."""

    template: str = Field(min_length=1)


class Constant(_Operation):
    """The same value every time."""

    const: Any


class Rule(_Operation):
    if_: Condition = Field(alias="if")
    then: Operation


class When(_Operation):
    """The value of the first rule whose condition holds, else `else` (or no value)."""

    when: list[Rule] = Field(min_length=1)
    else_: Operation | None = Field(default=None, alias="else")


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
