"""simple-salesforce behind one door, on worker threads: log in, call, renew once.

Every API request goes through `Client.call`. The first call logs in; a call that
finds its session expired (401 INVALID_SESSION_ID) gets a new token and is sent once
more. Threads that meet the same expired session renew it once between them: the
first takes a new token, the others use it. Failures leave as typed `ConnectorError`s.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession

from connectors.salesforce.auth import request_token
from connectors.salesforce.errors import connector_error
from connectors.salesforce.session import BoundedSession
from connectors.salesforce.settings import SalesforceSettings

T = TypeVar("T")
Request = Callable[[Salesforce], T]


class Client:
    def __init__(self, settings: SalesforceSettings, *, timeout: float) -> None:
        self._settings = settings
        self.session = BoundedSession(timeout=timeout, verify=settings.verify)
        self._lock = threading.Lock()
        self._salesforce: Salesforce | None = None
        self.logins = 0
        """Tokens taken since start: one, plus one per renewed session."""

    def call(self, request: Request[T]) -> T:
        """`request(salesforce)`, a single API request, renewing an expired session once."""
        try:
            salesforce = self._logged_in(None)
            try:
                return request(salesforce)
            except SalesforceExpiredSession:
                return request(self._logged_in(salesforce))
        except Exception as exc:
            raise connector_error(exc) from None

    def _logged_in(self, expired: Salesforce | None) -> Salesforce:
        """The current client; a new one when there is none or it is `expired`."""
        with self._lock:
            if self._salesforce is None or self._salesforce is expired:
                token = request_token(self._settings, self.session)
                self.logins += 1
                self._salesforce = Salesforce(
                    instance_url=token.instance_url,
                    session_id=token.access_token,
                    session=self.session,
                    version=self._settings.api_version,
                    object_pairs_hook=dict,
                )
            return self._salesforce

    def close(self) -> None:
        self.session.close()


def sobject(salesforce: Salesforce, name: str) -> Any:
    """The library's handle on one object (`salesforce.Case`)."""
    return getattr(salesforce, name)
