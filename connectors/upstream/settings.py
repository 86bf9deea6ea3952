"""The upstream connector's settings: where the other Open311 server is and how to talk to it.

```yaml
connector:
  kind: open311
  timeout: 10                       # seconds each operation may take, every call included
  settings:
    endpoint: ${BACKEND_URL}        # the upstream's base URL (its services.xml is below it)
    format: json                    # json or xml: the suffix of every call
    api_key: ${BACKEND_API_KEY}     # sent on POST only, in the body
    jurisdiction_id: city.example   # optional: for an upstream hosting several
    pool_size: 10                   # connections to the upstream at most
    updates: detect                 # servicerequestupdates (mySociety): true, false or detect
    token_polls: 5                  # GET tokens/{t} at most after a POST answered with a token
    token_poll_interval: 0.5        # seconds between those
    reference:                      # where the idempotency key goes, and how it is found again
      header: true                  # the Idempotency-Key header on POST
      attribute: gateway_ref        # attribute[gateway_ref] on POST; null: not sent
      description: false           # a "[gateway-ref: KEY]" line after the description
      find: header                  # header, description or none (see connectors.upstream)
      lookback_days: 7              # how far back `find: description` searches
```
"""

from __future__ import annotations

from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

Format = Literal["json", "xml"]
FindBy = Literal["header", "description", "none"]

MAX_LOOKBACK_DAYS = 89
"""A search window stays within the protocol's 90 days, with room for clock skew."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReferenceSettings(_Model):
    header: bool = True
    """Send the key as `Idempotency-Key` on POST: an upstream that honours it (this
    gateway does) answers a repeated POST with its first answer."""
    attribute: str | None = Field(default="gateway_ref", min_length=1)
    """The attribute code that carries the key (`attribute[CODE]`); None: not sent."""
    description: bool = False
    """Append the key to the description, for upstreams that keep nothing else."""
    find: FindBy = "header"
    """How `find_by_reference` looks: `header` asks the upstream for the request it
    created under the `Idempotency-Key` (this gateway's lookup); `description` searches
    recent requests for the key in their description; `none` does not look."""
    lookback_days: float = Field(default=7.0, gt=0, le=MAX_LOOKBACK_DAYS)

    @model_validator(mode="after")
    def _found_where_written(self) -> Self:
        if self.find == "header" and not self.header:
            raise ValueError("find: header needs header: true (the key is sent in it)")
        if self.find == "description" and not self.description:
            raise ValueError("find: description needs description: true (the key is written there)")
        return self


class UpstreamSettings(_Model):
    endpoint: str = Field(min_length=1)
    format: Format = "json"
    api_key: SecretStr | None = None
    jurisdiction_id: str | None = Field(default=None, min_length=1)
    pool_size: int = Field(default=10, ge=1, le=1000)
    updates: bool | Literal["detect"] = "detect"
    token_polls: int = Field(default=5, ge=0, le=50)
    token_poll_interval: float = Field(default=0.5, gt=0, le=10)
    reference: ReferenceSettings = Field(default_factory=ReferenceSettings)

    @field_validator("endpoint")
    @classmethod
    def _http_base(cls, endpoint: str) -> str:
        url = urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("must be an http:// or https:// URL")
        if url.query or url.fragment:
            raise ValueError("must be a base URL, without a query or a fragment")
        return endpoint.rstrip("/")

    @field_validator("api_key")
    @classmethod
    def _empty_is_none(cls, api_key: SecretStr | None) -> SecretStr | None:
        """`${BACKEND_API_KEY}` set to nothing means no key, like an empty Open311 parameter."""
        if api_key is None or not api_key.get_secret_value().strip():
            return None
        return api_key
