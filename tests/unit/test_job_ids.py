"""Job ids: 32 hex digits that sort in the order they were made, from one millisecond
to the next, with 80 random bits each."""

from __future__ import annotations

import re
import time

from gateway.queue.jobs import new_job_id


def test_an_id_is_32_hex_digits_and_never_repeats() -> None:
    ids = [new_job_id() for _ in range(10_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", job_id) for job_id in ids)
    assert len(set(ids)) == len(ids)


def test_ids_made_in_a_later_millisecond_sort_later() -> None:
    earlier = [new_job_id() for _ in range(100)]
    time.sleep(0.002)
    later = [new_job_id() for _ in range(100)]
    assert max(earlier) < min(later)


def test_ids_of_one_millisecond_differ_in_their_random_part() -> None:
    ids = [new_job_id() for _ in range(1000)]
    by_millisecond: dict[str, set[str]] = {}
    for job_id in ids:
        by_millisecond.setdefault(job_id[:12], set()).add(job_id[12:])
    assert any(len(randoms) > 1 for randoms in by_millisecond.values())
    assert sum(len(randoms) for randoms in by_millisecond.values()) == len(ids)
