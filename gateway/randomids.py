"""Random ids in hex from the operating system's CSPRNG, drawn a buffer at a time.

`secrets.token_hex` makes one `getrandom` system call per id; on virtual machines
that was a few percent of a POST's CPU (a request id and a job id each). One call per
4 KiB serves 256 job ids. The buffer is the same CSPRNG output, each byte handed out
once: under a lock, and emptied in a forked child so no two processes share it.
"""

from __future__ import annotations

import os
import threading

_BUFFER_BYTES = 4096


class _RandomBytes:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._taken = 0

    def hex(self, nbytes: int) -> str:
        with self._lock:
            if self._taken + nbytes > len(self._buffer):
                self._buffer, self._taken = os.urandom(max(_BUFFER_BYTES, nbytes)), 0
            start, self._taken = self._taken, self._taken + nbytes
            return self._buffer[start : self._taken].hex()

    def forget(self) -> None:
        self._lock = threading.Lock()
        self._buffer, self._taken = b"", 0


_bytes = _RandomBytes()
os.register_at_fork(after_in_child=_bytes.forget)


def random_hex(nbytes: int) -> str:
    """`nbytes` random bytes as 2 * `nbytes` hex digits, as `secrets.token_hex` gives."""
    return _bytes.hex(nbytes)
