"""The one model inside the gateway: GeoReport v2 resources as pydantic models.

The HTTP edge turns every client dialect into these models and renders them back
to XML or JSON; nothing behind the edge knows about suffixes or form encoding.
Field order in each model is the element order on the wire.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PositiveInt


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Datatype(StrEnum):
    STRING = "string"
    NUMBER = "number"
    DATETIME = "datetime"
    TEXT = "text"
    SINGLEVALUELIST = "singlevaluelist"
    MULTIVALUELIST = "multivaluelist"


class ServiceType(StrEnum):
    REALTIME = "realtime"
    BATCH = "batch"
    BLACKBOX = "blackbox"


class RequestStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class UpdateStatus(StrEnum):
    """mySociety's extended status set for request updates (lower case on output)."""

    OPEN = "open"
    CLOSED = "closed"
    FIXED = "fixed"
    IN_PROGRESS = "in_progress"
    ACTION_SCHEDULED = "action_scheduled"
    INVESTIGATING = "investigating"
    DUPLICATE = "duplicate"
    NOT_COUNCILS_RESPONSIBILITY = "not_councils_responsibility"
    NO_FURTHER_ACTION = "no_further_action"
    INTERNAL_REFERRAL = "internal_referral"
    CANCELLED = "cancelled"
    REOPEN = "reopen"
    FOR_TRIAGE = "for_triage"


class AttributeValue(_Model):
    key: str
    name: str


class Attribute(_Model):
    variable: bool = True
    code: str
    datatype: Datatype
    required: bool = False
    datatype_description: str | None = None
    order: PositiveInt
    description: str
    values: tuple[AttributeValue, ...] = ()
    automated: str | None = None
    """mySociety extension: `hidden_field` or `server_set`."""


class ServiceDefinition(_Model):
    service_code: str
    attributes: tuple[Attribute, ...] = ()


class Service(_Model):
    service_code: str
    service_name: str
    description: str = ""
    metadata: bool
    type: ServiceType = ServiceType.REALTIME
    keywords: tuple[str, ...] = ()
    group: str | None = None
    groups: tuple[str, ...] = ()
    """mySociety extension: a service may sit in several groups."""


class Location(_Model):
    lat: float | None = Field(default=None, ge=-90, le=90)
    long: float | None = Field(default=None, ge=-180, le=180)
    address_string: str | None = None
    address_id: str | None = None


AttributeInput = str | tuple[str, ...]


class NewServiceRequest(_Model):
    """A citizen's report as posted to `requests.{fmt}`, after dialect parsing."""

    service_code: str
    location: Location
    attributes: dict[str, AttributeInput] = Field(default_factory=dict)
    description: str | None = Field(default=None, max_length=4000)
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    media_urls: tuple[str, ...] = ()


class ServiceRequest(_Model):
    service_request_id: str
    status: RequestStatus
    status_notes: str | None = None
    service_name: str | None = None
    service_code: str
    description: str | None = None
    agency_responsible: str | None = None
    service_notice: str | None = None
    requested_datetime: AwareDatetime
    updated_datetime: AwareDatetime | None = None
    expected_datetime: AwareDatetime | None = None
    address: str | None = None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None


class RequestReceipt(_Model):
    """The answer to a POST: the backend's id, or a token that resolves later."""

    service_request_id: str | None = None
    token: str | None = None
    service_notice: str | None = None
    account_id: str | None = None


class RequestUpdate(_Model):
    update_id: str
    service_request_id: str
    status: UpdateStatus
    updated_datetime: AwareDatetime
    description: str = ""
    media_url: str | None = None
    external_status_code: str | None = None


class NewRequestUpdate(_Model):
    """A citizen's comment posted to `servicerequestupdates.{fmt}` (mySociety)."""

    service_request_id: str
    update_id: str
    status: UpdateStatus
    updated_datetime: AwareDatetime
    description: str = Field(max_length=4000)
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    account_id: str | None = None
    media_url: str | None = None


class RequestQuery(_Model):
    """Filters of GET `requests.{fmt}`; `service_request_ids` overrides the rest."""

    service_request_ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[RequestStatus, ...] = ()
    limit: int = 1000


class UpdateQuery(_Model):
    start: datetime
    end: datetime


class Endpoint(_Model):
    specification: str = "http://wiki.open311.org/GeoReport_v2"
    url: str
    changeset: AwareDatetime
    type: str = "production"
    formats: tuple[str, ...] = ("text/xml", "application/json")


class Discovery(_Model):
    changeset: AwareDatetime
    contact: str
    key_service: str
    endpoints: tuple[Endpoint, ...]
