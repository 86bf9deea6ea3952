"""Salesforce record ids: 15 characters, or 18 with a checksum of the letters' case."""

from __future__ import annotations

_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def checksum(short: str) -> str:
    """The three characters Salesforce appends to a 15-character id: for each five
    characters, which of them are upper-case letters."""
    suffix = ""
    for start in (0, 5, 10):
        chunk = short[start : start + 5]
        flags = sum(1 << i for i, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix += _CHECKSUM[flags]
    return suffix


def canonical_id(text: str) -> str | None:
    """The 15-character form of a valid id; None for text that cannot be one."""
    if len(text) not in (15, 18) or not text.isascii() or not text.isalnum():
        return None
    if len(text) == 18 and text[15:].upper() != checksum(text[:15]):
        return None
    return text[:15]
