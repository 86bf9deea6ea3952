"""Personal data taken out of text the back office wrote, before it reaches a log or a
dead letter: a fault's message may quote what the citizen sent."""

from __future__ import annotations

import re

MAX_REASON = 500
"""Characters of a fault's text kept in an error's reason."""

_EMAIL = re.compile(r"[^\s@<>\"'(),;:]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONE = re.compile(r"\+?(?:\d[\s().-]?){8,}\d")
"""Nine digits or more, spaced or not: a phone number (case numbers and dates are shorter)."""


def redacted(text: str) -> str:
    text = _EMAIL.sub("[email]", text)
    text = _PHONE.sub("[number]", text)
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
