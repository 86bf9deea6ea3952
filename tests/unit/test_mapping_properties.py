"""Properties of the mapping engine over generated inputs (hypothesis).

1. Whatever a client sends and whatever a backend holds, applying a mapping that uses
   every transform raises nothing but `MappingError`.
2. A reversible mapping (plain paths, tables read backwards, conversions both ways)
   gives back what it was given: Open311 -> backend -> Open311.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.mapping import CompiledMapping, MappingContext, MappingError
from gateway.open311.models import Location, NewRequestUpdate, NewServiceRequest, UpdateStatus

from mappingfiles import BACKEND, LIST_ATTRIBUTE_SERVICES, compiled

PROPERTIES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TABLES = """\
tables:
  category: {values: {POT: RD-POT, FLY: ENV-FLY, DOG: ENV-DOG}}
  status: {values: {NEW: open, DONE: closed, '1': open, '2': closed}, fallback: open}
  waste: {values: {tyres: TYR, needles: null}, fallback: OTHER}
  kinds: {values: {a: K-A, b: K-B, c: K-C}}
  citizen: {values: {OPEN: null, FIXED: DONE}, fallback: NEW}
  update_status: {values: {NEW: open, DONE: fixed}, fallback: investigating}
"""

EVERY_TRANSFORM = f"""{BACKEND}{TABLES}{LIST_ATTRIBUTE_SERVICES}
requests:
  create:
    priority:
      when:
        - if: {{field: attributes.position, equals: junction}}
          then: {{const: 1}}
        - if:
            all:
              - {{field: service_code, in: [FLY]}}
              - any: [{{field: attributes.waste, in: [needles]}}, {{field: email, present: true}}]
          then: {{template: 'P-{{attributes.depth}}'}}
      else: {{from: attributes.depth, convert: int, default: 0}}
    subject: {{template: '{{service_code}} at {{address_string}}', truncate: 20}}
    name: {{template: '{{first_name}} {{last_name}}', default: anonymous}}
    body: {{from: description, split: ',', convert: str, truncate: 5}}
    tags: {{from: attributes.waste, join: ';', table: waste}}
    waste: {{from: attributes.waste, table: waste}}
    depth: {{from: attributes.depth, convert: decimal}}
    depth_f: {{from: attributes.depth, convert: float}}
    flag: {{from: attributes.position, convert: bool, default: false}}
    seen: {{from: attributes.seen, convert: {{to: datetime, timezone: Europe/London}}}}
    day:
      from: context.now
      convert: {{to: date, format: '%d/%m/%Y', timezone: Pacific/Kiritimati}}
    stamp:
      from: context.now
      convert: {{to: datetime, format: '%Y%m%d %H%M%S', timezone: America/St_Johns}}
    local: {{from: context.now, convert: {{to: datetime, timezone: Asia/Kathmandu}}}}
    where.lat: {{from: lat, convert: str}}
    where.long: {{from: long, convert: decimal}}
    photos.0.url: media_url
    ref: context.idempotency_key
    city: {{template: '{{context.jurisdiction_id}}/{{context.now}}'}}
    all: attributes
    category: {{from: service_code, table: category}}
  read:
    service_request_id: {{template: '{{id}}-{{sub.0}}', default: x}}
    status: {{from: state, table: status}}
    status_notes: {{template: '{{note}} {{sub}} {{when}}', truncate: 30}}
    service_name: {{from: name, join: ' / '}}
    service_code: {{from: category, table: category, reverse: true, default: POT}}
    description: {{from: text, split: ';', table: kinds, default: none}}
    agency_responsible:
      when:
        - if: {{any: [{{field: state, equals: DONE}}, {{field: flags, in: [late, 2, true]}}]}}
          then: {{const: Done}}
        - if: {{field: owner.name, present: true}}
          then: {{from: owner.name, convert: str}}
      else: {{from: team, table: kinds, reverse: true}}
    service_notice: {{from: notice, convert: {{to: date, format: '%Y-%m-%d'}}}}
    requested_datetime: created
    updated_datetime:
      from: changed
      convert: {{to: datetime, format: '%d/%m/%Y %H:%M', timezone: Europe/London}}
    expected_datetime: {{from: due, convert: {{to: datetime, timezone: America/New_York}}}}
    address: {{from: where.line, truncate: 10}}
    address_id: {{from: uprn, convert: int}}
    zipcode: {{from: zip, convert: str}}
    lat: {{from: where.lat, convert: float}}
    long: {{from: where.long, convert: decimal}}
    media_url: photos.0.url
updates:
  create:
    ticket_id: {{from: service_request_id, convert: int}}
    state: {{from: status, table: citizen}}
    note: {{template: '{{description}} ({{status}})', truncate: 100}}
    flag:
      when:
        - if: {{field: status, in: [FIXED, REOPEN]}}
          then: {{from: updated_datetime, convert: {{to: date, format: '%Y'}}}}
    ticket.updated:
      from: updated_datetime
      convert: {{to: datetime, format: '%H:%M', timezone: Asia/Tokyo}}
  read:
    update_id: {{template: '{{ticket_id}}-{{id}}'}}
    service_request_id: {{from: ticket_id, convert: str}}
    status: {{from: state, table: update_status, default: open}}
    updated_datetime: {{from: at, convert: {{to: datetime, timezone: Europe/Paris}}}}
    description: {{from: note, default: ''}}
    external_status_code: {{from: state, convert: str}}
"""

REVERSIBLE = f"""{BACKEND}{TABLES}{LIST_ATTRIBUTE_SERVICES}
requests:
  create:
    state: {{const: NEW}}
    category: {{from: service_code, table: category}}
    summary: description
    lat: {{from: lat, convert: decimal}}
    long: {{from: long, convert: str}}
    where: address_string
    uprn: {{from: attributes.uprn, convert: int}}
    urgent: {{from: attributes.urgent, convert: bool}}
    seen: {{from: attributes.seen, convert: date}}
    kind: {{from: attributes.kind, table: kinds}}
    created: context.now
    opened:
      from: context.now
      convert: {{to: datetime, format: '%Y-%m-%d %H:%M:%S', timezone: Asia/Kolkata}}
    nested.ref: context.idempotency_key
    photos.0: media_url
  read:
    service_request_id: id
    status: {{from: state, table: status}}
    service_code: {{from: category, table: category, reverse: true}}
    description: summary
    lat: {{from: lat, convert: float}}
    long: {{from: long, convert: float}}
    address: where
    address_id: {{from: uprn, convert: str}}
    zipcode: {{from: urgent, convert: str}}
    service_notice: {{from: seen, convert: str}}
    status_notes: {{from: kind, table: kinds, reverse: true}}
    requested_datetime: created
    updated_datetime:
      from: opened
      convert: {{to: datetime, format: '%Y-%m-%d %H:%M:%S', timezone: Asia/Kolkata}}
    agency_responsible: nested.ref
    media_url: photos.0
"""


@pytest.fixture(scope="module")
def every_transform(tmp_path_factory: pytest.TempPathFactory) -> CompiledMapping:
    return compiled(tmp_path_factory.mktemp("every"), EVERY_TRANSFORM)


@pytest.fixture(scope="module")
def reversible(tmp_path_factory: pytest.TempPathFactory) -> CompiledMapping:
    return compiled(tmp_path_factory.mktemp("reversible"), REVERSIBLE)


# --- strategies -------------------------------------------------------------------------

zones = st.one_of(
    st.just(UTC),
    st.builds(
        timezone, st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23))
    ),
)
aware = st.datetimes(timezones=zones)


def beyond_text_limit(negative: bool) -> int:
    """An integer past Python's int-to-text limit (4300 digits). Built, not drawn:
    Hypothesis fails to show or replay draws of such integers."""
    return -(10**4301) if negative else 10**4301


odd_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.builds(beyond_text_limit, st.booleans()),
    st.floats(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity"), Decimal("1e999999")]),
    st.text(),
    st.sampled_from(["NEW", "DONE", "1", "a", "b", "late", "2026-05-01", "01/05/2026 13:00"]),
    st.binary(),
    st.datetimes(),
    aware,
    st.dates(),
)
anything = st.recursive(
    odd_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=5), children, max_size=4),
        st.tuples(children, children),
    ),
    max_leaves=10,
)
plain_text = st.text(max_size=20)
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "id": st.integers() | plain_text,
    "sub": st.lists(st.integers() | plain_text, max_size=3),
    "state": st.sampled_from(["NEW", "DONE", "1", "2", "LOST"]),
    "note": plain_text,
    "when": aware,
    "name": st.lists(plain_text, max_size=3) | plain_text,
    "category": st.sampled_from(["RD-POT", "ENV-FLY", "ENV-DOG", "RD-X"]),
    "text": st.lists(st.sampled_from(["a", "b", "c", " ", "d"])).map(";".join),
    "flags": st.lists(st.sampled_from(["late", 2, True, "x"]), max_size=3),
    "owner": st.fixed_dictionaries({}, optional={"name": plain_text | st.integers()}),
    "team": st.sampled_from(["K-A", "K-B", "K-Z"]),
    "notice": st.dates().map(date.isoformat),
    "created": aware,
    "changed": st.datetimes().map(lambda moment: moment.strftime("%d/%m/%Y %H:%M")),
    "due": st.datetimes().map(datetime.isoformat),
    "where": st.fixed_dictionaries(
        {}, optional={"line": plain_text, "lat": st.floats(), "long": st.decimals()}
    ),
    "uprn": st.integers().map(str) | st.integers(),
    "zip": plain_text | st.integers(),
    "photos": st.lists(st.fixed_dictionaries({"url": plain_text}), max_size=2),
    "ticket_id": st.integers(),
    "at": aware,
}
records = st.fixed_dictionaries(
    {}, optional={key: plausible | anything for key, plausible in PLAUSIBLE.items()}
)

codes = st.sampled_from(["POT", "FLY", "DOG", "CAT"])
attribute_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["junction", "road", "12", "-3.5", "1e9999", "yes", "2026-05-01T13:00"]),
    st.lists(st.sampled_from(["tyres", "needles", "other"]) | st.text(max_size=5)).map(tuple),
)
attributes = st.dictionaries(
    st.sampled_from(["depth", "position", "waste", "seen"]) | st.text(max_size=6),
    attribute_values,
    max_size=4,
)
optional_text = st.none() | st.text(max_size=60)
new_requests = st.builds(
    NewServiceRequest,
    service_code=codes,
    location=st.builds(
        Location,
        lat=st.none() | st.floats(min_value=-90, max_value=90),
        long=st.none() | st.floats(min_value=-180, max_value=180),
        address_string=optional_text,
        address_id=optional_text,
    ),
    attributes=attributes,
    description=st.none() | st.text(max_size=200),
    email=optional_text,
    device_id=optional_text,
    account_id=optional_text,
    first_name=optional_text,
    last_name=optional_text,
    phone=optional_text,
    media_urls=st.lists(st.text(max_size=20), max_size=2).map(tuple),
)
contexts = st.builds(MappingContext, st.text(max_size=10), st.text(max_size=10), aware)
updates = st.builds(
    NewRequestUpdate,
    service_request_id=st.text(max_size=12) | st.integers().map(str),
    update_id=st.text(max_size=8),
    status=st.sampled_from(UpdateStatus),
    updated_datetime=aware,
    description=st.text(max_size=100),
    media_url=optional_text,
)


def _only_mapping_errors(call: Any, *args: Any) -> None:
    with contextlib.suppress(MappingError):
        call(*args)


@PROPERTIES
@given(new=new_requests, context=contexts)
def test_any_request_maps_or_raises_a_mapping_error(
    every_transform: CompiledMapping, new: NewServiceRequest, context: MappingContext
) -> None:
    _only_mapping_errors(every_transform.create_payload, new, context)


@PROPERTIES
@given(update=updates, context=contexts)
def test_any_update_maps_or_raises_a_mapping_error(
    every_transform: CompiledMapping, update: NewRequestUpdate, context: MappingContext
) -> None:
    _only_mapping_errors(every_transform.update_payload, update, context)


@PROPERTIES
@given(record=records | anything)
def test_any_record_maps_or_raises_a_mapping_error(
    every_transform: CompiledMapping, record: Any
) -> None:
    _only_mapping_errors(every_transform.service_request, record)
    _only_mapping_errors(every_transform.service_request_id, record)
    _only_mapping_errors(every_transform.request_update, record)


def test_the_every_transform_mapping_maps_a_plain_request(every_transform: CompiledMapping) -> None:
    """The property above would hold vacuously if everything failed: this one works."""
    new = NewServiceRequest(
        service_code="FLY",
        location=Location(lat=51.5, long=-0.1, address_string="Back Lane"),
        description="tyres, a fridge",
        attributes={"waste": ("tyres", "needles"), "depth": "3", "seen": "2026-05-01T13:00"},
    )
    context = MappingContext("city", "key", datetime(2026, 5, 1, 12, tzinfo=UTC))
    payload = every_transform.create_payload(new, context)
    assert payload["priority"] == "P-3" and payload["tags"] == "OTHER"
    assert payload["waste"] == ["TYR"] and payload["stamp"] == "20260501 093000"
    record = {**payload, "id": 4, "state": "DONE", "created": context.now}
    assert every_transform.service_request(record).status == "closed"


# --- round trip -------------------------------------------------------------------------

whole_seconds = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))
reversible_requests = st.builds(
    NewServiceRequest,
    service_code=st.sampled_from(["POT", "FLY", "DOG"]),
    location=st.builds(
        Location,
        lat=st.none() | st.floats(min_value=-90, max_value=90),
        long=st.none() | st.floats(min_value=-180, max_value=180),
        address_string=optional_text,
    ),
    description=optional_text,
    attributes=st.fixed_dictionaries(
        {},
        optional={
            "uprn": st.integers(min_value=-(10**30), max_value=10**30).map(str),
            "urgent": st.sampled_from(["true", "false"]),
            "seen": st.dates().map(date.isoformat),
            "kind": st.sampled_from(["a", "b", "c"]),
        },
    ),
    media_urls=st.lists(st.text(min_size=1, max_size=20), max_size=2).map(tuple),
)


@PROPERTIES
@given(new=reversible_requests, key=st.text(min_size=1, max_size=20), now=whole_seconds)
def test_a_reversible_mapping_round_trips(
    reversible: CompiledMapping, new: NewServiceRequest, key: str, now: datetime
) -> None:
    payload = reversible.create_payload(new, MappingContext("city", key, now))
    found = reversible.service_request({**payload, "id": 7})
    attributes = new.attributes
    assert found.service_code == new.service_code
    assert found.description == new.description
    assert (found.lat, found.long) == (new.location.lat, new.location.long)
    assert found.address == new.location.address_string
    assert found.address_id == attributes.get("uprn")
    assert found.zipcode == attributes.get("urgent")
    assert found.service_notice == attributes.get("seen")
    assert found.status_notes == attributes.get("kind")
    assert found.requested_datetime == found.updated_datetime == now
    assert found.agency_responsible == key
    assert found.media_url == (new.media_urls[0] if new.media_urls else None)
