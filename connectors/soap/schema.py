"""The backend section of a mapping for the SOAP connector: which WSDL operation serves
each connector operation, where each value goes in its request and where the records
are in its response, and how the back office's faults are classified.

```yaml
backend:
  operations:
    create:
      operation: CreateCase             # a WSDL operation of the bound port
      payload: Case                     # where the mapping's record goes (default: the
                                        #   whole request message)
      reference: Case.ExternalReference # where the idempotency key goes
      result: Case                      # where the stored record is in the response
      constants: {Case.Channel: OPEN311}  # fixed values of the request, any operation
    find_by_reference:                  # required with create: a redelivery finds its record
      {operation: FindCases, reference: Criteria.ExternalReference, result: Cases.Case}
    get: {operation: GetCase, id: CaseNumber, result: Case}  # one call a record (id), or
                                        #   one call for all (ids: a repeated element)
    search:
      operation: FindCases
      ids: Criteria.CaseNumbers.CaseNumber
      any_of: {Status: Criteria.Statuses.Status}   # record field searched -> request path
      ranges: {CreatedAt: {low: Criteria.CreatedFrom, high: Criteria.CreatedBefore}}
      limit: Criteria.MaxResults
      result: Cases.Case
    updates: {operation: ListChanges, since: Since, until: Until, time: CreatedAt,
              result: Changes.Note}
    post_update: {operation: AddNote, result: Note}
    list_services: {operation: ListCaseTypes, result: CaseTypes.CaseType}
  faults:                               # tried in order; the first that matches decides
    - {detail: CASE_NOT_FOUND, then: not_found}
    - {code: Server, message: "(?i)try again", then: transient}
  unclassified_faults: permanent        # any other fault
  wire_log: [CaseNumber, Status]        # elements whose text debug wire logs may show
```

Paths are element names joined by dots, from the operation's request or response
element (the wrapper of a document/literal operation). `result` may lead to one record
or to a repeated element; a search gives a list either way.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from connectors.base import Capability

_NAME = r"[A-Za-z_][\w-]*"
Path = Annotated[str, Field(pattern=rf"^{_NAME}(\.{_NAME})*$")]
"""Element names joined by dots: `Criteria.Statuses.Status`."""


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise PydanticCustomError(
            "bad_pattern", "not a regular expression: {error}", {"error": str(exc)}
        ) from None
    return pattern


Pattern = Annotated[str, Field(min_length=1), AfterValidator(_compiles)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Operation(_Model):
    operation: str = Field(min_length=1)
    """The WSDL operation's name."""
    constants: dict[Path, str | int | float | bool] = Field(default_factory=dict)
    """Fixed values written into every request, by path."""


class CreateOperation(Operation):
    payload: Path | None = None
    reference: Path
    result: Path


class FindByReferenceOperation(Operation):
    reference: Path
    result: Path


class GetOperation(Operation):
    id: Path | None = None
    ids: Path | None = None
    result: Path

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if (self.id is None) == (self.ids is None):
            raise PydanticCustomError(
                "get_ids", "give id (one call a record) or ids (one call for all), not both"
            )
        return self


class Bounds(_Model):
    low: Path | None = None
    """Where a range's inclusive lower bound goes."""
    high: Path | None = None
    """Where its exclusive upper bound goes."""


class SearchOperation(Operation):
    ids: Path | None = None
    any_of: dict[str, Path] = Field(default_factory=dict)
    """A record field searched (as `requests.read` reads it) -> where its values go."""
    ranges: dict[str, Bounds] = Field(default_factory=dict)
    limit: Path | None = None
    result: Path


class UpdatesOperation(Operation):
    since: Path
    until: Path | None = None
    time: Path | None = None
    """The change record's time: when given, changes outside the window are left out
    and the rest sorted oldest first, whatever the back office does with `until`."""
    result: Path


class PostUpdateOperation(Operation):
    payload: Path | None = None
    result: Path


class ListServicesOperation(Operation):
    result: Path


class Operations(_Model):
    create: CreateOperation | None = None
    find_by_reference: FindByReferenceOperation | None = None
    get: GetOperation | None = None
    search: SearchOperation | None = None
    updates: UpdatesOperation | None = None
    post_update: PostUpdateOperation | None = None
    list_services: ListServicesOperation | None = None

    @model_validator(mode="after")
    def _create_can_be_found(self) -> Self:
        if self.create is not None and self.find_by_reference is None:
            raise PydanticCustomError(
                "create_needs_lookup",
                "create needs find_by_reference: a redelivered request must find its record",
            )
        return self

    def declared(self) -> dict[Capability, Operation]:
        return {
            Capability(name): operation
            for name, operation in self
            if isinstance(operation, Operation)
        }


Outcome = Literal["transient", "permanent", "not_found", "exists"]
"""What a fault means: retry later; refused for good; no such record; a record with this
idempotency key exists already (a create then returns that record)."""


class FaultRule(_Model):
    code: str | None = Field(default=None, min_length=1)
    """The fault code or a SOAP 1.2 subcode, by local name (`Client`, `Receiver`)."""
    message: Pattern | None = None
    """Searched in the fault string (SOAP 1.2: the reason)."""
    detail: Pattern | None = None
    """Searched in the text of the fault's detail."""
    then: Outcome

    @model_validator(mode="after")
    def _tests_something(self) -> Self:
        if self.code is None and self.message is None and self.detail is None:
            raise PydanticCustomError(
                "empty_rule", "a fault rule needs code, message or detail to match"
            )
        return self


class SoapSchema(_Model):
    operations: Operations
    faults: list[FaultRule] = Field(default_factory=list)
    unclassified_faults: Literal["transient", "permanent"] = "permanent"
    wire_log: list[Annotated[str, Field(pattern=rf"^{_NAME}$")]] = Field(default_factory=list)
    """Element names whose text the debug wire log shows; every other text is redacted."""
