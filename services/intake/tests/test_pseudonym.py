"""Customer identifiers: one pseudonym per customer and tenant, whatever the spelling; nothing raw remains."""

import re

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coachline_intake.domain.pseudonym import PREFIX, normalise, pseudonym, scrub
from coachline_intake.service import pseudonym_key
from coachline_intake.settings import Settings

pytestmark = pytest.mark.unit

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
# Finnish mobile numbers: 04x / 050 and seven digits.
subscriber = st.integers(1_000_000, 9_999_999)
prefix = st.sampled_from(["40", "41", "44", "45", "50"])


def spellings(area: str, number: int) -> list[str]:
    digits = f"{area}{number}"
    return [f"+358{digits}", f"+358 {area} {number}", f"0{digits}", f"0{area} {str(number)[:3]} {str(number)[3:]}",
            f"tel:+358{digits}", f"sip:+358{digits}@pbx.example;user=phone", f"00358{digits}", f"(0{area}) {number}"]


@given(area=prefix, number=subscriber)
def test_every_spelling_of_a_number_is_one_customer(area: str, number: int) -> None:
    refs = {pseudonym(KEY, spelling, "FI") for spelling in spellings(area, number)}
    assert len(refs) == 1
    ref = refs.pop()
    assert ref.startswith(PREFIX) and re.fullmatch(r"cust-[0-9a-f]{32}", ref)
    assert str(number) not in ref


@given(area=prefix, number=subscriber, other=subscriber)
def test_different_customers_and_different_tenants_get_different_pseudonyms(area: str, number: int,
                                                                             other: int) -> None:
    mine = pseudonym(KEY, f"0{area}{number}", "FI")
    assert mine != pseudonym(OTHER_KEY, f"0{area}{number}", "FI")
    if other != number:
        assert mine != pseudonym(KEY, f"0{area}{other}", "FI")


@given(user=st.from_regex(r"[a-z][a-z0-9.]{0,15}", fullmatch=True), domain=st.sampled_from(["example.fi", "Mail.COM"]))
def test_email_addresses_are_one_customer_in_any_letter_case(user: str, domain: str) -> None:
    address = f"{user}@{domain}"
    assert normalise(address, "FI") == normalise(address.upper(), "FI") == f"email:{address.lower()}"
    assert pseudonym(KEY, address, "FI") == pseudonym(KEY, f"mailto:{address.upper()}", "FI")


@given(text=st.text(max_size=200))
def test_normalise_and_pseudonym_take_any_text(text: str) -> None:
    assert normalise(text, "FI")
    assert pseudonym(KEY, text, None).startswith(PREFIX)


@given(before=st.text(alphabet="abc ,.!?", max_size=40), after=st.text(alphabet="abc ,.!?", max_size=40),
       area=prefix, number=subscriber, style=st.integers(0, 3))
def test_scrub_removes_phone_numbers_and_email_from_free_text(before: str, after: str, area: str, number: int,
                                                               style: int) -> None:
    spelled = spellings(area, number)[style]
    text = f"{before} {spelled} {after} mail me at someone@example.fi"
    cleaned = scrub(text, "FI")
    assert str(number)[-5:] not in cleaned
    assert "someone@example.fi" not in cleaned
    assert cleaned.startswith(before)
    assert not list(phonenumbers.PhoneNumberMatcher(cleaned, "FI"))


def test_scrub_keeps_timestamps_and_call_ids() -> None:
    line = "1795424400|1795424400.101|billing|PJSIP/1001|CONNECT|12|1795424412.102|3"
    assert scrub(line, "FI") == line


def test_pseudonym_keys_come_from_settings_and_are_only_derived_outside_production() -> None:
    configured = Settings(pseudonym_keys={"acme": "x" * 32})
    assert pseudonym_key(configured, "acme") == b"x" * 32
    assert pseudonym_key(configured, "globex") != pseudonym_key(configured, "initech")
    with pytest.raises(ValueError, match="shorter than 32"):
        Settings(pseudonym_keys={"acme": "short"})
    with pytest.raises(ValueError, match="INTAKE_PSEUDONYM_KEYS has no key for acme"):
        Settings(COACHLINE_ENVIRONMENT="production", COACHLINE_OIDC_JWKS="{}",
                 source_secrets={"acme": {"generic": ["whsec_" + "A" * 44]}})
