"""Compiled date-time formats read and write exactly as strptime and strftime do."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.mapping.timeformats import format_problem, text_parser, text_writer

DIRECTIVES = ["%Y", "%m", "%d", "%H", "%M", "%S"]
LITERALS = ["", "/", "-", " ", "T", ":", "%%", "  ", "x.y", "at "]


@st.composite
def formats(draw: st.DrawFn) -> str:
    """Numeric directives, each at most once (strptime refuses repeats), between literals."""
    directives = draw(st.lists(st.sampled_from(DIRECTIVES), min_size=1, unique=True))
    literals = draw(st.lists(st.sampled_from(LITERALS), min_size=len(directives) + 1))
    parts = [literal + directive for literal, directive in zip(literals, directives, strict=False)]
    return "".join(parts) + literals[len(directives)]


moments = st.datetimes(min_value=datetime(1000, 1, 1))


def _read(parse: object, text: str) -> datetime | str:
    try:
        return parse(text)  # type: ignore[operator]
    except ValueError:
        return "ValueError"


@settings(max_examples=300, deadline=None)
@given(format=formats(), moment=moments)
def test_written_as_strftime_writes(format: str, moment: datetime) -> None:
    assert text_writer(format)(moment) == moment.strftime(format)


@settings(max_examples=300, deadline=None)
@given(format=formats(), moment=moments, noise=st.sampled_from(["", " ", "0", "1", "x"]))
def test_read_as_strptime_reads(format: str, moment: datetime, noise: str) -> None:
    text = moment.strftime(format) + noise
    expected = _read(lambda value: datetime.strptime(value, format), text)
    assert _read(text_parser(format), text) == expected


@pytest.mark.parametrize(
    ("format", "text", "expected"),
    [
        ("%d/%m/%Y %H:%M", " 1/5/2026  13:07", datetime(2026, 5, 1, 13, 7)),
        ("%Y%m%d", "2026511", datetime(2026, 5, 11)),
        ("%H:%M", "7:05", datetime(1900, 1, 1, 7, 5)),
        ("%d %B %Y", "1 May 2026", datetime(2026, 5, 1)),
        ("day %d", "DAY 3", datetime(1900, 1, 3)),
    ],
)
def test_odd_text_and_other_directives(format: str, text: str, expected: datetime) -> None:
    assert text_parser(format)(text) == expected == datetime.strptime(text, format)


def test_formats_left_to_the_standard_library() -> None:
    moment = datetime(2026, 5, 1, 13, 7, 9, 120000)
    for format in ("%A %d", "%Y-%m-%d %Y", "plain", "%f", "%"):
        assert _read(text_writer(format), moment) == _read(moment.strftime, format)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("format", "reads", "problem"),
    [
        ("%d/%m/%Y %H:%M", True, None),
        ("%A %d %B %Y %Z", True, None),
        ("%s", False, None),
        ("%s", True, "'s' is a bad directive in format '%s'"),
        ("%Y-%Y", True, "a directive is used twice"),
        ("%Y-%Y", False, None),
        ("%Y %", True, "stray % in format '%Y %'"),
    ],
)
def test_format_problems(format: str, reads: bool, problem: str | None) -> None:
    assert format_problem(format, reads=reads) == problem
