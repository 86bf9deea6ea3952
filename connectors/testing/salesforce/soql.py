"""The SOQL subset the simulator answers, parsed for real.

    SELECT field, ... FROM object
    [WHERE condition] [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...]
    [LIMIT n] [OFFSET n]

A condition compares a field with a literal (`=`, `!=`, `<>`, `<`, `<=`, `>`, `>=`),
tests it against a list (`IN`, `NOT IN`) or a pattern (`LIKE`, with `%` and `_`), and
combines conditions with `AND`, `OR`, `NOT` and parentheses. As in Salesforce, `AND`
and `OR` cannot be mixed at one level without parentheses. Literals: quoted text with
SOQL's escapes, numbers, `true`, `false`, `null`, date-times and dates. Keywords are
case-insensitive. Anything else is a `SoqlError`, which the simulator answers as
Salesforce does (MALFORMED_QUERY).

The parsed `Query` is plain data, so a test can compare what a connector sent with the
structure it meant to send, values included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

Value = str | int | Decimal | bool | datetime | date | None


class SoqlError(ValueError):
    """The statement is not in the subset: Salesforce's MALFORMED_QUERY."""


@dataclass(frozen=True, slots=True)
class Comparison:
    field: str
    operator: str
    """One of `=`, `!=`, `<`, `<=`, `>`, `>=` (`<>` is read as `!=`)."""
    value: Value


@dataclass(frozen=True, slots=True)
class Membership:
    field: str
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Like:
    field: str
    value: str
    """The pattern as written, escapes resolved."""
    pattern: re.Pattern[str] = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Not:
    condition: Condition


@dataclass(frozen=True, slots=True)
class Junction:
    operator: Literal["AND", "OR"]
    conditions: tuple[Condition, ...]


Condition = Comparison | Membership | Like | Not | Junction


@dataclass(frozen=True, slots=True)
class Order:
    field: str
    descending: bool = False
    nulls_last: bool | None = None
    """None: Salesforce's default (nulls first ascending, last descending)."""


@dataclass(frozen=True, slots=True)
class Query:
    fields: tuple[str, ...]
    sobject: str
    where: Condition | None = None
    order_by: tuple[Order, ...] = ()
    limit: int | None = None
    offset: int | None = None


KEYWORDS = frozenset(
    {
        *("SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY"),
        *("ASC", "DESC", "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "TRUE", "FALSE", "NULL"),
    }
)
OPERATORS = {"=": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<operator><=|>=|!=|<>|=|<|>)
  | (?P<punctuation>[(),])
  | (?P<quote>')
    """,
    re.VERBOSE,
)
_ESCAPED = {
    "n": "\n",
    "N": "\n",
    "r": "\r",
    "R": "\r",
    "t": "\t",
    "T": "\t",
    "b": "\b",
    "B": "\b",
    "f": "\f",
    "F": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
    "%": "%",
    "_": "_",
}
_WILDCARDS = {"%": ".*", "_": "."}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    """word, keyword, text, number, datetime, date, operator, punctuation or end."""
    text: str
    value: Value = None
    like: str = ""
    """For text: the pattern it stands for after LIKE, as a regular expression."""
    at: int = 0


def tokens(statement: str) -> list[Token]:
    found: list[Token] = []
    at = 0
    while at < len(statement):
        match = _TOKEN.match(statement, at)
        if match is None:
            raise SoqlError(f"unexpected character at {at}: {statement[at]!r}")
        kind = match.lastgroup
        assert kind is not None
        text = match.group()
        if kind == "quote":
            token, at = _text(statement, at)
            found.append(token)
            continue
        at = match.end()
        if kind == "space":
            continue
        if kind == "word" and text.upper() in KEYWORDS:
            found.append(Token("keyword", text.upper(), at=match.start()))
        elif kind == "number":
            value: Value = Decimal(text) if "." in text else int(text)
            found.append(Token(kind, text, value, at=match.start()))
        elif kind == "datetime":
            found.append(Token(kind, text, datetime.fromisoformat(text), at=match.start()))
        elif kind == "date":
            found.append(Token(kind, text, date.fromisoformat(text), at=match.start()))
        else:
            found.append(Token(kind, text, at=match.start()))
    found.append(Token("end", "", at=len(statement)))
    return found


def _text(statement: str, start: int) -> tuple[Token, int]:
    """The quoted text starting at `start`, decoded; and where the statement goes on."""
    value: list[str] = []
    pattern: list[str] = []
    at = start + 1
    while at < len(statement):
        char = statement[at]
        if char == "'":
            text = "".join(value)
            return Token("text", statement[start : at + 1], text, "".join(pattern), start), at + 1
        if char == "\\":
            escaped = statement[at + 1 : at + 2]
            if escaped not in _ESCAPED:
                raise SoqlError(f"invalid escape sequence at {at}: \\{escaped}")
            value.append(_ESCAPED[escaped])
            pattern.append(re.escape(_ESCAPED[escaped]))
            at += 2
            continue
        value.append(char)
        pattern.append(_WILDCARDS.get(char) or re.escape(char))
        at += 1
    raise SoqlError(f"the text starting at {start} is never closed")


def parse(statement: str) -> Query:
    return _Parser(tokens(statement)).query()


class _Parser:
    def __init__(self, found: list[Token]) -> None:
        self._tokens = found
        self._at = 0

    def _peek(self) -> Token:
        return self._tokens[self._at]

    def _next(self) -> Token:
        token = self._tokens[self._at]
        if token.kind != "end":
            self._at += 1
        return token

    def _accept(self, kind: str, text: str | None = None) -> Token | None:
        token = self._peek()
        if token.kind == kind and (text is None or token.text == text):
            return self._next()
        return None

    def _expect(self, kind: str, text: str | None = None) -> Token:
        token = self._accept(kind, text)
        if token is None:
            found = self._peek()
            wanted = text or kind
            raise SoqlError(f"expected {wanted} at {found.at}, found {found.text or 'the end'!r}")
        return token

    def _name(self) -> str:
        return self._expect("word").text

    def query(self) -> Query:
        self._expect("keyword", "SELECT")
        fields = [self._name()]
        while self._accept("punctuation", ","):
            fields.append(self._name())
        self._expect("keyword", "FROM")
        sobject = self._name()
        where = self._condition() if self._accept("keyword", "WHERE") else None
        order: list[Order] = []
        if self._accept("keyword", "ORDER"):
            self._expect("keyword", "BY")
            order.append(self._order())
            while self._accept("punctuation", ","):
                order.append(self._order())
        limit = self._count() if self._accept("keyword", "LIMIT") else None
        offset = self._count() if self._accept("keyword", "OFFSET") else None
        self._expect("end")
        return Query(tuple(fields), sobject, where, tuple(order), limit, offset)

    def _count(self) -> int:
        token = self._expect("number")
        if not isinstance(token.value, int) or token.value < 0:
            raise SoqlError(f"expected a whole number at {token.at}")
        return token.value

    def _order(self) -> Order:
        name = self._name()
        descending = bool(self._accept("keyword", "DESC"))
        if not descending:
            self._accept("keyword", "ASC")
        nulls_last = None
        if self._accept("keyword", "NULLS"):
            if self._accept("keyword", "LAST"):
                nulls_last = True
            else:
                self._expect("keyword", "FIRST")
                nulls_last = False
        return Order(name, descending, nulls_last)

    def _condition(self) -> Condition:
        first = self._unit()
        joiner = self._peek()
        if joiner.kind != "keyword" or joiner.text not in ("AND", "OR"):
            return first
        operator: Literal["AND", "OR"] = "AND" if joiner.text == "AND" else "OR"
        conditions = [first]
        while self._accept("keyword", operator):
            conditions.append(self._unit())
        other = self._peek()
        if other.kind == "keyword" and other.text in ("AND", "OR"):
            raise SoqlError(f"AND and OR mixed without parentheses at {other.at}")
        return Junction(operator, tuple(conditions))

    def _unit(self) -> Condition:
        if self._accept("keyword", "NOT"):
            return Not(self._unit())
        if self._accept("punctuation", "("):
            inner = self._condition()
            self._expect("punctuation", ")")
            return inner
        return self._predicate()

    def _predicate(self) -> Condition:
        name = self._name()
        operator = self._accept("operator")
        if operator is not None:
            return Comparison(name, OPERATORS[operator.text], self._value())
        if self._accept("keyword", "LIKE"):
            text = self._expect("text")
            assert isinstance(text.value, str)
            return Like(name, text.value, re.compile(text.like, re.IGNORECASE | re.DOTALL))
        negated = bool(self._accept("keyword", "NOT"))
        self._expect("keyword", "IN")
        self._expect("punctuation", "(")
        values = [self._value()]
        while self._accept("punctuation", ","):
            values.append(self._value())
        self._expect("punctuation", ")")
        return Membership(name, tuple(values), negated)

    def _value(self) -> Value:
        token = self._next()
        if token.kind in ("text", "number", "datetime", "date"):
            return token.value
        if token.kind == "keyword" and token.text in ("TRUE", "FALSE", "NULL"):
            return {"TRUE": True, "FALSE": False, "NULL": None}[token.text]
        raise SoqlError(f"expected a value at {token.at}, found {token.text or 'the end'!r}")
