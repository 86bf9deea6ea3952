"""The backend section of a mapping for the Salesforce connector.

Object and field names come only from here, and each must be a plain SOQL identifier.

```yaml
backend:
  sobject: Case                  # the object requests are (default Case)
  id: Id                         # the field holding the Open311 service_request_id (default Id;
                                 #   CaseNumber works too)
  external_id: Open311_Key__c    # an External ID field (unique): the idempotency key, upserted on
  created_at: CreatedDate        # searches are newest first by it (default CreatedDate)
  fields: [Id, CaseNumber, Status, Type, Subject, CreatedDate, Open311_Key__c]  # what reads select
  services:                      # optional: the catalogue from a picklist's active values
    picklist: Type               #   records {value, label, active, defaultValue, validFor}
  comments:                      # optional: citizens' updates become records of this object
    sobject: CaseComment
    parent: ParentId             #   the request it belongs to (written as the Open311 id)
    fields: [Id, ParentId, CommentBody, IsPublished, CreatedDate]
  updates:                       # optional: where GET servicerequestupdates reads changes:
    sobject: CaseComment         #   rows of a child object (comments or history), in a window
    parent: ParentId             #   of `time`, each with its request under `parent`, and only
    time: CreatedDate            #   those matching every `match` value
    fields: [Id, ParentId, CommentBody, CreatedDate]
    match: {IsPublished: true}
# or updates: {last_modified: LastModifiedDate}: the requests changed in the window themselves
```
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from connectors.salesforce.soql import IDENTIFIER

Name = Annotated[str, Field(pattern=f"^{IDENTIFIER.pattern}$")]
MatchValue = bool | int | float | str | None

PARENT_KEY = "parent"
"""The key under which an update record carries its request, and under which a citizen's
update (updates.create) writes changes to the request itself (`parent.Status`)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _require(fields: tuple[str, ...], named: dict[str, str]) -> None:
    listed = {name.lower() for name in fields}
    for role, name in named.items():
        if name.lower() not in listed:
            raise PydanticCustomError(
                "unlisted_field",
                "{role} '{name}' must be one of the fields",
                {"role": role, "name": name},
            )


class Services(_Model):
    picklist: Name


class Comments(_Model):
    sobject: Name = "CaseComment"
    parent: Name = "ParentId"
    fields: tuple[Name, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _roles_listed(self) -> Self:
        _require(self.fields, {"Id": "Id", "parent": self.parent})
        return self


class ChildUpdates(_Model):
    sobject: Name
    parent: Name
    time: Name = "CreatedDate"
    fields: tuple[Name, ...] = Field(min_length=1)
    match: dict[Name, MatchValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _roles_listed(self) -> Self:
        _require(self.fields, {"Id": "Id", "parent": self.parent, "time": self.time})
        return self


class ModifiedUpdates(_Model):
    last_modified: Name = "LastModifiedDate"


def _updates_form(section: Any) -> str | None:
    if isinstance(section, dict):
        return "updates[last_modified]" if "last_modified" in section else "updates[object]"
    return None


Updates = Annotated[
    Annotated[ChildUpdates, Tag("updates[object]")]
    | Annotated[ModifiedUpdates, Tag("updates[last_modified]")],
    Discriminator(
        _updates_form,
        custom_error_type="updates",
        custom_error_message="must be a child object (sobject, parent, fields) or last_modified",
    ),
]


class SalesforceSchema(_Model):
    sobject: Name = "Case"
    id: Name = "Id"
    external_id: Name
    created_at: Name = "CreatedDate"
    fields: tuple[Name, ...] = Field(min_length=1)
    services: Services | None = None
    comments: Comments | None = None
    updates: Updates | None = None

    @model_validator(mode="after")
    def _roles_listed(self) -> Self:
        named = {"Id": "Id", "id": self.id, "external_id": self.external_id}
        _require(self.fields, {**named, "created_at": self.created_at})
        if isinstance(self.updates, ModifiedUpdates):
            _require(self.fields, {"updates.last_modified": self.updates.last_modified})
        return self
