"""One Open311 call as the handlers see it: format, parameters, and the runtime."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from gateway.open311.render import Format
from gateway.runtime import Runtime
from gateway.tenants import Tenant

Params = list[tuple[str, str]]


@dataclass(slots=True)
class Call:
    request: web.BaseRequest
    runtime: Runtime
    fmt: Format
    argument: str
    """The route's `{name}` segment (a service code, id or token); empty when it has none."""
    params: Params
    """Query string and form body merged, in order; file parts left out."""
    jurisdiction_id: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    """Headers a handler adds to its answer."""

    def param(self, name: str) -> str | None:
        """The first non-empty value of `name`: an empty parameter counts as not sent."""
        for key, value in self.params:
            if key == name and value.strip():
                return value.strip()
        return None

    def tenant(self) -> Tenant:
        """The jurisdiction addressed; 503 while its connector has not started."""
        tenant = self.runtime.tenants.resolve(self.param("jurisdiction_id"))
        self.jurisdiction_id = tenant.id
        tenant.check_started()
        return tenant


async def read_params(request: web.BaseRequest) -> Params:
    """Merge query and body parameters; `web.HTTPRequestEntityTooLarge` past the limit."""
    params = list(request.query.items()) if request.query_string else []
    if request.method == "POST" and request.body_exists:
        form = await request.post()
        params += [(key, value) for key, value in form.items() if isinstance(value, str)]
    return params
