"""When a failed delivery is tried again: exponential backoff with full jitter, capped.

Full jitter (a uniform draw between 0 and the exponential ceiling) spreads the retries
of a burst that failed together, so a backend coming back is not hit by all of them
at the same instant. After `max_attempts` deliveries a job goes to the dead letters.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

_MAX_DOUBLINGS = 62
"""Past this the ceiling is far above any cap; stops 2**attempt from growing unbounded."""


@dataclass(frozen=True, slots=True)
class Backoff:
    base_seconds: float = 1.0
    cap_seconds: float = 300.0
    max_attempts: int = 8

    def __post_init__(self) -> None:
        if not 0 < self.base_seconds <= self.cap_seconds:
            raise ValueError("backoff needs 0 < base_seconds <= cap_seconds")
        if self.max_attempts < 1:
            raise ValueError("backoff needs max_attempts >= 1")

    def ceiling(self, attempt: int) -> float:
        """The longest delay after failed delivery number `attempt` (0 = the first)."""
        return min(self.cap_seconds, self.base_seconds * 2.0 ** min(attempt, _MAX_DOUBLINGS))

    def delay(self, attempt: int, rng: random.Random) -> float | None:
        """Seconds before the next delivery of a job whose delivery `attempt` just failed,
        or None when that was its last allowed delivery: dead-letter it.
        """
        if attempt + 1 >= self.max_attempts:
            return None
        return rng.uniform(0.0, self.ceiling(attempt))
