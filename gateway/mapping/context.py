"""What a mapping may read besides the Open311 input: facts about the call itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class MappingContext:
    """Readable as `context.jurisdiction_id`, `context.idempotency_key`, `context.now`."""

    jurisdiction_id: str
    idempotency_key: str
    now: datetime
