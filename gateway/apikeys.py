"""API keys: minted at random, stored only as salted hashes, compared in constant time.

Keys are 32 random bytes, so a salted SHA-256 is as strong as a slow password hash
while costing microseconds on every POST; the answers for the keys seen last are kept,
as one client sends its key with every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

_SCHEME = "sha256"


def mint_key() -> str:
    return secrets.token_urlsafe(32)


def hash_key(key: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(16)
    digest = hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()
    return f"{_SCHEME}${salt}${digest}"


def is_valid_hash(stored: str) -> bool:
    parts = stored.split("$")
    return len(parts) == 3 and parts[0] == _SCHEME and len(parts[2]) == 64


@lru_cache(maxsize=1024)
def matches(key: str, stored_hashes: tuple[str, ...]) -> bool:
    """True when `key` hashes to one of `stored_hashes`; every hash is checked."""
    found = False
    for stored in stored_hashes:
        _, salt, _ = stored.split("$")
        found |= hmac.compare_digest(hash_key(key, salt), stored)
    return found
