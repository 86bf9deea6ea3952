"""Compiling one mapping entry into a getter, checking every name and option it uses.

Each problem is reported where it is written (the entry's `from`, `table`,
`convert.timezone`, a condition's `in`, ...) and compiling goes on, so that a file's
problems are all reported at once. What comes out is a plain function of what the
section reads: the modifiers, tables, templates and rules are chosen here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.mapping.conditions import (
    AllOf,
    AnyOf,
    Condition,
    Equals,
    OneOf,
    Present,
    Test,
    all_test,
    any_test,
    equals_test,
    one_of_test,
    present_test,
)
from gateway.mapping.conversions import DATE_TYPES, Transform, converter, gives_text
from gateway.mapping.modifiers import (
    Value,
    join_items,
    modified_value,
    split_text,
    truncate_text,
)
from gateway.mapping.operations import Constant, Convert, Take, Template, When
from gateway.mapping.sources import Domain, Getter, Scope, SourceError
from gateway.mapping.tables import Lookup, table_key
from gateway.mapping.templates import TemplateError, parse_template, render_template
from gateway.mapping.timeformats import format_problem

Loc = tuple[str | int, ...]
Report = Callable[[Loc, str], None]
Operation = Take | Constant | Template | When
Modified = Take | Template


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    return f"{value} (write it as text, in quotes)"


class EntryCompiler:
    """Turns operations into getters for one mapping, reporting problems as it goes."""

    def __init__(self, tables: dict[str, Lookup], report: Report) -> None:
        self.tables = tables
        self.report = report

    def getter(self, loc: Loc, operation: Operation, scope: Scope) -> Getter | None:
        """The operation as a function of what the section reads; None when it has problems."""
        value = self.value(loc, operation, scope)
        return None if value is None else value.getter()

    def value(self, loc: Loc, operation: Operation, scope: Scope) -> Value | None:
        """The operation compiled (see `Value`); None when it has problems."""
        if isinstance(operation, Constant):
            return Value(None, None, operation.const)
        if isinstance(operation, When):
            choose = self._when(loc, operation, scope)
            return None if choose is None else Value(choose, None, None)
        if isinstance(operation, Template):
            read = self._template(loc, operation, scope)
            label = "the template"
        else:
            read = self._source((*loc, "from"), operation.source, scope)
            label = operation.source
        steps = self._modifiers(loc, operation, scope, label)
        if read is None or steps is None:
            return None
        whole, per_item = steps
        return modified_value(read, whole, per_item, operation.default)

    def _source(self, loc: Loc, source: str, scope: Scope) -> Getter | None:
        try:
            return scope.reader(source)
        except SourceError as exc:
            self.report(loc, str(exc))
            return None

    def _template(self, loc: Loc, operation: Template, scope: Scope) -> Getter | None:
        where = (*loc, "template")
        try:
            parsed = parse_template(operation.template)
        except TemplateError as exc:
            self.report(where, str(exc))
            return None
        readers = []
        for name in parsed.names:
            try:
                readers.append(scope.reader(name))
            except SourceError as exc:
                self.report(where, f"placeholder {{{name}}}: {exc}")
        if len(readers) < len(parsed.names):
            return None
        return render_template(parsed, readers)

    def _modifiers(
        self, loc: Loc, operation: Modified, scope: Scope, label: str
    ) -> tuple[list[Transform], list[Transform]] | None:
        """The entry's modifiers in their fixed order: those taking the whole value
        (split, join) and those taking each item of a list (convert, table, truncate).
        None when one of them is wrong."""
        problems = False
        whole: list[Transform] = []
        per_item: list[Transform] = []
        if operation.split is not None and operation.join is not None:
            self.report(
                (*loc, "join"), "split and join cannot be combined: split makes a list of text"
            )
            problems = True
        if operation.split is not None:
            whole.append(split_text(operation.split))
        if operation.join is not None:
            whole.append(join_items(operation.join))
        if operation.convert is not None:
            convert = self._converter((*loc, "convert"), operation.convert, scope.reads_backend)
            problems |= convert is None
            if convert is not None:
                per_item.append(convert)
        translate = self._translation(loc, operation, scope, label)
        if translate is not None:
            per_item.append(translate)
        if operation.truncate is not None:
            problems |= not self._check_truncate(loc, operation, scope.reads_backend)
            per_item.append(truncate_text(operation.truncate))
        return None if problems else (whole, per_item)

    def _converter(self, loc: Loc, convert: Convert, reads_backend: bool) -> Transform | None:
        problems = False
        for option in ("format", "timezone"):
            if getattr(convert, option) is not None and convert.to not in DATE_TYPES:
                self.report(
                    (*loc, option), f"{option} is only for datetime and date, not {convert.to}"
                )
                problems = True
        if convert.format is not None and convert.to in DATE_TYPES:
            problem = format_problem(convert.format, reads=reads_backend)
            if problem is not None:
                self.report((*loc, "format"), f"not a date-time format: {problem}")
                problems = True
        zone: tzinfo = UTC
        if convert.timezone is not None:
            try:
                zone = ZoneInfo(convert.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                self.report((*loc, "timezone"), f"unknown time zone '{convert.timezone}'")
                problems = True
        if problems:
            return None
        return converter(convert.to, zone=zone, format=convert.format, reads_backend=reads_backend)

    def _check_truncate(self, loc: Loc, operation: Modified, reads_backend: bool) -> bool:
        length, convert = operation.truncate, operation.convert
        if length is not None and length < 1:
            self.report((*loc, "truncate"), "truncate must be at least 1")
            return False
        converted = convert is not None and operation.table is None
        if converted and not gives_text(convert.to, convert.format, reads_backend):
            self.report((*loc, "truncate"), f"truncate cuts text, but convert gives {convert.to}")
            return False
        return True

    def _lookup(self, loc: Loc, operation: Modified) -> Lookup | None:
        if operation.table is None:
            if operation.reverse:
                self.report((*loc, "reverse"), "reverse reads a table backwards: name the table")
            return None
        lookup = self.tables.get(operation.table)
        if lookup is None:
            known = ", ".join(self.tables) or "none"
            self.report((*loc, "table"), f"no table '{operation.table}' (tables: {known})")
        return lookup

    def _translation(
        self, loc: Loc, operation: Modified, scope: Scope, label: str
    ) -> Transform | None:
        lookup = self._lookup(loc, operation)
        if lookup is None:
            return None
        defaulted = operation.default is not None
        if operation.reverse:
            shared = lookup.shared_values()
            if shared:
                self.report(
                    (*loc, "reverse"),
                    f"table '{lookup.name}' cannot be read backwards: several keys give "
                    + ", ".join(f"'{value}'" for value in shared),
                )
            return lookup.backwards(label, defaulted=defaulted)
        if isinstance(operation, Take) and _reads_source_as_is(operation):
            domain = scope.domain(operation.source)
            if domain is not None:
                self._check_table_keys(loc, lookup, domain)
        return lookup.forward(label, defaulted=defaulted)

    def _check_table_keys(self, loc: Loc, lookup: Lookup, domain: Domain) -> None:
        for key in lookup.table.values:
            if key not in domain.values:
                self.report(
                    ("tables", lookup.name, "values", key), f"'{key}' is not {domain.described_as}"
                )
        missing = sorted(domain.values - lookup.table.values.keys())
        if domain.complete and missing and not lookup.table.has_fallback:
            self.report(
                (*loc, "table"),
                f"table '{lookup.name}' has no entry for {', '.join(missing)} and no fallback",
            )

    def _when(self, loc: Loc, operation: When, scope: Scope) -> Getter | None:
        rules: list[tuple[Test, Getter]] = []
        problems = False
        for index, rule in enumerate(operation.when):
            where = (*loc, "when", index)
            test = self._condition((*where, "if"), rule.if_, scope)
            value = self.getter((*where, "then"), rule.then, scope)
            if test is None or value is None:
                problems = True
            else:
                rules.append((test, value))
        otherwise = None
        if operation.else_ is not None:
            otherwise = self.getter((*loc, "else"), operation.else_, scope)
            problems |= otherwise is None
        if problems:
            return None
        return _first_rule(tuple(rules), otherwise)

    def _condition(self, loc: Loc, condition: Condition, scope: Scope) -> Test | None:
        if isinstance(condition, AllOf | AnyOf):
            group = "all" if isinstance(condition, AllOf) else "any"
            members = condition.all if isinstance(condition, AllOf) else condition.any
            tests = [
                self._condition((*loc, group, index), member, scope)
                for index, member in enumerate(members)
            ]
            if any(test is None for test in tests):
                return None
            build = all_test if isinstance(condition, AllOf) else any_test
            return build([test for test in tests if test is not None])
        read = self._source((*loc, "field"), condition.field, scope)
        domain = scope.domain(condition.field)
        checked = True
        if domain is not None:
            checked = self._check_values(loc, condition, domain)
        if read is None or not checked:
            return None
        if isinstance(condition, Equals):
            return equals_test(read, condition.equals)
        if isinstance(condition, OneOf):
            return one_of_test(read, condition.in_)
        return present_test(read, condition.present)

    def _check_values(self, loc: Loc, condition: Equals | OneOf | Present, domain: Domain) -> bool:
        """A condition that compares with a value its source can never have is a mistake."""
        if isinstance(condition, Equals):
            values: Iterable[tuple[Loc, Any]] = [((*loc, "equals"), condition.equals)]
        elif isinstance(condition, OneOf):
            values = [((*loc, "in", index), value) for index, value in enumerate(condition.in_)]
        else:
            return True
        fine = True
        for where, value in values:
            if value is not None and value not in domain.values:
                self.report(where, f"{_shown(value)} is not {domain.described_as}")
                fine = False
        return fine

    def check_enumerated(
        self, loc: Loc, operation: Operation, choices: tuple[str, ...], field: str, target: str
    ) -> None:
        """An enumerated Open311 field gets only values it accepts, whatever the backend has.

        Every value known at load must be a choice, and a table translating a backend
        value must say what an unlisted value becomes (a fallback, or the entry's default).
        """
        for where, value in self._outputs(loc, operation):
            if value is not None and table_key(value) not in choices:
                self.report(
                    where, f"'{value}' cannot be the {field} of {target} ({', '.join(choices)})"
                )
        for where, leaf in _leaves(loc, operation):
            if isinstance(leaf, Constant) or leaf.table is None or leaf.default is not None:
                continue
            lookup = self.tables.get(leaf.table)
            if lookup is not None and not lookup.table.has_fallback:
                self.report(
                    (*where, "table"),
                    f"table '{lookup.name}' has no fallback and the entry no default: "
                    f"a backend value missing from the table would leave {field} unmapped",
                )

    def _outputs(self, loc: Loc, operation: Operation) -> Iterable[tuple[Loc, Any]]:
        """The values an operation can give that are known at load, and where each is."""
        for where, leaf in _leaves(loc, operation):
            if isinstance(leaf, Constant):
                yield (*where, "const"), leaf.const
                continue
            yield (*where, "default"), leaf.default
            lookup = self.tables.get(leaf.table) if leaf.table else None
            if lookup is None:
                continue
            for key, value in lookup.table.values.items():
                yield ("tables", lookup.name, "values", key), key if leaf.reverse else value
            if lookup.table.has_fallback:
                yield ("tables", lookup.name, "fallback"), lookup.table.fallback


def _reads_source_as_is(operation: Take) -> bool:
    """Whether a table sees the source's own values (no modifier changed them first)."""
    return operation.split is None and operation.join is None and operation.convert is None


def _leaves(loc: Loc, operation: Operation) -> Iterable[tuple[Loc, Take | Template | Constant]]:
    """The operations that give a value, inside `when` rules or not, and where each is."""
    if not isinstance(operation, When):
        yield loc, operation
        return
    for index, rule in enumerate(operation.when):
        yield from _leaves((*loc, "when", index, "then"), rule.then)
    if operation.else_ is not None:
        yield from _leaves((*loc, "else"), operation.else_)


def _first_rule(rules: tuple[tuple[Test, Getter], ...], otherwise: Getter | None) -> Getter:
    def choose(subject: Any) -> Any:
        for test, value in rules:
            if test(subject):
                return value(subject)
        return None if otherwise is None else otherwise(subject)

    return choose
