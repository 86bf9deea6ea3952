"""Dotted field paths: `Owner.Name`, `Comments.0.Body`, `history.state`.

Read, a path walks nested records (dicts) and lists (a segment of digits indexes a
list); a missing step gives None. Written, a path builds what it walks through: a
record for a segment followed by a name, a list for one followed by digits (`items.0.name`
makes `{"items": [{"name": ...}]}`; an index past the end pads the list with nulls).
The first segment always names a field of the record itself. Paths are split once,
when the mapping is compiled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import methodcaller
from typing import Any

from gateway.mapping.values import LISTS

Segments = tuple[str, ...]


def split_path(path: str) -> Segments | None:
    """The segments of `path`, or None when it has an empty one (`a..b`, `.a`)."""
    segments = tuple(path.split("."))
    return segments if all(segments) else None


def path_reader(segments: Segments) -> Callable[[dict[str, Any]], Any]:
    """A function reading `segments` out of a record (a dict); None where the path
    leads nowhere."""
    first, *rest = segments
    if not rest:
        return methodcaller("get", first)
    if len(rest) == 1 and not rest[0].isdigit():
        second = rest[0]

        def read_two(record: dict[str, Any]) -> Any:
            node = record.get(first)
            return node.get(second) if node.__class__ is dict or isinstance(node, dict) else None

        return read_two

    def read(record: dict[str, Any]) -> Any:
        node = record.get(first)
        for segment in rest:
            if isinstance(node, dict):
                node = node.get(segment)
            elif isinstance(node, LISTS) and segment.isdigit():
                index = int(segment)
                node = node[index] if index < len(node) else None
            else:
                return None
        return node

    return read


def _is_index(segments: Segments, position: int) -> bool:
    """Whether a written path's segment indexes a list (never the first one)."""
    return position > 0 and segments[position].isdigit()


def path_writer(segments: Segments) -> Callable[[dict[str, Any], Any], None]:
    """A function setting `segments` in a record, creating records and lists on the way."""
    keys: tuple[str | int, ...] = tuple(
        int(segment) if _is_index(segments, position) else segment
        for position, segment in enumerate(segments)
    )
    *parents, last = keys
    if not any(isinstance(key, int) for key in keys):
        return _record_writer(segments)
    walk = tuple((key, _is_index(segments, position + 1)) for position, key in enumerate(parents))
    last_is_index = isinstance(last, int)

    def write(record: dict[str, Any], value: Any) -> None:
        """One frame per value, as `_record_writer`: lists are padded with nulls up to
        an index, and a missing container is made of the kind its next segment needs."""
        node: Any = record
        for key, makes_list in walk:
            if key.__class__ is int:
                if len(node) <= key:
                    node.extend([None] * (key + 1 - len(node)))
                child = node[key]
            else:
                child = node.get(key)
            if child is None:
                child = node[key] = [] if makes_list else {}
            node = child
        if last_is_index and len(node) <= last:
            node.extend([None] * (last + 1 - len(node)))
        node[last] = value

    return write


def _record_writer(segments: Segments) -> Callable[[dict[str, Any], Any], None]:
    """The writer of a path through records only, the usual case, in one frame."""
    *parents, last = segments

    def write(record: dict[str, Any], value: Any) -> None:
        node = record
        for parent in parents:
            child = node.get(parent)
            if child is None:
                child = node[parent] = {}
            node = child
        node[last] = value

    return write


@dataclass(frozen=True, slots=True)
class Clash:
    """`path` needs `container` to be the other kind than `earlier` made it."""

    path: Segments
    earlier: Segments
    container: Segments
    earlier_makes_list: bool


def container_clashes(paths: Iterable[Segments]) -> Iterable[Clash]:
    """Written paths that need one container to be both a list and a record."""
    kinds: dict[Segments, tuple[bool, Segments]] = {}
    for segments in paths:
        for end in range(1, len(segments)):
            container = segments[:end]
            is_list = _is_index(segments, end)
            earlier_is_list, earlier = kinds.setdefault(container, (is_list, segments))
            if earlier_is_list != is_list:
                yield Clash(segments, earlier, container, earlier_is_list)
                break
