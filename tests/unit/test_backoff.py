"""Backoff: exponential ceilings with full jitter, a cap, and a last attempt."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.queue import Backoff

POLICY = Backoff(base_seconds=2.0, cap_seconds=60.0, max_attempts=6)


def test_ceiling_doubles_from_the_base_up_to_the_cap() -> None:
    assert [POLICY.ceiling(a) for a in range(7)] == [2, 4, 8, 16, 32, 60, 60]


def test_a_huge_attempt_number_stays_at_the_cap() -> None:
    assert POLICY.ceiling(10_000) == 60.0


def test_the_same_seed_gives_the_same_delays() -> None:
    first = [POLICY.delay(a, random.Random(7)) for a in range(5)]
    again = [POLICY.delay(a, random.Random(7)) for a in range(5)]
    assert first == again
    assert len(set(first)) == 5


def test_delays_spread_over_the_whole_window() -> None:
    """Full jitter: draws land anywhere between 0 and the ceiling, not near the ceiling."""
    rng = random.Random(11)
    delays = [POLICY.delay(3, rng) for _ in range(400)]
    assert min(delays) < 0.1 * POLICY.ceiling(3)
    assert max(delays) > 0.9 * POLICY.ceiling(3)


@given(attempt=st.integers(min_value=0, max_value=4), seed=st.integers())
def test_a_delay_never_exceeds_its_ceiling(attempt: int, seed: int) -> None:
    delay = POLICY.delay(attempt, random.Random(seed))
    assert delay is not None
    assert 0.0 <= delay <= POLICY.ceiling(attempt)


def test_the_last_allowed_delivery_goes_to_the_dead_letters() -> None:
    rng = random.Random(1)
    assert POLICY.delay(4, rng) is not None
    assert POLICY.delay(5, rng) is None
    assert Backoff(max_attempts=1).delay(0, rng) is None


@pytest.mark.parametrize(
    "settings",
    [
        {"base_seconds": 0.0},
        {"base_seconds": 10.0, "cap_seconds": 5.0},
        {"max_attempts": 0},
    ],
)
def test_nonsense_policies_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**settings)
