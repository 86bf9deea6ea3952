"""Date-time formats of `convert`, compiled once for reading and writing text.

`datetime.strptime` and `strftime` re-read their format (and check the locale) on
every call, which costs more than the rest of a record's mapping. A format made only
of the numeric directives %Y %m %d %H %M %S (with %% and any literal text) is
compiled here into a regular expression for reading and a %-pattern for writing.
Text whose numbers are all zero-padded, as backends write them, is rearranged into
ISO 8601 for `datetime.fromisoformat`; other text is matched number by number (a
day may be written `1`, as `strptime` allows). Reading falls back to `strptime`
whenever neither expression matches (or the numbers are out of range), so odd
input (space-padded days, say) is read exactly as `strptime` reads it, and so are
formats with any other directive, which this module leaves to the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from operator import attrgetter, itemgetter

_NUMERIC: dict[str, tuple[str, str, str, str]] = {
    # directive: (datetime field, what it matches, how it is written, its padded digits)
    "Y": ("year", r"(\d\d\d\d)", "%d", r"(\d\d\d\d)"),
    "m": ("month", r"(1[0-2]|0[1-9]|[1-9])", "%02d", r"(\d\d)"),
    "d": ("day", r"(3[01]|[12]\d|0[1-9]|[1-9])", "%02d", r"(\d\d)"),
    "H": ("hour", r"(2[0-3]|[01]\d|\d)", "%02d", r"(\d\d)"),
    "M": ("minute", r"([0-5]\d|\d)", "%02d", r"(\d\d)"),
    "S": ("second", r"(6[01]|[0-5]\d|\d)", "%02d", r"(\d\d)"),
}
_DEFAULTS = {"year": 1900, "month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0}
"""What `strptime` gives the fields a format does not read, in `datetime`'s order."""
_WHITESPACE = re.compile(r"\s+")


def _pieces(format: str) -> list[str] | None:
    """Literal text and directives, alternating (text first and last), or None when a
    directive is not numeric or repeats, or there is none (left to the standard library)."""
    pieces: list[str] = []
    literal: list[str] = []
    seen: set[str] = set()
    index = 0
    while index < len(format):
        char = format[index]
        if char != "%":
            literal.append(char)
            index += 1
            continue
        directive = format[index + 1 : index + 2]
        if directive == "%":
            literal.append("%")
        elif directive in _NUMERIC and directive not in seen:
            seen.add(directive)
            pieces.extend(["".join(literal), f"%{directive}"])
            literal = []
        else:
            return None
        index += 2
    pieces.append("".join(literal))
    return pieces if seen else None


def _literal_pattern(text: str) -> str:
    """Literal text as `strptime` matches it: any run of whitespace for whitespace."""
    return r"\s+".join(re.escape(part) for part in _WHITESPACE.split(text))


_ORDER = tuple(_DEFAULTS)
"""The positional arguments of `datetime`."""
_ISO_AFTER = ("-", "-", "T", ":", ":", "")
"""What follows each of them in ISO 8601 text."""


def _fields(pieces: list[str]) -> list[str]:
    return [_NUMERIC[piece[1]][0] for piece in pieces[1::2]]


def _joined(pieces: list[str], literal: Callable[[str], str], directive: int) -> str:
    """The pieces as one pattern: literal text through `literal`, each directive as
    the item `directive` of its `_NUMERIC` entry."""
    return "".join(
        literal(piece) if index % 2 == 0 else _NUMERIC[piece[1]][directive]
        for index, piece in enumerate(pieces)
    )


def text_parser(format: str) -> Callable[[str], datetime]:
    """Reads text in `format` into a datetime; raises ValueError as `strptime` does."""
    pieces = _pieces(format)
    if pieces is None:
        return lambda text: datetime.strptime(text, format)
    fields = _fields(pieces)
    pattern = re.compile(_joined(pieces, _literal_pattern, 1), re.IGNORECASE)
    missing = [name for name in _ORDER if name not in fields]
    defaults = tuple(_DEFAULTS[name] for name in missing)
    arguments = itemgetter(
        *(
            fields.index(name) if name in fields else len(fields) + missing.index(name)
            for name in _ORDER
        )
    )

    padded = re.compile(_joined(pieces, _literal_pattern, 3), re.IGNORECASE)
    iso = "".join(
        ("%s" if name in fields else f"{_DEFAULTS[name]:0{4 if name == 'year' else 2}d}") + after
        for name, after in zip(_ORDER, _ISO_AFTER, strict=True)
    )
    groups = tuple(fields.index(name) + 1 for name in _ORDER if name in fields)
    from_iso = datetime.fromisoformat

    def parse(text: str) -> datetime:
        found = padded.fullmatch(text)
        if found is not None:  # the usual text: every number zero-padded
            try:
                return from_iso(iso % found.group(*groups))
            except ValueError:
                pass
        found = pattern.fullmatch(text)
        if found is not None:
            try:
                return datetime(*arguments((*map(int, found.groups()), *defaults)))
            except ValueError:
                pass
        return datetime.strptime(text, format)

    return parse


def text_writer(format: str) -> Callable[[datetime], str]:
    """Writes a datetime in `format`, as `strftime` writes it."""
    pieces = _pieces(format)
    if pieces is None:
        return lambda value: value.strftime(format)
    fields = _fields(pieces)
    pattern = _joined(pieces, lambda text: text.replace("%", "%%"), 2)
    values = attrgetter(*fields)
    return lambda value: pattern % values(value)


_SAMPLE = datetime(2001, 2, 3, 4, 5, 6, 7, tzinfo=UTC)
"""A date-time whose fields all differ, to try a format on."""


def format_problem(format: str, *, reads: bool) -> str | None:
    """Why `format` is no date-time format (None when it is one): it must write a
    date-time and, to read backend text, read back what it writes."""
    try:
        text = _SAMPLE.strftime(format)
        if reads:
            datetime.strptime(text, format)
    except ValueError as exc:
        return str(exc)
    except re.error:  # what strptime makes of a directive used twice
        return "a directive is used twice"
    return None
