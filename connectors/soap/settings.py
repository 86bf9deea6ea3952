"""The SOAP connector's settings: where its WSDL is, which port to bind, credentials.

```yaml
connector:
  kind: soap
  timeout: 10                     # seconds per call, the WSDL's loading included
  settings:
    wsdl: ${BACKEND_URL}          # http(s) URL, or a file (absolute, or relative to the
                                  #   working directory)
    address: null                 # the service address, instead of the WSDL's
    soap_version: "1.1"           # bind the WSDL's first port of this SOAP version ...
    service: null                 # ... or name the service and port to bind
    port: null
    basic_auth: {username: gateway, password: ${BACKEND_PASSWORD}}
    ws_security: {username: gateway, password: ${BACKEND_PASSWORD}, digest: true}
    verify_tls: true
    pool_size: 10                 # HTTP connections to the back office at most
    wsdl_cache_seconds: 3600      # a WSDL fetched by URL is reused this long
```
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Credentials(_Model):
    username: str = Field(min_length=1)
    password: SecretStr


class TokenCredentials(Credentials):
    digest: bool = False
    """Send the password as a digest (with a nonce and a time) instead of in clear."""


class SoapSettings(_Model):
    wsdl: str = Field(min_length=1)
    address: str | None = Field(default=None, min_length=1)
    soap_version: Literal["1.1", "1.2"] = "1.1"
    service: str | None = Field(default=None, min_length=1)
    port: str | None = Field(default=None, min_length=1)
    basic_auth: Credentials | None = None
    ws_security: TokenCredentials | None = None
    verify_tls: bool = True
    pool_size: int = Field(default=10, ge=1, le=1000)
    wsdl_cache_seconds: int = Field(default=3600, ge=0)

    @model_validator(mode="after")
    def _port_with_service(self) -> Self:
        if self.port is not None and self.service is None:
            raise ValueError("port needs service: name the WSDL service the port is in")
        return self

    @property
    def wsdl_is_remote(self) -> bool:
        return self.wsdl.startswith(("http://", "https://"))
