"""HTTP under zeep: pooled, timed out, authenticated, and failures typed before zeep
parses anything.

zeep reads any well-formed non-SOAP XML error page as `Fault(code=None)` and loses the
HTTP status, and raises httpx's own exceptions on timeouts: so the status is judged
here first. A SOAP envelope (a fault, whatever the status) goes on to zeep; 408, 429,
5xx and a connection or timeout failure are transient; 401 and 403 (credentials the
back office refuses) are transient too, so requests wait in the queue while an operator
fixes them; any other answer that is not SOAP is permanent. Envelopes are never logged
here (zeep's own transport logs them whole at debug level): see `connectors.soap.wirelog`.
"""

from __future__ import annotations

from typing import Any

import httpx
from lxml import etree
from zeep.cache import InMemoryCache
from zeep.transports import AsyncTransport

from connectors.base import PermanentError, TransientError
from connectors.soap.settings import SoapSettings

_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_RETRY_LATER = {401, 403, 408, 429}


def _is_envelope(content: bytes) -> bool:
    try:
        root = etree.fromstring(content, _SAFE_XML)
    except etree.XMLSyntaxError:
        return False
    return etree.QName(root).localname == "Envelope"


def check_answer(response: httpx.Response) -> None:
    """Raise the typed error for an HTTP answer that is neither a success nor SOAP."""
    status = response.status_code
    if status == 200 or (status >= 400 and _is_envelope(response.content)):
        return
    if status in _RETRY_LATER or status >= 500:
        what = "refused the credentials" if status in (401, 403) else "is unavailable"
        raise TransientError(f"the SOAP back office {what} (HTTP {status})")
    raise PermanentError(f"the SOAP back office answered HTTP {status}, not SOAP")


class BackendTransport(AsyncTransport):
    """zeep's async transport with the status judged before parsing."""

    async def post(self, address: str, message: bytes, headers: dict[str, str]) -> Any:
        try:
            response = await self.client.post(address, content=message, headers=headers)
        except httpx.TimeoutException:
            raise TransientError("the SOAP back office did not answer in time") from None
        except httpx.HTTPError as exc:
            raise TransientError(
                f"the SOAP back office could not be reached ({type(exc).__name__})"
            ) from None
        check_answer(response)
        return response


def transport(settings: SoapSettings, timeout: float) -> BackendTransport:
    """A transport whose every request, the WSDL's included, is bounded by `timeout`."""
    auth = None
    if settings.basic_auth is not None:
        credentials = settings.basic_auth
        auth = httpx.BasicAuth(credentials.username, credentials.password.get_secret_value())
    limits = httpx.Limits(
        max_connections=settings.pool_size, max_keepalive_connections=settings.pool_size
    )
    bounded = httpx.Timeout(timeout)
    return BackendTransport(
        client=httpx.AsyncClient(
            auth=auth, timeout=bounded, limits=limits, verify=settings.verify_tls
        ),
        wsdl_client=httpx.Client(auth=auth, timeout=bounded, verify=settings.verify_tls),
        cache=InMemoryCache(timeout=settings.wsdl_cache_seconds)
        if settings.wsdl_cache_seconds
        else None,
    )


async def close_transport(transport: BackendTransport) -> None:
    await transport.aclose()
    transport.wsdl_client.close()
