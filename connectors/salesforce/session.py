"""The HTTP session every Salesforce call goes through: a timeout and the CA on each request.

simple-salesforce sets no timeout and `SFType.create` takes no request options, so the
session adds them itself. `verify` is passed on every request too: `REQUESTS_CA_BUNDLE`
in the environment overrides a session's own `verify` (requests issue 3829), and the CA
the connector was configured with would be ignored.
"""

from __future__ import annotations

from typing import Any

import requests


class BoundedSession(requests.Session):
    def __init__(self, *, timeout: float, verify: str | bool) -> None:
        super().__init__()
        self.call_timeout = timeout
        self.verify = verify

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs["timeout"] = self.call_timeout
        kwargs["verify"] = self.verify
        return super().request(method, url, *args, **kwargs)
