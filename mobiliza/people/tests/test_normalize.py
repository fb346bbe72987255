"""Phone numbers, time zones and address keys as imports and edits store them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mobiliza.people import normalize
from mobiliza.people.normalize import (
    _kind_of,
    address_key,
    country_time_zone,
    normalize_phone,
    person_time_zone,
    phone_fields,
)


@pytest.mark.parametrize(
    ("raw", "region", "e164", "kind"),
    [
        ("912 345 678", "PT", "+351912345678", "mobile"),
        ("+351 912345678", "FR", "+351912345678", "mobile"),
        ("00351 21 345 6789", "PT", "+351213456789", "landline"),
        ("213 456 789", "PT", "+351213456789", "landline"),
        ("(919) 555-0123", "US", "+19195550123", "mobile"),
        ("06 12 34 56 78", "FR", "+33612345678", "mobile"),
        ("01 42 68 53 00", "FR", "+33142685300", "landline"),
        ("800 200 000", "PT", "+351800200000", "other"),
    ],
)
def test_valid_numbers_become_e164_with_their_type(
    raw: str, region: str, e164: str, kind: str
) -> None:
    result = normalize_phone(raw, region)
    assert result.is_valid
    assert result.e164 == e164
    assert result.kind == kind
    assert result.raw == raw


@pytest.mark.parametrize("raw", ["abc", "123", "", "   ", "+999 123", "91234567890123456789"])
def test_unparseable_numbers_are_kept_raw_and_flagged(raw: str) -> None:
    result = normalize_phone(raw, "PT")
    assert not result.is_valid
    assert result.e164 == ""
    assert result.raw == raw.strip()


def test_raw_is_capped_to_the_column_size() -> None:
    assert len(normalize_phone("9" * 500, "PT").raw) == 64


def test_repeated_numbers_come_from_the_cache() -> None:
    normalize_phone.cache_clear()
    normalize_phone("912 000 001", "PT")
    normalize_phone("912 000 001", "PT")
    assert normalize_phone.cache_info().hits == 1


def test_us_number_gives_new_york_time_zone() -> None:
    assert normalize_phone("+1 919 555 0123", "PT").time_zone == "America/New_York"
    assert person_time_zone(phones=["+19195550123"], default="Europe/Lisbon") == (
        "America/New_York"
    )


@pytest.mark.parametrize(
    ("country", "region", "postcode", "zone"),
    [
        ("PT", "Lisboa", "1100-048", "Europe/Lisbon"),
        ("PT", "", "4000-322", "Europe/Lisbon"),
        ("PT", "Região Autónoma dos Açores", "", "Atlantic/Azores"),
        ("PT", "", "9500-150", "Atlantic/Azores"),
        ("PT", "", "9000-060", "Atlantic/Madeira"),
        ("PT", "Madeira", "", "Atlantic/Madeira"),
        ("ES", "", "35001", "Atlantic/Canary"),
        ("ES", "", "28001", "Europe/Madrid"),
        ("FR", "", "97400", "Indian/Reunion"),
        ("FR", "", "75011", "Europe/Paris"),
        ("US", "NC", "27601", "America/New_York"),
        ("US", "CA", "", "America/Los_Angeles"),
        ("BE", "", "", "Europe/Brussels"),
    ],
)
def test_time_zone_from_address(country: str, region: str, postcode: str, zone: str) -> None:
    assert country_time_zone(country, region, postcode) == zone
    # The address wins over the phone.
    assert (
        person_time_zone(country=country, region=region, postcode=postcode, phones=["+19195550123"])
        == zone
    )


def test_time_zone_falls_back_to_phone_then_organization() -> None:
    assert person_time_zone(country="", phones=["+351213456789"]) == "Europe/Lisbon"
    # A Portuguese mobile spans three zones: ambiguous, so the organization's is used.
    assert person_time_zone(phones=["+351912345678"], default="Europe/Paris") == "Europe/Paris"
    assert person_time_zone(country="US", region="", default="America/Chicago") == (
        "America/Chicago"
    )
    assert person_time_zone(default="Europe/Lisbon") == "Europe/Lisbon"


def test_address_key_ignores_case_accents_punctuation_and_abbreviations() -> None:
    a = address_key(street="Avenida da Liberdade, 110 - 3º Esq.", postcode="1250-146")
    b = address_key(street="AV. DA LIBERDADE 110 3º ESQUERDO", postcode="1250 146")
    assert a == b != ""
    assert address_key(street="12 Main Street", postcode="27601") == address_key(
        street="12 MAIN ST.", postcode="27601-0000"[:5]
    )


def test_address_key_differs_between_addresses_and_needs_a_street() -> None:
    assert address_key(street="Rua Augusta 27", postcode="1100-048") != address_key(
        street="Rua Augusta 29", postcode="1100-048"
    )
    assert address_key(street="", postcode="1100-048", city="Lisboa") == ""
    # Without a postcode the city tells apart two streets of the same name.
    assert address_key(street="Rua Direita 1", city="Braga") != address_key(
        street="Rua Direita 1", city="Faro"
    )


def test_fast_type_lookup_agrees_with_libphonenumber() -> None:
    import random

    import phonenumbers

    rng = random.Random(3)
    for region, length in (("PT", 9), ("US", 10), ("FR", 9), ("ES", 9), ("BR", 11), ("GB", 10)):
        for _ in range(3000):
            digits = str(rng.randint(10 ** (length - 1), 10**length - 1))
            result = normalize_phone(digits, region, with_time_zone=False)
            number = phonenumbers.parse(digits, region)
            valid = phonenumbers.is_valid_number(number)
            assert result.is_valid == valid, (region, digits)
            if valid:
                expected = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                assert result.e164 == expected
                assert result.kind == _kind_of(phonenumbers.number_type(number)), (region, digits)
                # The path with the time zone (no fast path) agrees too.
                slow = normalize_phone(digits, region)
                assert (slow.e164, slow.kind, slow.is_valid) == (
                    result.e164,
                    result.kind,
                    result.is_valid,
                )


@settings(max_examples=400, deadline=None)
@given(
    raw=st.one_of(
        st.text(alphabet="0123456789 -.()+", max_size=16),
        st.from_regex(r"\A\(?[2-9][0-9]{2}\)? ?[0-9]{3}[-. ]?[0-9]{4}\Z"),
        st.from_regex(r"\A\+?[0-9]{2,3} ?[1-9][0-9 ]{7,10}\Z"),
        st.text(max_size=10),
    ),
    region=st.sampled_from(["PT", "US", "FR", "GB", "BR", "ES", "pt", ""]),
)
def test_phone_fields_are_normalize_phone_without_time_zone(raw: str, region: str) -> None:
    # The bulk import's fast form must say exactly what normalize_phone says, with or without
    # the time zone lookup (which always goes through libphonenumber itself).
    result = normalize_phone(raw, region, with_time_zone=False)
    assert phone_fields(raw, region) == (result.raw, result.e164, result.kind, result.is_valid)
    full = normalize_phone(raw, region)
    assert (full.raw, full.e164, full.kind, full.is_valid) == phone_fields(raw, region)


@pytest.mark.parametrize(
    ("postcode", "code"),
    [
        ("27184", "27184"),
        ("1100-048", "1100048"),
        (" 1100 048 ", "1100048"),
        ("sw1a 1aa", "SW1A1AA"),
        ("Çb-12", "CB12"),
        ("١٢٣", ""),  # digits of another script are not a postcode's ASCII digits
    ],
)
def test_address_key_postcode_keeps_only_ascii_letters_and_digits(postcode: str, code: str) -> None:
    key = address_key(street="Rua Augusta 27", postcode=postcode, city="Lisboa")
    assert key == (f"R AUGUSTA 27|{code}" if code else "R AUGUSTA 27|LISBOA")


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(max_size=24)
    | st.text(alphabet=".,;:#'\"`´’()[]{}/\\-_ aZé\u2018\u4e00", max_size=24)
)
def test_address_punctuation_becomes_spaces_and_nothing_else_changes(text: str) -> None:
    expected = "".join(" " if ch in normalize._PUNCT_CHARS else ch for ch in text)
    assert text.translate(normalize._PUNCT) == expected


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="0123456789 -./()\t+xé²٣", max_size=16) | st.text(max_size=16))
def test_the_digits_of_a_number_are_it_without_its_formatting(text: str) -> None:
    expected = "".join(ch for ch in text if ch not in " -./()\t")
    assert normalize._digits(text) == expected


def test_the_type_patterns_agree_with_libphonenumber_in_every_region() -> None:
    """Each region's example numbers (every type it has) and random numbers of its lengths:
    the one-pattern type lookup says what libphonenumber says."""
    import random

    import phonenumbers

    rng = random.Random(11)
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        md = phonenumbers.PhoneMetadata.metadata_for_region(region)
        descs = [md.fixed_line, md.mobile, md.toll_free, md.premium_rate, md.shared_cost]
        descs += [md.voip, md.personal_number, md.pager, md.uan, md.voicemail]
        samples = [d.example_number for d in descs if d is not None and d.example_number]
        lengths = list(md.general_desc.possible_length or ()) or [9]
        samples += [str(rng.randint(10 ** (n - 1), 10**n - 1)) for n in lengths for _ in range(20)]
        for national in samples:
            number = phonenumbers.PhoneNumber(
                country_code=md.country_code, national_number=int(national)
            )
            if phonenumbers.region_code_for_number(number) != region:
                continue  # a code several regions share: libphonenumber picks another
            assert normalize._number_type(number, region) == phonenumbers.number_type(number), (
                region,
                national,
            )
            checked += 1
    assert checked > 3000
