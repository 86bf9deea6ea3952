"""Random ids from a buffered CSPRNG: each byte handed out once, also across a fork."""

from __future__ import annotations

import os
import re
import threading

from gateway.randomids import random_hex


def test_ids_are_hex_of_the_asked_length_and_never_repeat() -> None:
    ids = [random_hex(16) for _ in range(5000)]  # about 20 buffers, boundaries crossed
    assert all(re.fullmatch(r"[0-9a-f]{32}", each) for each in ids)
    assert len(set(ids)) == len(ids)
    assert re.fullmatch(r"[0-9a-f]{10000}", random_hex(5000))  # more than one buffer


def test_threads_drawing_at_once_get_distinct_ids() -> None:
    drawn: list[list[str]] = [[] for _ in range(8)]

    def draw(into: list[str]) -> None:
        into.extend(random_hex(16) for _ in range(2000))

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [each for ids in drawn for each in ids]
    assert len(set(every)) == len(every) == 16000


def test_a_forked_child_does_not_reuse_the_parents_buffer() -> None:
    random_hex(16)  # the parent holds a partly used buffer
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(write, random_hex(16).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    from_child = os.read(read, 64).decode()
    os.close(read)
    assert from_child != random_hex(16)
