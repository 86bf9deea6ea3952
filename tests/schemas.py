"""Check JSON bodies against the GeoReport v2 JSON Schemas in tests/data/schemas.

The schemas are draft-04 without `$schema`, and `services.json`/`requests.json`
refer to `service.json`/`request.json` by relative name, so every file is put in a
referencing registry under its own file name. jsonschema only checks `date-time`
and `uri` with optional packages that are not installed, so both checks are
supplied here (RFC 3339 with a zone, and an absolute URI).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SCHEMA_DIR = Path(__file__).parent / "data" / "schemas"

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")

_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or _RFC3339.fullmatch(value) is not None


@_FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlsplit(value).scheme)


@cache
def _registry() -> Registry:
    resources = [
        (path.name, Resource.from_contents(json.loads(path.read_text()), DRAFT4))
        for path in SCHEMA_DIR.glob("*.json")
    ]
    return Registry().with_resources(resources)


@cache
def validator(schema_name: str) -> Draft4Validator:
    """The validator of `tests/data/schemas/{schema_name}.json`, e.g. "services"."""
    resource = _registry().contents(f"{schema_name}.json")
    return Draft4Validator(resource, registry=_registry(), format_checker=_FORMATS)


def assert_matches(schema_name: str, data: object) -> None:
    """Fail with every schema violation listed, each with its JSON path."""
    errors = sorted(validator(schema_name).iter_errors(data), key=lambda e: e.json_path)
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)
