"""The kinds of values a mapping meets, named once.

The type tuples are built here once: `isinstance(value, LISTS)` would build a
union object on every call, on the hottest paths of the engine.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

LISTS = (list, tuple)
NUMBERS = (int, float, Decimal)
"""Numbers, bool included (a subclass of int): exclude it where it is not one."""


def kind_of(value: Any) -> str:
    """How a value is named in a message: by its type, as its content may be personal."""
    return "text" if isinstance(value, str) else f"a {type(value).__name__}"
