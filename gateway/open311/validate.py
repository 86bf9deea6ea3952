"""Check a posted request's attributes against its service definition.

Only declared, variable attributes are checked and normalised (a lone value of a
multivaluelist becomes a 1-tuple, a 1-tuple elsewhere becomes the value). Unknown
attributes pass untouched: FixMyStreet sends its own (`fixmystreet_id`, `title`,
`easting`, …) and back offices rely on them. `variable=false` ones take no input
and are dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.open311.errors import bad_request
from gateway.open311.models import (
    Attribute,
    AttributeInput,
    Datatype,
    NewServiceRequest,
    ServiceDefinition,
)
from gateway.open311.parse import parse_datetime, parse_number


def validate_against_definition(
    request: NewServiceRequest, definition: ServiceDefinition
) -> NewServiceRequest:
    """The request with normalised attributes, or a 400 listing every problem."""
    attributes, problems = check_attributes(request.attributes, definition)
    if problems:
        raise bad_request(*problems)
    if attributes == request.attributes:  # already in shape: most requests
        return request
    return request.model_copy(update={"attributes": attributes})


def check_attributes(
    given: dict[str, AttributeInput], definition: ServiceDefinition
) -> tuple[dict[str, AttributeInput], list[str]]:
    """Normalised attributes and every problem found, in the definition's order."""
    problems: list[str] = []
    checked: dict[str, AttributeInput] = {}
    ignored: set[str] = set()
    for attribute in sorted(definition.attributes, key=lambda a: a.order):
        if not attribute.variable:
            ignored.add(attribute.code)
            continue
        value = given.get(attribute.code)
        if value:
            checked[attribute.code] = _normalise(attribute, value, problems)
        elif attribute.required and attribute.automated != "server_set":
            problems.append(f"attribute[{attribute.code}]: required")
    attributes = {
        code: checked.get(code, value) for code, value in given.items() if code not in ignored
    }
    return attributes, problems


def _normalise(attribute: Attribute, value: AttributeInput, problems: list[str]) -> AttributeInput:
    name = f"attribute[{attribute.code}]"
    given = (value,) if isinstance(value, str) else value
    keys = [v.key for v in attribute.values]
    if attribute.datatype is Datatype.MULTIVALUELIST:
        for item in given:
            if item not in keys:
                problems.append(f"{name}: {item!r} is not one of {', '.join(keys)}")
        return tuple(dict.fromkeys(given))
    if len(given) > 1:
        problems.append(f"{name}: {len(given)} values given, one expected")
        return value
    single = given[0]
    if attribute.datatype is Datatype.SINGLEVALUELIST and single not in keys:
        problems.append(f"{name}: {single!r} is not one of {', '.join(keys)}")
    elif attribute.datatype is Datatype.NUMBER and not _parses(parse_number, single):
        problems.append(f"{name}: {single!r} is not a number")
    elif attribute.datatype is Datatype.DATETIME and not _parses(parse_datetime, single):
        problems.append(f"{name}: {single!r} is not an RFC 3339 date-time with a time zone")
    return single


def _parses(parser: Callable[[str], object], text: str) -> bool:
    try:
        parser(text)
    except ValueError:
        return False
    return True
