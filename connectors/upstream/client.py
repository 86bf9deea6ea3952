"""HTTP to the upstream Open311 server: pooled, bounded by a deadline, failures typed.

A connection that fails, a call past its deadline, a 5xx, 408 or 429 is transient; an
Open311 error in the 400s is permanent, with the upstream's own description; a 404 is
not found and a 501 unsupported (this gateway's answer to an operation its backend
lacks). Descriptions are quoted with the api_key and e-mail addresses taken out, as
they end up in logs and dead letters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import aiohttp

from connectors.base import (
    ConnectorError,
    NotFoundError,
    PermanentError,
    Record,
    TransientError,
    UnsupportedError,
)
from connectors.redaction import bounded, without_emails
from connectors.upstream.documents import (
    DocumentError,
    error_descriptions,
    read_list,
    read_object,
)
from connectors.upstream.forms import Params
from connectors.upstream.settings import Format, UpstreamSettings

T = TypeVar("T")

MAX_BODY_BYTES = 32 * 1024 * 1024
"""The largest answer read: a full page of 1000 requests is far below it."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A 2xx answer, read as the Open311 document it should be."""

    body: bytes
    headers: Mapping[str, str]
    """The answer's headers, their names in any case."""
    what: str
    """The call it answers (`GET services`), for messages."""
    format: Format

    def records(self) -> list[Record]:
        """A list document's records; a body that is not one is a transient failure."""
        return self._read(read_list)

    def record(self) -> Record:
        """An object document's fields; a body that is not one is a transient failure."""
        return self._read(read_object)

    def _read(self, read: Callable[[bytes, Format], T]) -> T:
        try:
            return read(self.body, self.format)
        except DocumentError as exc:
            raise TransientError(
                f"the upstream's answer to {self.what} is not Open311: {exc}"
            ) from None


class UpstreamClient:
    """Calls `{endpoint}/{resource}.{format}`; `start` opens the pool, `close` ends it."""

    def __init__(self, settings: UpstreamSettings, timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.settings.pool_size),
            timeout=aiohttp.ClientTimeout(total=None),
            headers={"User-Agent": "open311-gateway"},
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def deadline(self) -> float:
        """When an operation starting now must be done: `timeout` seconds, every call in it."""
        return asyncio.get_running_loop().time() + self.timeout

    def query(self, *params: tuple[str, str]) -> Params:
        """GET parameters, with the jurisdiction when one is set."""
        jurisdiction = self.settings.jurisdiction_id
        return [*params, *([("jurisdiction_id", jurisdiction)] if jurisdiction else [])]

    def credentials(self) -> Params:
        """What a POST carries besides the record: the api_key and the jurisdiction."""
        key = self.settings.api_key
        return self.query(*([("api_key", key.get_secret_value())] if key else []))

    async def send(
        self,
        method: str,
        resource: str,
        deadline: float,
        *,
        params: Params | None = None,
        form: Params | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One call; its 2xx reply, else the typed error. `resource` has no suffix."""
        if self._session is None:
            raise TransientError("the open311 connector is not started")
        url = f"{self.settings.endpoint}/{resource}.{self.settings.format}"
        what = f"{method} {resource.split('/', 1)[0]}"
        try:
            async with (
                asyncio.timeout_at(deadline),
                self._session.request(
                    method,
                    url,
                    params=params,
                    data=form,
                    headers=headers,
                    allow_redirects=False,
                ) as response,
            ):
                body = await _body(response, what)
                status, reply_headers = response.status, response.headers
        except TimeoutError:
            raise TransientError(
                f"the upstream did not answer {what} within {self.timeout:g} s"
            ) from None
        except aiohttp.ClientError as exc:
            raise TransientError(
                f"the upstream could not be reached for {what}: {type(exc).__name__}"
            ) from None
        if 200 <= status < 300:
            return Reply(body, reply_headers, what, self.settings.format)
        raise self._failure(status, body, what)

    def _failure(self, status: int, body: bytes, what: str) -> ConnectorError:
        described = "; ".join(error_descriptions(body, self.settings.format)) or f"HTTP {status}"
        reason = f"the upstream answered {status} to {what}: {self._quoted(described)}"
        if status == 404:
            return NotFoundError(reason)
        if status == 501:
            return UnsupportedError(reason)
        if status in (408, 429) or status >= 500:
            return TransientError(reason)
        if status >= 400:
            return PermanentError(reason)
        return PermanentError(f"{reason} (point the endpoint at the final address)")

    def _quoted(self, text: str) -> str:
        """The upstream's words, safe to log: no api_key, no e-mail address, not too long."""
        key = self.settings.api_key
        if key is not None:
            text = text.replace(key.get_secret_value(), "[api_key]")
        return bounded(without_emails(text))


async def _body(response: aiohttp.ClientResponse, what: str) -> bytes:
    too_large = TransientError(f"the upstream's answer to {what} is over {MAX_BODY_BYTES} bytes")
    if response.content_length is not None and response.content_length > MAX_BODY_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)
