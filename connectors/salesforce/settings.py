"""The Salesforce connector's settings: where the org is, how to log in, what to trust.

```yaml
connector:
  kind: salesforce
  timeout: 10                      # seconds per call, each HTTP request included
  settings:
    instance_url: https://city.my.salesforce.com
    login_url: https://login.salesforce.com   # the token endpoint's host (default: instance_url)
    ca_file: /etc/open311/salesforce-ca.pem   # trust this CA (default: the system's)
    api_version: "59.0"
    threads: 8                     # simple-salesforce calls running at once at most
    auth:                          # one of three OAuth flows
      flow: client_credentials     #   client_credentials: client_id, client_secret
      client_id: ${SF_CLIENT_ID}   #   password: client_id, client_secret, username,
      client_secret: ${SF_SECRET}  #     password, security_token
                                   #   jwt_bearer: client_id, username, private_key_file,
                                   #     audience (default: login_url)
```
Secrets are `SecretStr`: they never show in a representation or a log line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_API_VERSION = "59.0"
TOKEN_PATH = "/services/oauth2/token"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PasswordFlow(_Model):
    flow: Literal["password"]
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    username: str = Field(min_length=1)
    password: SecretStr
    security_token: SecretStr = SecretStr("")


class ClientCredentialsFlow(_Model):
    flow: Literal["client_credentials"]
    client_id: str = Field(min_length=1)
    client_secret: SecretStr


class JwtBearerFlow(_Model):
    flow: Literal["jwt_bearer"]
    client_id: str = Field(min_length=1)
    username: str = Field(min_length=1)
    private_key_file: Path
    audience: str | None = None
    """The assertion's `aud`: Salesforce wants its login host; default `login_url`."""


Flow = Annotated[PasswordFlow | ClientCredentialsFlow | JwtBearerFlow, Field(discriminator="flow")]


class SalesforceSettings(_Model):
    instance_url: str
    login_url: str | None = None
    auth: Flow
    ca_file: Path | None = None
    api_version: str = Field(default=DEFAULT_API_VERSION, pattern=r"^\d+\.\d$")
    threads: int = Field(default=8, ge=1, le=256)
    """Calls in flight at once: each holds a thread while simple-salesforce blocks."""

    @field_validator("instance_url", "login_url")
    @classmethod
    def _https(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if not url.startswith("https://"):
            raise ValueError("Salesforce is reached over https:// only")
        return url.rstrip("/")

    @property
    def token_url(self) -> str:
        return (self.login_url or self.instance_url) + TOKEN_PATH

    @property
    def verify(self) -> str | bool:
        """What requests checks the server's certificate with."""
        return str(self.ca_file) if self.ca_file is not None else True
