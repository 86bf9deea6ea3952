"""A backend that takes 2 s per create: POSTs sent all at once are each answered with a
token (the backend is slower than `sync_wait`), and every one is delivered afterwards,
exactly once. How long the answers take is a figure, measured at the issue's size (200
POSTs) by `tests/bench/bench_slow_backend.py`, not a timed assertion here."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripted_backend import register
from slow_backend import key, run_drill

POSTS = 40


async def test_a_slow_backend_gets_tokens_within_the_wait_and_everything_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(monkeypatch)
    drill = await run_drill(tmp_path, posts=POSTS, sync_wait=0.5)
    assert [(a.status, set(a.body[0])) for a in drill.answers] == [(200, {"token"})] * POSTS
    assert drill.references == {f"header:{key(index)}": 1 for index in range(POSTS)}
    assert all("service_request_id" in resolved for (resolved,) in drill.resolved)
