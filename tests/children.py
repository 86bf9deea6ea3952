"""The gateway's commands as child processes of a test: a port for one to listen on,
waiting until it answers, its output, and stopping it as a service manager would."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp

from delivery import PATIENCE_SECONDS


def free_port() -> int:
    """A loopback port nobody listens on now (the kernel picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def output_of(log: Path) -> str:
    return log.read_text(errors="replace")


async def answering(url: str, child: asyncio.subprocess.Process, log: Path) -> None:
    """Return once `url` answers 200; fail at once if the child exits first, and after
    PATIENCE_SECONDS if it never answers. `log` holds the child's output."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE_SECONDS
    async with aiohttp.ClientSession() as session:
        while True:
            assert child.returncode is None, f"the child exited:\n{output_of(log)}"
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            assert loop.time() < deadline, f"the child never answered:\n{output_of(log)}"
            await asyncio.sleep(0.05)


async def stopped(child: asyncio.subprocess.Process) -> int:
    """SIGTERM, as a service manager stops the gateway; SIGKILL if it hangs. Its exit
    status (negative: the signal that ended it)."""
    if child.returncode is not None:
        return child.returncode
    child.terminate()
    try:
        async with asyncio.timeout(PATIENCE_SECONDS):
            return await child.wait()
    except TimeoutError:
        child.kill()
        return await child.wait()
