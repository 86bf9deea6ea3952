"""The simulator's SOQL parser and query engine, and its org: Salesforce's rules, so
that a connector that passes against it has met them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from connectors.salesforce.ids import canonical_id
from connectors.testing.salesforce import Fault, Org
from connectors.testing.salesforce.objects import record_id
from connectors.testing.salesforce.query import parsed, run
from connectors.testing.salesforce.soql import (
    Comparison,
    Junction,
    Like,
    Membership,
    Not,
    Order,
    Query,
    SoqlError,
    parse,
)

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_the_grammar() -> None:
    query = parse(
        "select Id, Subject from Case where (Type = 'Pothole' or Type != 'Graffiti') "
        "and not Status in ('Closed', 'New') and Latitude__c >= -1.5 and Subject like 'a\\_%' "
        "and CreatedDate < 2026-05-01T12:00:00Z and Priority NOT IN ('Low') "
        "order by CreatedDate desc nulls last, Id limit 5 offset 2"
    )
    assert query == Query(
        ("Id", "Subject"),
        "Case",
        Junction(
            "AND",
            (
                Junction(
                    "OR", (Comparison("Type", "=", "Pothole"), Comparison("Type", "!=", "Graffiti"))
                ),
                Not(Membership("Status", ("Closed", "New"))),
                Comparison("Latitude__c", ">=", Decimal("-1.5")),
                Like("Subject", "a_%", pattern=None),  # type: ignore[arg-type]
                Comparison("CreatedDate", "<", T0),
                Membership("Priority", ("Low",), negated=True),
            ),
        ),
        (Order("CreatedDate", True, True), Order("Id")),
        5,
        2,
    )


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT Id FROM Case WHERE A = 1 AND B = 2 OR C = 3",
        "SELECT Id FROM Case WHERE A = 1 OR B = 2 AND C = 3",
        "SELECT Id FROM Case WHERE Subject = 'never closed",
        "SELECT Id FROM Case WHERE Subject = 'bad \\q escape'",
        'SELECT Id FROM Case WHERE Subject = "double"',
        "SELECT Id FROM Case WHERE Subject = 'x'; DELETE",
        "SELECT Id FROM Case WHERE Subject IN ()",
        "SELECT Id FROM Case LIMIT -1",
        "SELECT FROM Case",
        "SELECT Id, FROM Case",
        "SELECT Id FROM Case WHERE",
        "SELECT Id FROM Case ORDER Id",
        "SELECT Id FROM Case -- comment",
    ],
)
def test_what_is_not_soql_is_refused(statement: str) -> None:
    with pytest.raises(SoqlError):
        parse(statement)


def test_escapes_decode_and_like_wildcards_are_escapable() -> None:
    condition = parse(r"SELECT Id FROM Case WHERE Subject = 'it\'s \\ \"q\" \n\t'").where
    assert condition == Comparison("Subject", "=", 'it\'s \\ "q" \n\t')
    like = parse(r"SELECT Id FROM Case WHERE Subject LIKE '50\%_off%'").where
    assert isinstance(like, Like)
    assert like.pattern.fullmatch("50%Xoff the price") and not like.pattern.fullmatch("50XXoff")


@pytest.fixture
def org() -> Org:
    clock = iter(T0 + timedelta(minutes=minute) for minute in range(100))
    org = Org(clock=lambda: next(clock))
    for kind, subject in [("Pothole", "Deep hole"), ("Graffiti", None), ("Pothole", "Hole")]:
        org.create("Case", {"Type": kind, "Subject": subject})
    return org


def select(org: Org, statement: str) -> list[dict[str, object]]:
    return run(org, parsed(statement))


def test_filters_order_and_limits(org: Org) -> None:
    rows = select(org, "SELECT Subject FROM Case WHERE Type = 'pothole' ORDER BY CreatedDate DESC")
    assert rows == [{"Subject": "Hole"}, {"Subject": "Deep hole"}]
    rows = select(org, "SELECT CaseNumber FROM Case WHERE Subject LIKE '%HOLE' ORDER BY Subject")
    assert [row["CaseNumber"] for row in rows] == ["00001001", "00001003"]
    rows = select(org, "SELECT Subject FROM Case ORDER BY Subject NULLS LAST LIMIT 2 OFFSET 1")
    assert rows == [{"Subject": "Hole"}, {"Subject": None}]
    after = "SELECT Type FROM Case WHERE CreatedDate > 2026-05-01T12:00:00Z AND Subject != null"
    assert select(org, after) == [{"Type": "Pothole"}]


@pytest.mark.parametrize(
    ("statement", "code", "message"),
    [
        ("SELECT Id FROM Bogus", "INVALID_TYPE", "sObject type 'Bogus' is not supported."),
        ("SELECT Colour FROM Case", "INVALID_FIELD", "No such column 'Colour' on entity 'Case'."),
        (
            "SELECT Id FROM Case WHERE CreatedDate > '2026-05-01T12:00:00Z'",
            "INVALID_FIELD",
            "value of filter criterion for field 'CreatedDate' must be of type dateTime and "
            "should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Case WHERE Subject = 5",
            "INVALID_FIELD",
            "value of filter criterion for field 'Subject' must be of type string and "
            "should be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Case WHERE Id = 'x OR 1=1'",
            "INVALID_QUERY_FILTER_OPERATOR",
            "invalid ID field: x OR 1=1",
        ),
        (
            "SELECT Id FROM Case WHERE Description = 'x'",
            "INVALID_FIELD",
            "field 'Description' can not be filtered in a query call",
        ),
        ("SELECT Id FROM Case WHERE A = 1 OR", "MALFORMED_QUERY", "expected word at 34"),
    ],
)
def test_queries_salesforce_refuses(org: Org, statement: str, code: str, message: str) -> None:
    with pytest.raises(Fault) as refused:
        select(org, statement)
    assert (refused.value.status, refused.value.code) == (400, code)
    assert refused.value.message.startswith(message)


def test_writes_are_checked_as_salesforce_checks_them(org: Org) -> None:
    refusals = [
        ({"Type": "Volcano"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ({"Subject": "x" * 256}, "STRING_TOO_LONG"),
        ({"Colour__c": "red"}, "INVALID_FIELD"),
        ({"CaseNumber": "1"}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
        ({"Latitude__c": "north"}, "JSON_PARSER_ERROR"),
    ]
    for values, code in refusals:
        with pytest.raises(Fault) as refused:
            org.create("Case", values)
        assert refused.value.code == code
    with pytest.raises(Fault, match="REQUIRED_FIELD_MISSING"):
        org.create("CaseComment", {"CommentBody": "orphan"})
    with pytest.raises(Fault, match="FIELD_INTEGRITY_EXCEPTION"):
        org.create("CaseComment", {"ParentId": record_id("500", 999), "CommentBody": "x"})
    with pytest.raises(Fault, match="MALFORMED_ID"):
        org.create("CaseComment", {"ParentId": "nope", "CommentBody": "x"})


def test_upsert_closing_and_history(org: Org) -> None:
    first, created = org.upsert("Case", "Open311_Key__c", "k", {"Type": "Pothole"})
    again, created_again = org.upsert("Case", "Open311_Key__c", "k", {"Status": "Closed"})
    assert (first, created, created_again) == (again, True, False)
    case = org.get("Case", first)
    assert case["IsClosed"] is True and case["ClosedDate"] == case["LastModifiedDate"]
    changes = [row for row in org.rows("CaseHistory") if row["CaseId"] == first]
    assert [(row["Field"], row["OldValue"], row["NewValue"]) for row in changes] == [
        ("created", None, None),
        ("Status", "New", "Closed"),
    ]
    with pytest.raises(Fault, match="DUPLICATE_VALUE"):
        org.create("Case", {"Open311_Key__c": "k"})
    with pytest.raises(Fault, match="external ID field does not exist"):
        org.upsert("Case", "Subject", "k", {})


def test_ids_carry_salesforce_checksum() -> None:
    identifier = record_id("500", 62**3 + 7)
    assert len(identifier) == 18 and canonical_id(identifier) == identifier[:15]
    assert canonical_id(identifier[:15]) == identifier[:15]
    assert canonical_id(identifier[:15] + "ZZZ") is None
    assert canonical_id("not an id at all") is None
    assert canonical_id("5005g00000000ZZ") == "5005g00000000ZZ"
