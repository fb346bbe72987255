"""Normalization of what imports and edits write about a person: phone numbers, time zone, address.

Public functions (used by imports, person services and later apps):

* `normalize_phone(raw, default_region)`: a `PhoneResult` with E.164, type (mobile / landline /
  other), validity and the number's own time zone. Cached by (raw string, region): a voter file
  repeats the same numbers and formats, and libphonenumber costs ~20 µs a parse.
* `person_time_zone(...)`: the IANA time zone of a person, from the address (country, region,
  postcode) first, else from the phone numbers, else the organization's.
* `address_key(...)`: the normalized address that groups people into a household.

Every function here is pure (no database) so that imports can run it in worker processes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as phone_timezone

__all__ = [
    "PhoneResult",
    "address_key",
    "country_time_zone",
    "normalize_phone",
    "person_time_zone",
    "phone_time_zone",
]

KIND_MOBILE = "mobile"
KIND_LANDLINE = "landline"
KIND_OTHER = "other"

MAX_RAW_PHONE = 64


@dataclass(frozen=True, slots=True)
class PhoneResult:
    """One phone number as read. `e164` is empty when the number could not be parsed at all;
    `is_valid` is False when it could not be parsed or is not a valid number for its country.
    Invalid numbers are kept (raw) and flagged, never dropped."""

    raw: str
    e164: str
    kind: str
    is_valid: bool
    time_zone: str = ""


_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.PAGER}
_LANDLINE_TYPES = {PhoneNumberType.FIXED_LINE}
_UNKNOWN_TZ = phone_timezone.UNKNOWN_TIMEZONE


def _phone_kind(number: phonenumbers.PhoneNumber) -> str:
    kind = phonenumbers.number_type(number)
    if kind in _MOBILE_TYPES:
        return KIND_MOBILE
    if kind in _LANDLINE_TYPES:
        return KIND_LANDLINE
    if kind == PhoneNumberType.FIXED_LINE_OR_MOBILE:
        # The US and Canada don't distinguish: call it mobile (the common case, and texting
        # providers check reachability at send time anyway).
        return KIND_MOBILE
    return KIND_OTHER


@lru_cache(maxsize=262_144)
def normalize_phone(raw: str, default_region: str = "PT") -> PhoneResult:
    """Parse `raw` with libphonenumber using `default_region` for numbers written without +code.

    >>> normalize_phone("912 345 678", "PT").e164
    '+351912345678'
    """
    text = (raw or "").strip()[:MAX_RAW_PHONE]
    if not any(ch.isdigit() for ch in text):
        return PhoneResult(raw=text, e164="", kind=KIND_OTHER, is_valid=False)
    region = (default_region or "PT").upper()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return PhoneResult(raw=text, e164="", kind=KIND_OTHER, is_valid=False)
    if not phonenumbers.is_valid_number(number):
        return PhoneResult(raw=text, e164="", kind=KIND_OTHER, is_valid=False)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    zones = [z for z in phone_timezone.time_zones_for_number(number) if z != _UNKNOWN_TZ]
    return PhoneResult(
        raw=text,
        e164=e164,
        kind=_phone_kind(number),
        is_valid=True,
        time_zone=zones[0] if len(zones) == 1 else "",
    )


@lru_cache(maxsize=65_536)
def phone_time_zone(e164: str) -> str:
    """The single time zone of an E.164 number, or "" when unknown or ambiguous (several)."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ""
    zones = [z for z in phone_timezone.time_zones_for_number(number) if z != _UNKNOWN_TZ]
    return zones[0] if len(zones) == 1 else ""


# --- time zone from the address ---------------------------------------------------------------

# Countries with one time zone (those a campaign on Mobiliza is likely to meet).
_SINGLE_ZONE: dict[str, str] = {
    "AD": "Europe/Andorra", "AO": "Africa/Luanda", "AT": "Europe/Vienna", "BE": "Europe/Brussels",
    "BG": "Europe/Sofia", "CH": "Europe/Zurich", "CV": "Atlantic/Cape_Verde",
    "CY": "Asia/Nicosia", "CZ": "Europe/Prague", "DE": "Europe/Berlin", "DK": "Europe/Copenhagen",
    "DZ": "Africa/Algiers", "EE": "Europe/Tallinn", "FI": "Europe/Helsinki", "GB": "Europe/London",
    "GR": "Europe/Athens", "GW": "Africa/Bissau", "HR": "Europe/Zagreb", "HU": "Europe/Budapest",
    "IE": "Europe/Dublin", "IT": "Europe/Rome", "LT": "Europe/Vilnius", "LU": "Europe/Luxembourg",
    "LV": "Europe/Riga", "MA": "Africa/Casablanca", "MC": "Europe/Monaco", "MT": "Europe/Malta",
    "MZ": "Africa/Maputo", "NL": "Europe/Amsterdam", "NO": "Europe/Oslo", "PL": "Europe/Warsaw",
    "RO": "Europe/Bucharest", "SE": "Europe/Stockholm", "SI": "Europe/Ljubljana",
    "SK": "Europe/Bratislava", "SN": "Africa/Dakar", "ST": "Africa/Sao_Tome", "TL": "Asia/Dili",
    "TN": "Africa/Tunis", "UA": "Europe/Kyiv", "CI": "Africa/Abidjan", "CM": "Africa/Douala",
    "GP": "America/Guadeloupe", "MQ": "America/Martinique", "GF": "America/Cayenne",
    "RE": "Indian/Reunion", "YT": "Indian/Mayotte", "CO": "America/Bogota", "PE": "America/Lima",
    "VE": "America/Caracas", "UY": "America/Montevideo", "IN": "Asia/Kolkata",
    "JP": "Asia/Tokyo", "IL": "Asia/Jerusalem", "TR": "Europe/Istanbul",
}  # fmt: skip

# US states and territories -> their main zone (a few states straddle two: the main one wins;
# the phone number cannot do better).
_US_STATES: dict[str, str] = {
    **dict.fromkeys(
        [
            "CT",
            "DE",
            "DC",
            "FL",
            "GA",
            "IN",
            "KY",
            "ME",
            "MD",
            "MA",
            "MI",
            "NH",
            "NJ",
            "NY",
            "NC",
            "OH",
            "PA",
            "RI",
            "SC",
            "VT",
            "VA",
            "WV",
        ],
        "America/New_York",
    ),
    **dict.fromkeys(
        [
            "AL",
            "AR",
            "IL",
            "IA",
            "KS",
            "LA",
            "MN",
            "MS",
            "MO",
            "NE",
            "ND",
            "OK",
            "SD",
            "TN",
            "TX",
            "WI",
        ],
        "America/Chicago",
    ),
    **dict.fromkeys(["CO", "ID", "MT", "NM", "UT", "WY"], "America/Denver"),
    "AZ": "America/Phoenix",
    **dict.fromkeys(["CA", "NV", "OR", "WA"], "America/Los_Angeles"),
    "AK": "America/Anchorage",
    "HI": "Pacific/Honolulu",
    "PR": "America/Puerto_Rico",
    "VI": "America/St_Thomas",
    "GU": "Pacific/Guam",
}

_AZORES_WORDS = ("ACORES", "AZORES", "ILHA TERCEIRA", "SAO MIGUEL")
_MADEIRA_WORDS = ("MADEIRA", "PORTO SANTO", "FUNCHAL")
_CANARY_WORDS = ("CANARIAS", "CANARY", "LAS PALMAS", "SANTA CRUZ DE TENERIFE", "TENERIFE")
_DIGITS = re.compile(r"\d+")


def _fold(text: str) -> str:
    """Upper-case ASCII without accents: "Açores" -> "ACORES"."""
    if text.isascii():
        return text.upper()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).upper()


def _portugal_zone(region: str, postcode: str) -> str:
    folded = _fold(region)
    if any(word in folded for word in _AZORES_WORDS):
        return "Atlantic/Azores"
    if any(word in folded for word in _MADEIRA_WORDS):
        return "Atlantic/Madeira"
    digits = "".join(_DIGITS.findall(postcode))[:4]
    if len(digits) == 4:
        prefix = int(digits[:2])
        if 90 <= prefix <= 94:  # 9000-9499: Madeira and Porto Santo
            return "Atlantic/Madeira"
        if 95 <= prefix <= 99:  # 9500-9999: the Azores
            return "Atlantic/Azores"
    return "Europe/Lisbon"


def _spain_zone(region: str, postcode: str) -> str:
    folded = _fold(region)
    if any(word in folded for word in _CANARY_WORDS):
        return "Atlantic/Canary"
    digits = "".join(_DIGITS.findall(postcode))
    if len(digits) == 5 and digits[:2] in {"35", "38"}:
        return "Atlantic/Canary"
    return "Europe/Madrid"


def _france_zone(region: str, postcode: str) -> str:
    digits = "".join(_DIGITS.findall(postcode))
    overseas = {
        "971": "America/Guadeloupe",
        "972": "America/Martinique",
        "973": "America/Cayenne",
        "974": "Indian/Reunion",
        "976": "Indian/Mayotte",
        "975": "America/Miquelon",
    }
    if len(digits) == 5 and digits[:3] in overseas:
        return overseas[digits[:3]]
    return "Europe/Paris"


def country_time_zone(country: str, region: str = "", postcode: str = "") -> str:
    """The time zone of an address, or "" when the country is unknown or spans several zones
    that the region / postcode do not settle."""
    code = (country or "").strip().upper()
    if code in {"PT", "PRT"}:
        return _portugal_zone(region, postcode)
    if code in {"ES", "ESP"}:
        return _spain_zone(region, postcode)
    if code in {"FR", "FRA"}:
        return _france_zone(region, postcode)
    if code in {"US", "USA"}:
        return _US_STATES.get(_fold(region).strip(), "")
    return _SINGLE_ZONE.get(code, "")


def person_time_zone(
    *,
    country: str = "",
    region: str = "",
    postcode: str = "",
    phones: Iterable[str] = (),
    default: str = "",
) -> str:
    """The IANA time zone of a person: from the address (country / region / postcode) first,
    else from the first phone number (E.164) whose zone is unambiguous, else `default`
    (the organization's time zone)."""
    zone = country_time_zone(country, region, postcode) if country else ""
    if zone:
        return zone
    for e164 in phones:
        zone = phone_time_zone(e164)
        if zone:
            return zone
    return default


# --- addresses ------------------------------------------------------------------------------

_PUNCT = str.maketrans({ch: " " for ch in ".,;:#'\"`´’()[]{}/\\-_"})
_SPACES = re.compile(r"\s+")
_ABBREVIATIONS: dict[str, str] = {
    # Portuguese
    "AVENIDA": "AV", "AVN": "AV", "AVDA": "AV", "RUA": "R", "TRAVESSA": "TV", "TRAV": "TV",
    "LARGO": "LG", "PRACA": "PC", "PCA": "PC", "ESTRADA": "EST", "CALCADA": "CC",
    "NUMERO": "N", "NO": "N", "NR": "N", "NUM": "N", "ESQUERDO": "ESQ", "DIREITO": "DTO",
    "DIR": "DTO", "DTO": "DTO", "ANDAR": "AND", "LOTE": "LT",
    # French
    "BOULEVARD": "BD", "BVD": "BD", "CHEMIN": "CH", "PLACE": "PL", "ALLEE": "ALL",
    "IMPASSE": "IMP",
    # English (US voter files)
    "STREET": "ST", "AVENUE": "AVE", "ROAD": "RD", "DRIVE": "DR", "LANE": "LN",
    "COURT": "CT", "CIRCLE": "CIR", "HIGHWAY": "HWY",
    "PARKWAY": "PKWY", "TERRACE": "TER", "APARTMENT": "APT", "SUITE": "STE", "UNIT": "UNIT",
    "NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W",
}  # fmt: skip
_POSTCODE_JUNK = re.compile(r"[^0-9A-Z]")


def _norm_words(text: str) -> str:
    words = _fold(text).translate(_PUNCT).split()
    return " ".join(_ABBREVIATIONS.get(word, word) for word in words)


def address_key(*, street: str, postcode: str = "", city: str = "", country: str = "") -> str:
    """The normalized address that groups people into one household, or "" without a street.

    Accents, case, punctuation and common abbreviations ("Avenida" / "Av.", "Street" / "St")
    don't matter; the postcode is compared without spaces or dashes, and the city (and
    country) only count when there is no postcode. Example: "Rua Augusta, 27" + "1100-048" -> "R AUGUSTA 27|1100048".
    """
    street_part = _norm_words(street or "")
    if not street_part:
        return ""
    code = _POSTCODE_JUNK.sub("", _fold(postcode or ""))
    if code:
        return f"{street_part}|{code}"[:255]
    place = _norm_words(city or "")
    country_part = (country or "").strip().upper()
    return (
        f"{street_part}|{place}|{country_part}"[:255]
        if country_part
        else f"{street_part}|{place}"[:255]
    )
