"""Read-only wallboard tokens: random secrets, stored only as their SHA-256 digest.

A kiosk browser has no login; the token in the board's URL is all it has. The secret carries 256 bits
of randomness, so a plain digest is enough to keep a stolen database copy from yielding live tokens
(a slow password hash guards low-entropy secrets, which these are not).
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "wbt_"
# token_urlsafe(32) gives 43 characters of the URL-safe base64 alphabet.
PATTERN = r"^wbt_[A-Za-z0-9_-]{43}$"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_id(kind: str) -> str:
    """A random identifier such as ``wb-3f9c…`` for boards and ``wbt-…`` for tokens."""
    return f"{kind}-{secrets.token_hex(8)}"
