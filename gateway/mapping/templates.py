"""Text templates: `"{first_name} {last_name}"`, parsed once, filled without code.

A placeholder is the name of a source of the section (`{attributes.depth}`,
`{context.idempotency_key}`, a record's `{ticket_no}`); `{{` and `}}` write braces.
Nothing is evaluated: the text between braces is only ever looked up as a name.

Filling: a missing value writes nothing, and the spaces it would have stood between
collapse to one; the result is stripped. When every placeholder is missing the
template has no value at all, so that `default` applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.mapping.conversions import to_text
from gateway.mapping.errors import MappingError
from gateway.mapping.sources import Getter
from gateway.mapping.values import LISTS, kind_of


class TemplateError(ValueError):
    """A template that cannot be parsed; the message says how to write it."""


@dataclass(frozen=True, slots=True)
class ParsedTemplate:
    literals: tuple[str, ...]
    """The text around the placeholders: one more than there are placeholders."""
    names: tuple[str, ...]


def parse_template(text: str) -> ParsedTemplate:
    literals: list[str] = []
    names: list[str] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char in "{}" and text.startswith(char * 2, index):
            literal.append(char)
            index += 2
        elif char == "}":
            raise TemplateError("a '}' closes no placeholder: write '}}' for a brace")
        elif char == "{":
            end = text.find("}", index + 1)
            if end < 0:
                raise TemplateError("a '{' opens a placeholder that is never closed")
            name = text[index + 1 : end]
            if not name or "{" in name:
                raise TemplateError("a placeholder needs a source name: write '{{' for a brace")
            literals.append("".join(literal))
            names.append(name)
            literal = []
            index = end + 1
        else:
            literal.append(char)
            index += 1
    if not names:
        raise TemplateError("the template has no placeholder: use const for fixed text")
    literals.append("".join(literal))
    return ParsedTemplate(tuple(literals), tuple(names))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, LISTS):
        return ", ".join(_text(item) for item in value if item is not None)
    try:
        return to_text(value)
    except MappingError:
        raise MappingError(f"{kind_of(value)} cannot be written into a template") from None


def render_template(parsed: ParsedTemplate, readers: Sequence[Getter]) -> Getter:
    head = parsed.literals[0]
    parts = tuple(zip(readers, parsed.literals[1:], strict=True))

    def render(subject: Any) -> str | None:
        out = head
        found = False
        for read, literal in parts:
            value = read(subject)
            if value is None:
                text = ""
            elif value.__class__ is str:  # the usual case, without a call
                text = value
            else:
                text = _text(value)
            if text:
                found = True
                out += text + literal
            elif not out or out.endswith(" "):
                out += literal.lstrip(" ")
            else:
                out += literal
        return out.strip() if found else None

    return render
