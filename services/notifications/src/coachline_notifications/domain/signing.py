"""Standard Webhooks signatures (https://www.standardwebhooks.com/): how a receiver knows a delivery is ours.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``; the signature is its HMAC-SHA256
under the subscription's secret, base64-encoded and prefixed ``v1,``. The id lets a receiver drop a
repeated delivery; the timestamp lets it refuse an old delivery replayed by someone who captured it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"  # noqa: S105 - the marker in front of every secret, not a secret
SECRET_BYTES = 32
TOLERANCE_S = 5 * 60


class InvalidSignature(ValueError):
    """The headers do not prove the body came, recently, from the holder of the secret."""


def generate_secret() -> str:
    """A new signing secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of ``secret``: the base64-decoded part after ``whsec_`` (the prefix may be left off)."""
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the secret is not base64 after its whsec_ prefix") from None
    if not key:
        raise ValueError("the secret is empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value of one delivery attempt: ``v1,`` and the base64 HMAC-SHA256."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers that go with a delivery attempt."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: float = TOLERANCE_S,
) -> None:
    """Check a received delivery as a receiver does; raises :class:`InvalidSignature` if it does not hold.

    ``headers`` may use any letter case. ``webhook-signature`` may carry several space-separated
    signatures (the spec's way to rotate secrets); one match is enough.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not (msg_id and stamp and signatures):
        raise InvalidSignature("webhook-id, webhook-timestamp or webhook-signature is missing")
    if not (stamp.isascii() and stamp.isdigit()):
        raise InvalidSignature("webhook-timestamp is not a number of seconds")
    timestamp = int(stamp)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise InvalidSignature("webhook-timestamp is too far from the current time")
    expected = sign(secret, msg_id, timestamp, body).encode()
    if not any(hmac.compare_digest(candidate.encode(), expected) for candidate in signatures.split(" ")):
        raise InvalidSignature("no signature matches the body")
