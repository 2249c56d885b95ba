"""Standard Webhooks signatures (https://www.standardwebhooks.com/), for both directions.

Intake verifies what platforms post to it; notifications signs what it delivers. The signed content is
``{webhook-id}.{webhook-timestamp}.{body}``; a signature is its HMAC-SHA256 under a secret, base64-encoded
and prefixed ``v1,``. The id lets a receiver drop a repeated delivery; the timestamp lets it refuse an old
request replayed by someone who captured it. During a secret rotation a sender signs with the old and the
new secret (space-separated signatures) and a receiver accepts either, so the two sides switch at their
own pace.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as random_source
import time
from collections.abc import Iterable, Mapping

SECRET_PREFIX = "whsec_"  # noqa: S105 - the marker in front of every secret, not a secret
SECRET_BYTES = 32
TOLERANCE_S = 5 * 60
# The spec bounds the id to what a receiver can store for deduplication; a longer one is not ours.
MAX_ID_LENGTH = 256
HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"


class InvalidSignature(ValueError):
    """The headers do not prove the body came, recently, from the holder of a secret."""


def new_secret() -> str:
    """A new signing secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(random_source.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of ``secret``: the base64-decoded part after ``whsec_`` (the prefix may be left off)."""
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the secret is not base64 after its whsec_ prefix") from None
    if not key:
        raise ValueError("the secret is empty")
    return key


def validate_secret(secret: str) -> str:
    """``secret`` if it is a usable ``whsec_`` secret of at least 32 bytes; ``ValueError`` otherwise."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a secret starts with whsec_")
    if len(secret_key(secret)) < SECRET_BYTES:
        raise ValueError(f"a secret holds at least {SECRET_BYTES} random bytes")
    return secret


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``webhook-signature`` entry: ``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body``."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(
    secrets: str | Iterable[str], msg_id: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    """The three headers of a request, signed once per secret (two secrets while rotating)."""
    timestamp = int(time.time() if now is None else now)
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    if not keys:
        raise ValueError("at least one secret is needed to sign")
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: " ".join(sign(secret, msg_id, timestamp, body) for secret in keys),
    }


def verify(
    secrets: str | Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    *,
    tolerance_s: float = TOLERANCE_S,
) -> str:
    """Check a received request; returns its ``webhook-id``, raises :class:`InvalidSignature` otherwise.

    ``headers`` may use any letter case. ``webhook-signature`` may carry several space-separated
    signatures; one that matches any of ``secrets`` is enough. Entries of other versions are ignored.
    """
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get(HEADER_ID)
    stamp = lowered.get(HEADER_TIMESTAMP)
    signatures = lowered.get(HEADER_SIGNATURE)
    missing = [name for name, value in ((HEADER_ID, msg_id), (HEADER_TIMESTAMP, stamp),
                                        (HEADER_SIGNATURE, signatures)) if not value]
    if missing or msg_id is None or stamp is None or signatures is None:
        raise InvalidSignature(f"missing header: {', '.join(missing)}")
    if len(msg_id) > MAX_ID_LENGTH:
        raise InvalidSignature(f"{HEADER_ID} is longer than {MAX_ID_LENGTH} characters")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise InvalidSignature(f"{HEADER_TIMESTAMP} is not a number of seconds")
    timestamp = int(stamp)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise InvalidSignature(f"{HEADER_TIMESTAMP} is more than {tolerance_s:g} s from the current time")
    candidates = [entry.encode() for entry in signatures.split(" ") if entry.startswith("v1,")]
    for secret in keys:
        expected = sign(secret, msg_id, timestamp, body).encode()
        # compare_digest against every candidate: the time taken says nothing about which one was close.
        if any([hmac.compare_digest(candidate, expected) for candidate in candidates]):
            return msg_id
    raise InvalidSignature("no signature matches the body under this source's secrets")
