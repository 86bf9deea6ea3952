"""The conformance kit fails a connector that breaks the contract, in the check of the
rule it breaks, and skips what a description does not cover, saying why.

The kit runs once, in a pytest of its own (a subprocess: a fresh interpreter, as a third
party's project has), on the SQL connector over SQLite: one test class a broken rule
(broken_sql.py), each running only the check of that rule, and the sound connector
running the same checks. pytest-asyncio is in its default (strict) mode there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple
from xml.etree import ElementTree

import pytest

HERE = Path(__file__).resolve().parent

MODULE = """
from dataclasses import replace

import pytest
from broken_sql import *
from sql_backends import embedded_sql, sqlite_write_lock

from connectors.sql import SqlConnector
from connectors.testing.conformance import ConnectorConformance

pytest_plugins = ["connectors.testing.plugin"]


@pytest.fixture
def connector_under_test(request, tmp_path):
    database = tmp_path / "tickets.db"
    locked = sqlite_write_lock(database)
    described = embedded_sql(f"sqlite:///{database}", outage=locked, stall=locked)
    return replace(described, connector=request.cls.connector, **request.cls.changes)
"""
CLASS = """

class Test{name}(ConnectorConformance):
    connector = {connector}
    changes = {changes}
"""
UNDESCRIBED = {"outage": None, "stall": None, "refuse": None}


class Case(NamedTuple):
    connector: str
    check: str
    message: str


BROKEN = [
    Case("SearchOldestFirst", "test_search_is_newest_first", "newest requested_datetime first"),
    Case(
        "SearchIgnoringIds",
        "test_search_by_ids_overrides_every_other_filter",
        "ids override other filters",
    ),
    Case("SearchIgnoringValues", "test_search_by_service_code", "a search for service_code"),
    Case("SearchIgnoringValues", "test_search_by_status", "a search for status"),
    Case(
        "SearchIgnoringRanges",
        "test_search_by_date_range_includes_start_and_excludes_end",
        "start included, end excluded",
    ),
    Case(
        "SearchIgnoringLimit",
        "test_search_honours_the_limit_keeping_the_newest",
        "a search with limit 2 found",
    ),
    Case("UpdatesNewestFirst", "test_updates_come_oldest_first", "the oldest change first"),
    Case(
        "UpdatesWithTheEnd",
        "test_updates_include_the_window_start_and_nothing_outside",
        "start included, end excluded",
    ),
    Case("UpdateIdsPerCall", "test_update_ids_are_stable_across_calls", "and later as"),
    Case(
        "CreateReturningOnlyTheId",
        "test_create_returns_a_record_that_maps_to_the_request",
        "a record create returned does not read back",
    ),
    Case(
        "FindingTheNewest",
        "test_find_by_reference_finds_the_record_created_with_the_key",
        "find_by_reference found",
    ),
    Case(
        "FindingTheNewest",
        "test_find_by_reference_of_an_unknown_key_is_none",
        "find_by_reference of an unknown key found",
    ),
    Case("GetRefusingUnknownIds", "test_get_of_unknown_ids_is_empty", "get raised NotFoundError"),
    Case(
        "RefusalsRetried",
        "test_a_refused_payload_is_a_permanent_error",
        "must raise PermanentError; it raised TransientError",
    ),
    Case(
        "RefusalsQuotingThePayload",
        "test_a_refused_payload_is_a_permanent_error",
        "must keep personal data out",
    ),
    Case(
        "UnknownRequestsRefused",
        "test_post_update_on_an_unknown_request_is_not_found",
        "must raise NotFoundError; it raised PermanentError",
    ),
    Case(
        "ListingServicesItHasNot",
        "test_operation_matches_its_declaration[list_services]",
        "must raise UnsupportedError",
    ),
    Case(
        "OutagesUntyped",
        "test_an_outage_is_transient_and_the_call_works_once_it_ends[create]",
        "must raise TransientError; it raised RuntimeError",
    ),
    Case(
        "StayingDownAfterAnOutage",
        "test_an_outage_is_transient_and_the_call_works_once_it_ends[create]",
        "failed 3 times once the outage was over",
    ),
    Case(
        "RetryingWithoutEnd",
        "test_a_stalled_call_gives_up_with_a_transient_error[create]",
        "did not return within 6 s",
    ),
]
UNDESCRIBED_CHECKS = {
    "test_an_outage_is_transient_and_the_call_works_once_it_ends[create]": "no outage described",
    "test_a_stalled_call_gives_up_with_a_transient_error[create]": "no stall described",
    "test_a_refused_payload_is_a_permanent_error": "no `refuse` described",
}


class Outcome(NamedTuple):
    state: str
    """passed, failed, error or skipped"""
    message: str


def _module() -> str:
    classes = [
        CLASS.format(name=f"Broken{number:02}", connector=case.connector, changes={})
        for number, case in enumerate(BROKEN)
    ]
    classes.append(CLASS.format(name="Sound", connector="SqlConnector", changes={}))
    classes.append(CLASS.format(name="Undescribed", connector="SqlConnector", changes=UNDESCRIBED))
    return MODULE + "".join(classes)


def _selected() -> list[str]:
    broken = [f"test_kit.py::TestBroken{n:02}::{case.check}" for n, case in enumerate(BROKEN)]
    sound = sorted({f"test_kit.py::TestSound::{case.check}" for case in BROKEN})
    undescribed = [f"test_kit.py::TestUndescribed::{check}" for check in UNDESCRIBED_CHECKS]
    return broken + sound + undescribed


def _outcomes(report: Path) -> dict[str, Outcome]:
    """Each test's outcome, by `Class::test`, from a JUnit XML report."""
    outcomes = {}
    for case in ElementTree.parse(report).iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        state, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            element = case.find(kind)
            if element is not None:
                state = {"failure": "failed"}.get(kind, kind)
                message = f"{element.get('message', '')}\n{element.text or ''}"
        outcomes[name] = Outcome(state, message)
    return outcomes


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    folder = tmp_path_factory.mktemp("kit")
    (folder / "test_kit.py").write_text(_module(), encoding="utf-8")
    report = folder / "report.xml"
    paths = [str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")]
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            *_selected(),
        ],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if not report.exists():
        pytest.fail(f"the kit's pytest did not run:\n{completed.stdout}\n{completed.stderr}")
    return _outcomes(report)


@pytest.mark.parametrize(
    "number", range(len(BROKEN)), ids=[f"{c.connector}-{c.check}" for c in BROKEN]
)
def test_a_broken_rule_fails_its_check(outcomes: dict[str, Outcome], number: int) -> None:
    case = BROKEN[number]
    outcome = outcomes[f"TestBroken{number:02}::{case.check}"]
    assert outcome.state == "failed", f"{case.connector}: {case.check} {outcome}"
    assert case.message in outcome.message, outcome.message


@pytest.mark.parametrize("check", sorted({case.check for case in BROKEN}))
def test_the_sound_connector_passes_the_same_check(
    outcomes: dict[str, Outcome], check: str
) -> None:
    outcome = outcomes[f"TestSound::{check}"]
    assert outcome.state == "passed", outcome


@pytest.mark.parametrize(("check", "reason"), UNDESCRIBED_CHECKS.items())
def test_a_check_without_its_hook_is_skipped_with_the_reason(
    outcomes: dict[str, Outcome], check: str, reason: str
) -> None:
    outcome = outcomes[f"TestUndescribed::{check}"]
    assert outcome.state == "skipped", outcome
    assert reason in outcome.message, outcome.message
