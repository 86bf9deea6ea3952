"""A catalogue taken from the backend: its format, every load check, and how the
backend's records and the mapping's overrides make one catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.mapping import MappingError
from gateway.mapping.backend_catalogue import BackendCatalogue
from gateway.open311.models import Datatype, Service, ServiceType

from mappingfiles import BACKEND, at, compiled, load_errors

SERVICES_TABLE = """\
  services:
    table: categories
    id: code
    columns: {code: text, title: text, blurb: text, area: text, kind: text}
"""
KIND_TABLE = """\
tables:
  kind:
    values: {RT: realtime, BT: batch}
"""
READ = """\
    read:
      service_code: code
      service_name: title
      description: {from: blurb, default: ''}
      group: area
      keywords: tags
      type: {from: kind, table: kind, default: realtime}
"""
OVERRIDES = """\
  overrides:
    POT:
      service_name: Pothole
      group: Roads
      groups: [Roads, Pavements]
      add_keywords: [staff, hole]
      attributes:
        - {code: depth, datatype: number, order: 1, description: How deep?}
        - {code: ref, datatype: string, order: 2, description: Asset, automated: hidden_field}
    OLD:
      hide: true
    LATER:
      service_name: Not listed yet
"""
ADD = """\
  add:
    - service_code: WEB
      service_name: Website feedback
      metadata: true
      attributes:
        - {code: page, datatype: string, order: 1, description: Which page?}
"""
REQUESTS = """\
requests:
  create:
    category: service_code
  read:
    service_request_id: id
    status: {from: state, default: open}
    service_code: category
    requested_datetime: created
"""


def document(
    *,
    backend: str = BACKEND + SERVICES_TABLE,
    from_backend: str = "    refresh: 60\n",
    read: str = READ,
    overrides: str = OVERRIDES,
    add: str = ADD,
) -> str:
    services = f"services:\n  from_backend:\n{from_backend}{read}{overrides}{add}"
    return f"{backend}{KIND_TABLE}{services}{REQUESTS}"


def source(tmp_path: Path, text: str | None = None) -> BackendCatalogue:
    catalogue = compiled(tmp_path, text or document()).backend_catalogue
    assert catalogue is not None
    return catalogue


def by_code(services: tuple[Service, ...]) -> dict[str, Service]:
    return {service.service_code: service for service in services}


POT = {"code": "POT", "title": "Hole in road", "area": "Highways", "kind": "RT", "tags": ["road"]}
DOG = {"code": "DOG", "title": "Dog fouling", "blurb": "Dog mess", "kind": "BT"}
OLD = {"code": "OLD", "title": "Retired service", "kind": "RT"}


# --- the format -------------------------------------------------------------------------


def test_a_mapping_with_a_backend_catalogue(tmp_path: Path) -> None:
    mapping = compiled(tmp_path, document())
    assert mapping.backend_catalogue is not None
    assert mapping.backend_catalogue.refresh == 60
    assert [service.service_code for service in mapping.services] == ["WEB"]  # what it adds
    assert set(mapping.definitions) == {"WEB"}


def test_refresh_defaults_to_five_minutes(tmp_path: Path) -> None:
    assert source(tmp_path, document(from_backend="")).refresh == 300


def test_a_static_catalogue_has_no_backend_source(tmp_path: Path) -> None:
    text = BACKEND + "services:\n  - {service_code: POT, service_name: Pothole, metadata: false}\n"
    mapping = compiled(tmp_path, text + REQUESTS)
    assert mapping.backend_catalogue is None
    assert [service.service_code for service in mapping.services] == ["POT"]


def test_records_are_read_with_the_mapping_operations(tmp_path: Path) -> None:
    contents = source(tmp_path, document(overrides="")).build([POT, DOG])
    pot, dog, web = contents.services
    assert pot == Service(
        service_code="POT",
        service_name="Hole in road",
        description="",
        metadata=False,
        type=ServiceType.REALTIME,
        keywords=("road",),
        group="Highways",
    )
    assert (dog.service_name, dog.description, dog.type, dog.group) == (
        "Dog fouling",
        "Dog mess",
        ServiceType.BATCH,
        None,
    )
    assert web.service_code == "WEB"  # the services `add` writes come after the backend's


def test_read_takes_every_operation_of_the_language(tmp_path: Path) -> None:
    read = """\
    read:
      service_code: {from: code, convert: str}
      service_name: {template: "{title} ({area})"}
      description: {from: blurb, truncate: 4, default: ''}
      keywords: {from: tags, split: ','}
      type:
        when:
          - if: {field: kind, in: [RT, NOW]}
            then: {const: realtime}
        else: {const: batch}
"""
    record = {"code": 7, "title": "Hole", "area": "Roads", "blurb": "Deep hole", "kind": "NOW"}
    built = source(tmp_path, document(read=read, overrides="", add="")).build(
        [{**record, "tags": "road, hole"}, {**DOG, "code": "DOG", "area": "Parks"}]
    )
    assert built.services == (
        Service(
            service_code="7",
            service_name="Hole (Roads)",
            description="Deep",
            metadata=False,
            type=ServiceType.REALTIME,
            keywords=("road", "hole"),
        ),
        Service(
            service_code="DOG",
            service_name="Dog fouling (Parks)",
            description="Dog ",
            metadata=False,
            type=ServiceType.BATCH,
        ),
    )


def test_a_numeric_code_becomes_text(tmp_path: Path) -> None:
    contents = source(tmp_path, document(overrides="", add="")).build([{**POT, "code": 7}])
    assert [service.service_code for service in contents.services] == ["7"]


def test_overrides_rename_hide_regroup_and_add(tmp_path: Path) -> None:
    contents = source(tmp_path).build([POT, DOG, OLD])
    services = by_code(contents.services)
    assert list(services) == ["POT", "DOG", "WEB"]  # OLD is hidden
    pot = services["POT"]
    assert pot.service_name == "Pothole"
    assert (pot.group, pot.groups) == ("Roads", ("Roads", "Pavements"))
    assert pot.keywords == ("road", "staff", "hole")
    assert pot.metadata is True
    definition = contents.definitions["POT"]
    assert [attribute.code for attribute in definition.attributes] == ["depth", "ref"]
    assert definition.attributes[0].datatype is Datatype.NUMBER
    assert definition.attributes[1].automated == "hidden_field"
    assert services["DOG"].metadata is False and "DOG" not in contents.definitions
    assert contents.definitions["WEB"].attributes[0].code == "page"


def test_keywords_already_there_are_not_added_twice(tmp_path: Path) -> None:
    contents = source(tmp_path).build([{**POT, "tags": ["staff", "road"]}])
    assert by_code(contents.services)["POT"].keywords == ("staff", "road", "hole")


def test_overrides_for_codes_the_backend_does_not_list(tmp_path: Path) -> None:
    contents = source(tmp_path).build([DOG])
    assert contents.unmatched_overrides == ("LATER", "OLD", "POT")
    assert [service.service_code for service in contents.services] == ["DOG", "WEB"]


def test_an_empty_list_leaves_what_the_mapping_adds(tmp_path: Path) -> None:
    contents = source(tmp_path).build([])
    assert [service.service_code for service in contents.services] == ["WEB"]


READ_ATTRIBUTES = READ + "      attributes: fields\n"
"""READ, and the attributes of each service's definition as the backend gives them."""
DEPTH = {"code": "depth", "datatype": "number", "order": 1, "description": "How deep?"}
SIDE = {
    "code": "side",
    "datatype": "singlevaluelist",
    "required": True,
    "order": 2,
    "description": "Which side?",
    "values": [{"key": "l", "name": "Left"}, {"key": "r", "name": "Right"}],
}


def test_attributes_the_backend_gives_make_the_definition(tmp_path: Path) -> None:
    text = document(read=READ_ATTRIBUTES, overrides="", add="")
    contents = source(tmp_path, text).build([{**POT, "fields": [DEPTH, SIDE]}, DOG])
    pot, dog = contents.services
    assert (pot.metadata, dog.metadata) == (True, False)
    definition = contents.definitions["POT"]
    assert [attribute.code for attribute in definition.attributes] == ["depth", "side"]
    assert definition.attributes[1].datatype is Datatype.SINGLEVALUELIST
    assert [value.key for value in definition.attributes[1].values] == ["l", "r"]
    assert "DOG" not in contents.definitions


def test_override_attributes_replace_the_backend_ones(tmp_path: Path) -> None:
    contents = source(tmp_path, document(read=READ_ATTRIBUTES)).build(
        [{**POT, "fields": [SIDE]}, {**OLD, "fields": [DEPTH, DEPTH]}]
    )
    assert [a.code for a in contents.definitions["POT"].attributes] == ["depth", "ref"]
    assert "OLD" not in contents.definitions  # hidden: its broken definition is not read


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([DEPTH, {**SIDE, "code": "depth"}], "attributes.1.code: attribute code 'depth'"),
        ([{**SIDE, "values": []}], "attributes.0.values: a singlevaluelist attribute needs"),
        ([{**DEPTH, "datatype": "colour"}], "attributes.0.datatype: Input should be"),
    ],
)
def test_attributes_that_cannot_be_a_definition(
    tmp_path: Path, fields: list[dict], message: str
) -> None:
    text = document(read=READ_ATTRIBUTES, overrides="", add="")
    with pytest.raises(MappingError) as caught:
        source(tmp_path, text).build([DOG, {**POT, "fields": fields}])
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("records", "message"),
    [
        (
            [POT, {"code": "X"}],
            "service record 1: the backend record is not an Open311 service: "
            "service_name: Field required",
        ),
        (
            [{**POT, "tags": "road"}],
            "service record 0: the backend record is not an Open311 service: "
            "keywords: Input should be a valid tuple",
        ),
        ([{**POT, "title": ["a"]}], "service record 0: service_name: a list is not text"),
        (
            [POT, DOG, {**POT, "title": "Again"}],
            "service code 'POT' is listed twice by the backend",
        ),
        (
            [{**DOG, "code": "WEB"}],
            "service code 'WEB' is listed by the backend and added by the mapping",
        ),
    ],
)
def test_a_list_that_cannot_be_a_catalogue(
    tmp_path: Path, records: list[dict], message: str
) -> None:
    with pytest.raises(MappingError) as caught:
        source(tmp_path).build(records)
    assert message in str(caught.value)


# --- load checks ------------------------------------------------------------------------


def test_refresh_of_less_than_ten_seconds(tmp_path: Path) -> None:
    text = document(from_backend="    refresh: 5\n")
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'refresh')}: services.from_backend.refresh: "
        "Input should be greater than or equal to 10"
    ]


def test_read_must_map_the_code_and_the_name(tmp_path: Path) -> None:
    read = "    read:\n      description: blurb\n      colour: area\n"
    text = document(read=read)
    errors = load_errors(tmp_path, text)
    assert errors[0].startswith(
        f"{at(tmp_path, text, 'colour')}: services.from_backend.read.colour: "
        "'colour' is not a field of an Open311 service (fields: service_code, service_name,"
    )
    assert errors[1:] == [
        f"{at(tmp_path, text, 'read:')}: services.from_backend.read: "
        "service_code, service_name must be mapped: an Open311 service needs them"
    ]


def test_read_values_are_checked_like_requests_read(tmp_path: Path) -> None:
    text = document(
        read=READ.replace("{from: kind, table: kind, default: realtime}", "{const: fast}")
    )
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'const: fast')}: services.from_backend.read.type.const: "
        "'fast' cannot be the type of an Open311 service (realtime, batch, blackbox)"
    ]
    text = document(read=READ.replace(", default: realtime", ""))
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'table: kind')}: services.from_backend.read.type.table: "
        "table 'kind' has no fallback and the entry no default: a backend value missing "
        "from the table would leave type unmapped"
    ]


def test_read_problems_of_the_language_are_located_in_services(tmp_path: Path) -> None:
    read = READ.replace("service_name: title", "service_name: {template: '{title'}").replace(
        "group: area", "group: {from: area, convert: {to: int, format: '%Y'}}"
    )
    text = document(read=read)
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'template')}: services.from_backend.read.service_name.template: "
        "a '{' opens a placeholder that is never closed",
        f"{at(tmp_path, text, 'format')}: services.from_backend.read.group.convert.format: "
        "format is only for datetime and date, not int",
    ]


def test_connector_that_cannot_list_services(tmp_path: Path) -> None:
    text = document(backend=BACKEND)
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'from_backend')}: services.from_backend: "
        "the sql connector cannot list services with this backend"
    ]


def test_override_of_a_service_the_mapping_adds(tmp_path: Path) -> None:
    overrides = OVERRIDES + "    WEB:\n      hide: true\n"
    text = document(overrides=overrides)
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'WEB:')}: services.overrides.WEB: "
        "'WEB' is added by services.add.0: change it there"
    ]


def test_a_code_added_twice(tmp_path: Path) -> None:
    add = ADD + "    - {service_code: WEB, service_name: Again, metadata: false}\n"
    text = document(add=add)
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'service_code: WEB', 2)}: services.add.1.service_code: "
        "service code 'WEB' is already used by services.add.0"
    ]


def test_override_attributes_are_checked(tmp_path: Path) -> None:
    overrides = """\
  overrides:
    POT:
      attributes:
        - {code: size, datatype: singlevaluelist, order: 1, description: Size}
        - {code: size, datatype: string, order: 1, description: Again}
"""
    text = document(overrides=overrides)
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, '{code: size')}: "
        "services.overrides.POT.attributes.0.values: a singlevaluelist attribute needs values",
        f"{at(tmp_path, text, 'code: size', 2)}: services.overrides.POT.attributes.1.code: "
        "attribute code 'size' is already used",
        f"{at(tmp_path, text, 'order: 1', 2)}: services.overrides.POT.attributes.1.order: "
        "order 1 is already used by attribute 'size'",
    ]


def test_override_keys_are_checked(tmp_path: Path) -> None:
    overrides = "  overrides:\n    POT: {rename: Pothole, hide: maybe}\n"
    text = document(overrides=overrides)
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'hide')}: services.overrides.POT.hide: "
        "Input should be a valid boolean, unable to interpret input",
        f"{at(tmp_path, text, 'rename')}: services.overrides.POT.rename: unknown key 'rename'",
    ]


def test_services_is_a_list_or_a_mapping(tmp_path: Path) -> None:
    text = f"{BACKEND}services: everything\n{REQUESTS}"
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'services: every')}: services: "
        "must be a list of services, or a mapping with from_backend"
    ]
    text = f"{BACKEND}services:\n  overrides: {{}}\n{REQUESTS}"
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'services:')}: services.from_backend: required key is missing"
    ]


def test_every_problem_at_once(tmp_path: Path) -> None:
    overrides = "  overrides:\n    WEB: {hide: true}\n"
    text = document(from_backend="", read="    read: {description: blurb}\n", overrides=overrides)
    text = text.replace("  services:\n    table: categories", "  servicez:\n    table: categories")
    errors = load_errors(tmp_path, text)
    assert [error.split(": ")[1] for error in errors] == [
        "backend.servicez",
        "services.from_backend",
        "services.from_backend.read",
        "services.overrides.WEB",
    ]


def test_conditions_are_checked_against_the_attributes_the_mapping_gives(tmp_path: Path) -> None:
    """The values of list attributes that overrides and `add` define are known at load;
    the service codes a backend will list are not."""
    attributes = (
        "      attributes:\n"
        "        - code: size\n"
        "          datatype: singlevaluelist\n"
        "          order: 1\n"
        "          description: How big?\n"
        "          values: [{key: small, name: Small}, {key: large, name: Large}]\n"
    )
    overrides = f"  overrides:\n    POT:\n{attributes}"
    rule = (
        "    priority:\n"
        "      when:\n"
        "        - {if: {field: attributes.size, in: [large, huge]}, then: {const: HIGH}}\n"
        "        - {if: {field: service_code, equals: ANY}, then: {const: LOW}}\n"
    )
    text = document(overrides=overrides).replace(
        "    category: service_code\n", f"    category: service_code\n{rule}"
    )
    assert load_errors(tmp_path, text) == [
        f"{at(tmp_path, text, 'huge')}: requests.create.priority.when.0.if.in.1: "
        "'huge' is not a value of attribute 'size'"
    ]


def test_service_code_tables_are_not_checked_against_a_backend_catalogue(
    tmp_path: Path,
) -> None:
    text = document().replace(
        "    category: service_code\n", "    category: {from: service_code, table: kind}\n"
    )
    assert compiled(tmp_path, text).backend_catalogue is not None
