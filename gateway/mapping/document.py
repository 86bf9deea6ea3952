"""The shape of a mapping file, as pydantic validates it before anything is compiled.

```yaml
connector: sql                 # the connector kind this mapping is written for
backend: {...}                 # the connector's description of the backend, verbatim
tables:                        # value tables, by name
  status: {values: {NEW: open, DONE: closed}, fallback: open}
services: [...]                # the catalogue: Open311 services with their attributes,
                               # or {from_backend: ...} (see backend_catalogue)
requests:
  create: {backend.field: operation, ...}    # new Open311 request -> backend create payload
  read: {open311_field: operation, ...}      # backend record -> Open311 request
updates:                       # optional: request updates (mySociety extension)
  create: {backend.field: operation, ...}    # citizen's update -> backend change
  read: {open311_field: operation, ...}      # backend change -> Open311 update
```

The operations are those of `gateway.mapping.operations`. A search (GET requests with
`service_code`, `status`, `start_date`/`end_date`) becomes a backend query through
`requests.read`: the fields read for `service_code`, `status` and
`requested_datetime`, and their tables read the other way. Status tables serve both
ways the same way: `status` of `requests.read` and `updates.read` reads a backend
state (extended statuses for updates; `external_status_code` can carry the state
itself), and a citizen's status is written through a table in `updates.create`.
`updates.read.update_id` must be stable: a backend id, or a template over several
(`{template: "{ticket_no}-{history_id}"}`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.mapping.backend_catalogue import ServicesSection
from gateway.mapping.operations import Operation
from gateway.mapping.tables import ValueTable

Entries = dict[str, Operation]
"""Target field (a backend field path, or an Open311 field) -> what its value is."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class RequestSections(_Section):
    create: Entries
    """New Open311 request -> backend record: backend field path -> operation."""
    read: Entries
    """Backend record -> Open311 request: Open311 field -> operation."""


class UpdateSections(_Section):
    create: Entries | None = None
    """Citizen's update -> backend change: backend field path -> operation."""
    read: Entries | None = None
    """Backend change -> Open311 request update: Open311 field -> operation."""


class MappingFile(_Section):
    """What a backend's fields, codes and states mean in Open311 GeoReport v2 terms."""

    connector: str = Field(min_length=1)
    """The connector kind this mapping is written for."""
    backend: dict[str, Any] = Field(default_factory=dict)
    """The connector's description of the backend, checked by the connector."""
    tables: dict[str, ValueTable] = Field(default_factory=dict)
    """Value tables by name, read forward or (`reverse: true`) backwards."""
    services: ServicesSection = ()
    """The catalogue: Open311 services with their attributes, or taken from the backend."""
    requests: RequestSections
    """How a new Open311 request becomes a backend record, and a record a request."""
    updates: UpdateSections = Field(default_factory=UpdateSections)
    """Request updates (mySociety extension), each way optional."""
