"""Dotted field paths: `Owner.Name`, `Comments.0.Body`, `history.state`.

Read, a path walks nested records (dicts) and lists (a segment of digits indexes a
list); a missing step gives None. Written, a path builds nested dicts, so one mapping
entry can fill a sub-record. Paths are split once, when the mapping is compiled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Segments = tuple[str, ...]


def split_path(path: str) -> Segments | None:
    """The segments of `path`, or None when it has an empty one (`a..b`, `.a`)."""
    segments = tuple(path.split("."))
    return segments if all(segments) else None


def path_reader(segments: Segments) -> Callable[[Any], Any]:
    """A function reading `segments` out of a record; None where the path leads nowhere."""
    if len(segments) == 1:
        key = segments[0]
        return lambda record: record.get(key) if isinstance(record, dict) else None

    def read(record: Any) -> Any:
        for segment in segments:
            if isinstance(record, dict):
                record = record.get(segment)
            elif isinstance(record, list | tuple) and segment.isdigit():
                index = int(segment)
                record = record[index] if index < len(record) else None
            else:
                return None
        return record

    return read


def path_writer(segments: Segments) -> Callable[[dict[str, Any], Any], None]:
    """A function setting `segments` in a record, creating the dicts on the way."""
    *parents, key = segments
    if not parents:

        def write_flat(record: dict[str, Any], value: Any) -> None:
            record[key] = value

        return write_flat

    def write(record: dict[str, Any], value: Any) -> None:
        for parent in parents:
            record = record.setdefault(parent, {})
        record[key] = value

    return write
