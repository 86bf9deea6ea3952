"""A TCP proxy on loopback between a client and a shared server (RabbitMQ, a gateway),
which a test tells to cut every connection and refuse new ones for a while, or to
stall (hold every byte, connections open, until told to flow again): a fault for one
client, without stopping the server other tests use.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self

from yarl import URL

_CHUNK = 64 * 1024


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._refusing = False
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._links: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self.accepted = 0
        """Connections passed through so far (a client's reconnects count)."""

    @classmethod
    def before(cls, url: str) -> FaultProxy:
        parsed = URL(url)
        return cls(parsed.host or "127.0.0.1", parsed.port or 5672)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    @property
    def port(self) -> int:
        assert self._server is not None, "start the proxy first"
        return self._server.sockets[0].getsockname()[1]

    def url(self, url: str) -> str:
        """`url` pointed at the proxy instead of the server."""
        return str(URL(url).with_host("127.0.0.1").with_port(self.port))

    def cut(self) -> None:
        """Resets every open connection at once and refuses new ones until `accept`."""
        self._refusing = True
        for writer in tuple(self._links):
            writer.transport.abort()
        self._links.clear()

    def accept(self) -> None:
        self._refusing = False

    def stall(self) -> None:
        """Holds every byte from now on, either way, on open and new connections alike:
        a server that accepts and never answers."""
        self._flowing.clear()

    def flow(self) -> None:
        """Passes bytes again, the held ones first."""
        self._flowing.set()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for pipe in tuple(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        if self._refusing:
            client.transport.abort()
            return
        try:
            server_reader, server = await asyncio.open_connection(*self._target)
        except OSError:
            client.transport.abort()
            return
        self.accepted += 1
        self._links.update((client, server))
        for reader, writer in ((client_reader, server), (server_reader, client)):
            pipe = asyncio.create_task(self._pipe(reader, writer))
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copies one direction; when either side goes, the other is closed too."""
        try:
            while data := await reader.read(_CHUNK):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            self._links.discard(writer)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
