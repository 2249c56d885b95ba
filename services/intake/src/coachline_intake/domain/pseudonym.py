"""Customer identifiers become keyed pseudonyms at intake; raw phone numbers and e-mail never go further.

A phone number is normalised to E.164 first (``040 123 4567`` in Finland and ``+358401234567`` are the
same customer), an e-mail address is lower-cased, then the result is HMAC-SHA256'd under the tenant's
key. The same customer keeps the same pseudonym within a tenant (repeat-contact figures work), while
two tenants cannot link their customers, and nobody without the key can test a guessed number.
"""

from __future__ import annotations

import hmac
import re
from functools import lru_cache

import phonenumbers

PREFIX = "cust-"
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_URI_SCHEMES = ("tel:", "sip:", "sips:", "mailto:")
# Free text longer than this is not searched for numbers (the search is slow on huge strings); it is
# cut there instead, which also bounds what a survey comment can carry.
MAX_SCRUB = 20_000


# Parsing a phone number costs far more than the HMAC; the same callers recur all day.
@lru_cache(maxsize=65536)
def normalise(raw: str, region: str | None) -> str:
    """The canonical form of a customer identifier: ``tel:+E164``, ``email:...`` or ``id:...``."""
    value = raw.strip()
    lowered = value.lower()
    for scheme in _URI_SCHEMES:
        if lowered.startswith(scheme):
            value = value[len(scheme):].split(";")[0]
            user = value.split("@")[0]
            if scheme.startswith("sip") and user.lstrip("+").isdigit():
                # sip:+358401234567@pbx is the caller's number; sip:alice@example.com stays an address.
                value = user
            break
    if _EMAIL.fullmatch(value):
        return "email:" + value.lower()
    if _E164.fullmatch(value):
        # Already E.164 (what Connect, Twilio and most SIP trunks send): parsing would return it unchanged.
        return "tel:" + value
    if any(ch.isdigit() for ch in value) and len(value) <= 64:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            number = None
        if number is not None and phonenumbers.is_possible_number(number):
            return "tel:" + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return "id:" + value


def pseudonym(key: bytes, raw: str, region: str | None) -> str:
    """``cust-`` and 128 bits of HMAC-SHA256 of the normalised identifier under the tenant's key."""
    digest = hmac.digest(key, normalise(raw, region).encode(), "sha256")
    return PREFIX + digest[:16].hex()


def scrub(text: str, region: str | None) -> str:
    """``text`` with e-mail addresses and phone numbers replaced, for free text and dead letters."""
    cut = text[:MAX_SCRUB]
    cut = _EMAIL.sub("[e-mail]", cut)
    found = list(phonenumbers.PhoneNumberMatcher(cut, region or "ZZ", leniency=phonenumbers.Leniency.VALID))
    for match in reversed(found):
        cut = cut[:match.start] + "[phone]" + cut[match.end:]
    return cut
