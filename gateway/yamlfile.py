"""YAML files that remember where each key came from.

Configuration and mapping files are loaded with ruamel.yaml (YAML 1.2, so `no` stays
a string) and validated with pydantic; every problem is reported as
`file:line:column: key.path: message`, all of them at once.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

M = TypeVar("M", bound=BaseModel)

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class FileErrors(Exception):
    """Every problem found in one or more files, each already located."""

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = tuple(messages)
        super().__init__("\n".join(self.messages))


class YamlDocument:
    """A parsed YAML file with its source positions."""

    def __init__(self, path: Path, root: Any) -> None:
        self.path = path
        self.root = root

    @classmethod
    def load(cls, path: str | Path) -> YamlDocument:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise FileErrors([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
        return cls.parse(text, path)

    @classmethod
    def parse(cls, text: str, path: Path) -> YamlDocument:
        try:
            root = _parsed(text)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
            raise FileErrors([f"{where}: invalid YAML: {exc.problem or exc.context}"]) from exc
        return cls(path, root)

    def locate(self, loc: Iterable[str | int]) -> str:
        """`file:line:col` of the deepest node of `loc` that exists in the file."""
        node, line, column = self.root, None, None
        for part in loc:
            position = _position_of(node, part)
            if position is None:
                break
            line, column = position
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                break
        if line is None:
            return str(self.path)
        return f"{self.path}:{line + 1}:{column + 1}"

    def validate(self, model: type[M], *, expand_env: bool = False) -> M:
        """Validate the whole file as `model`; raise `FileErrors` listing every problem."""
        data = _plain(self.root)
        errors: list[str] = []
        if expand_env:
            data = _expand_env(data, (), self, errors)
        try:
            validated = model.model_validate(data)
        except ValidationError as exc:
            raise FileErrors(errors + self.describe(exc)) from exc
        if errors:
            raise FileErrors(errors)
        return validated

    def describe(self, exc: ValidationError, prefix: Sequence[str | int] = ()) -> list[str]:
        messages = []
        for error in exc.errors():
            loc = [*prefix, *(part for part in error["loc"] if not _is_union_tag(part))]
            key = ".".join(str(part) for part in loc) or "(top level)"
            messages.append(f"{self.locate(loc)}: {key}: {_message(error)}")
        return messages


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> Any:
    """The round-trip tree of `text`, parsed once however often it is loaded: starting a
    gateway reads each mapping more than once (the connector it names, then the whole
    file; `serve` checks before it builds), and parsing is most of a load's time. The
    tree is shared, so it is only read, never changed."""
    return YAML(typ="rt", pure=True).load(text)


def _position_of(node: Any, part: str | int) -> tuple[int, int] | None:
    try:
        if isinstance(node, CommentedMap) and part in node:
            return node.lc.key(part)
        if isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            return node.lc.item(part)
    except (KeyError, TypeError):
        return None
    return None


def _is_union_tag(part: str | int) -> bool:
    """pydantic puts the chosen union member's name in `loc`; it is not a key in the file."""
    return isinstance(part, str) and (part.startswith(("function-", "tagged-union")) or "[" in part)


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return f"unknown key '{error['loc'][-1]}'"
    if error["type"] == "missing":
        return "required key is missing"
    return str(error["msg"])


def _plain(node: Any) -> Any:
    """ruamel's round-trip containers as plain dicts, lists and scalars."""
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    if isinstance(node, str):
        return str(node)
    return node


def _expand_env(node: Any, loc: tuple[str | int, ...], doc: YamlDocument, errors: list[str]) -> Any:
    """Replace `${NAME}` with the environment variable NAME, so secrets stay out of files."""
    if isinstance(node, dict):
        return {key: _expand_env(value, (*loc, key), doc, errors) for key, value in node.items()}
    if isinstance(node, list):
        return [_expand_env(value, (*loc, i), doc, errors) for i, value in enumerate(node)]
    if not isinstance(node, str) or "${" not in node:
        return node

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            key = ".".join(str(part) for part in loc)
            errors.append(f"{doc.locate(loc)}: {key}: environment variable {name} is not set")
            return ""
        return os.environ[name]

    return _ENV_REFERENCE.sub(substitute, node)
