"""Personal data taken out of text a back office wrote, before it becomes an error's
reason (logged, kept in a dead letter): a refusal may quote what the citizen sent."""

from __future__ import annotations

import re

MAX_REASON = 500
"""Characters of a back office's text kept in an error's reason."""

_EMAIL = re.compile(r"[^\s@<>\"'(),;:]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONE = re.compile(r"\+?(?:\d[\s().-]?){8,}\d")
"""Nine digits or more, spaced or not: a phone number (case numbers and dates are shorter)."""


def bounded(text: str) -> str:
    """`text` cut to `MAX_REASON` characters, an ellipsis marking the cut."""
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def without_emails(text: str) -> str:
    return _EMAIL.sub("[email]", text)


def redacted(text: str) -> str:
    """No e-mail address and no phone number, bounded."""
    return bounded(_PHONE.sub("[number]", without_emails(text)))
