"""A new request as the edge accepts it, for the HTTP edge and the CLI's dry run alike.

Any client's form is parsed, then checked against its service's definition; when the
form itself is broken, the attributes are still checked, so one 400 lists both.
"""

from __future__ import annotations

from gateway.catalogue import Catalogue
from gateway.open311 import parse
from gateway.open311.errors import Open311Error, bad_request
from gateway.open311.models import NewServiceRequest
from gateway.open311.validate import check_attributes, validate_against_definition


def accept_new_request(catalogue: Catalogue, params: parse.Params) -> NewServiceRequest:
    """The validated request, or one 400 listing the form's and the attributes' problems."""
    try:
        request = parse.parse_new_request(params)
    except Open311Error as error:
        code = next((v.strip() for k, v in params if k == "service_code" and v.strip()), None)
        if code is None or not catalogue.has(code):
            raise
        _, problems = check_attributes(parse.parse_attributes(params), catalogue.definition(code))
        raise bad_request(*(p.description for p in error.problems), *problems) from None
    definition = catalogue.definition(request.service_code)
    return validate_against_definition(request, definition)
