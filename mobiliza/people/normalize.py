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
from typing import Any, NamedTuple

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as phone_timezone

__all__ = [
    "PhoneResult",
    "address_key",
    "country_time_zone",
    "normalize_phone",
    "person_time_zone",
    "phone_fields",
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
# The characters that format a number, deleted; every other ASCII character maps to itself, so
# that `str.translate` finds it in the table (a miss raises and catches a KeyError each time).
_FORMATTING = {code: chr(code) for code in range(128)} | str.maketrans("", "", " -./()\t")


def _digits(text: str) -> str:
    """`text` without the characters that format a number."""
    return text if text.isdigit() else text.translate(_FORMATTING)


def _kind_of(number_type: int) -> str:
    if number_type in _MOBILE_TYPES:
        return KIND_MOBILE
    if number_type in _LANDLINE_TYPES:
        return KIND_LANDLINE
    if number_type == PhoneNumberType.FIXED_LINE_OR_MOBILE:
        # The US and Canada don't distinguish: call it mobile (the common case, and texting
        # providers check reachability at send time anyway).
        return KIND_MOBILE
    return KIND_OTHER


@lru_cache(maxsize=512)
def _region_shape(region: str) -> tuple[int, frozenset[int], str] | None:
    """(country code, national lengths, national prefix) of a region, for the fast path."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.general_desc is None:
        return None
    lengths = frozenset(metadata.general_desc.possible_length or ())
    return metadata.country_code or 0, lengths, metadata.national_prefix or ""


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    """libphonenumber's parse, with a fast path for the commonest case: a national number
    written with digits and separators only, of a length the region uses, with no national
    prefix or leading zero (then the national number is just those digits)."""
    digits = _digits(text)
    if digits.isdigit() and digits[0] != "0":
        shape = _region_shape(region)
        if shape is not None:
            code, lengths, prefix = shape
            if len(digits) in lengths and not (prefix and digits.startswith(prefix)):
                return phonenumbers.PhoneNumber(country_code=code, national_number=int(digits))
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


_Desc = tuple[frozenset[int], re.Pattern[str]] | None
_SPECIAL_TYPES = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)


def _desc(desc: Any) -> _Desc:
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern)


def _guarded(desc: Any, name: str = "") -> str:
    """A number description as a pattern of the whole number: its possible lengths as a
    lookahead, then its pattern; a named group when `name` is given. "" for none."""
    if desc is None or not desc.national_number_pattern:
        return ""
    lengths = sorted(set(desc.possible_length or ()))
    guard = f"(?=(?:{'|'.join(f'[0-9]{{{n}}}' for n in lengths)})\\Z)" if lengths else ""
    body = f"{guard}(?:{desc.national_number_pattern})"
    return f"(?P<{name}>{body})" if name else body


class _RegionTypes(NamedTuple):
    code: int  # the region's country calling code
    # ONE pattern for libphonenumber's number-type rules: the general description as a
    # lookahead, then the special types, the fixed line and (when they differ) the mobile
    # patterns as alternatives in libphonenumber's order. The first alternative that matches
    # the whole number is the type it would find testing them one by one.
    pattern: re.Pattern[str] | None
    kinds: dict[str, int]  # the alternative's group name -> number type
    mobile: _Desc
    same: bool  # the fixed line and mobile patterns are the same


@lru_cache(maxsize=512)
def _region_types(region: str) -> _RegionTypes | None:
    """A region's number-type patterns, compiled once."""
    md = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if md is None:
        return None
    same = bool(md.same_mobile_and_fixed_line_pattern)
    kinds: dict[str, int] = {}
    alternatives: list[str] = []
    named = [
        (f"s{i}", getattr(md, name, None), int(kind))
        for i, (name, kind) in enumerate(_SPECIAL_TYPES)
    ]
    named.append(("fixed", md.fixed_line, int(PhoneNumberType.FIXED_LINE)))
    if not same:
        named.append(("mobile", md.mobile, int(PhoneNumberType.MOBILE)))
    for group, desc, kind in named:
        alternative = _guarded(desc, group)
        if alternative:
            alternatives.append(alternative)
            kinds[group] = kind
    general = _guarded(md.general_desc)
    pattern = (
        re.compile(f"(?={general}\\Z)(?:{'|'.join(alternatives)})")
        if general and alternatives
        else None
    )
    return _RegionTypes(md.country_code or 0, pattern, kinds, _desc(md.mobile), same)


def _matches(nsn: str, desc: _Desc) -> bool:
    if desc is None:
        return False
    lengths, pattern = desc
    if lengths and len(nsn) not in lengths:
        return False
    return pattern.fullmatch(nsn) is not None


def _type_in_region(nsn: str, types: _RegionTypes) -> int:
    """libphonenumber's number-type rules (same order), with one match of the region's
    pattern: a fixed line number is also tested as a mobile one (unless the two are the same)."""
    found = types.pattern.fullmatch(nsn) if types.pattern is not None else None
    if found is None or found.lastgroup is None:
        return int(PhoneNumberType.UNKNOWN)
    kind = types.kinds[found.lastgroup]
    if kind == PhoneNumberType.FIXED_LINE and (types.same or _matches(nsn, types.mobile)):
        return int(PhoneNumberType.FIXED_LINE_OR_MOBILE)
    return kind


def _number_type(number: phonenumbers.PhoneNumber, region: str) -> int:
    """libphonenumber's number type, trying the default region first with precompiled patterns
    (the generic lookup recompiles through a cache and, for a code shared by many regions such
    as +1, tests every region in turn; most numbers of a file are from the organization's own
    country). Falls back to libphonenumber itself."""
    types = _region_types(region)
    if types is not None and types.code == number.country_code:
        found = _type_in_region(phonenumbers.national_significant_number(number), types)
        if found != PhoneNumberType.UNKNOWN:
            return found
    return int(phonenumbers.number_type(number))


def _zones(number: phonenumbers.PhoneNumber, number_type: int) -> str:
    """The single time zone of a valid number of this type, or "" (unknown or several)."""
    if phonenumbers.is_number_type_geographical(number_type, number.country_code or 0):
        zones = phone_timezone.time_zones_for_geographical_number(number)
    else:
        zones = phone_timezone.time_zones_for_number(number)
    found = [z for z in zones if z != _UNKNOWN_TZ]
    return found[0] if len(found) == 1 else ""


def _invalid(text: str) -> PhoneResult:
    return PhoneResult(raw=text, e164="", kind=KIND_OTHER, is_valid=False)


@lru_cache(maxsize=512)
def _fast_region(
    region: str,
) -> tuple[str, frozenset[int], str, _RegionTypes] | None:
    """("+<country code>", national lengths, national prefix, type patterns) of a region whose
    numbers the fast path can type, else None."""
    shape = _region_shape(region)
    types = _region_types(region)
    if shape is None or types is None or types.code != shape[0]:
        return None
    code, lengths, prefix = shape
    return f"+{code}", lengths, prefix, types


def _national_fast(digits: str, region: str) -> tuple[str, str] | None:
    """Fast path: a national number of the default region written with digits and separators
    (`digits`: those digits, not starting with 0; see `_parse`) whose type the region's own
    patterns find: its E.164 form is simply +<country code><digits>, no PhoneNumber object or
    formatting needed. (E.164, kind), or None when the general path must decide."""
    fast = _fast_region(region)
    if fast is None:
        return None
    plus_code, lengths, prefix, types = fast
    if len(digits) not in lengths or (prefix and digits.startswith(prefix)):
        return None
    number_type = _type_in_region(digits, types)
    if number_type == PhoneNumberType.UNKNOWN:
        return None
    return plus_code + digits, _kind_of(number_type)


def phone_fields(raw: str, default_region: str = "PT") -> tuple[str, str, str, bool]:
    """`normalize_phone(raw, default_region, with_time_zone=False)` as a tuple (raw, e164,
    kind, is_valid), for bulk imports: the common national number takes the fast path
    without building a PhoneResult or going through the cache."""
    text = (raw or "").strip()[:MAX_RAW_PHONE]
    digits = _digits(text)
    if digits.isdigit() and digits[0] != "0":
        fast = _national_fast(digits, (default_region or "PT").upper())
        if fast is not None:
            return text, fast[0], fast[1], True
    result = normalize_phone(raw, default_region, with_time_zone=False)
    return result.raw, result.e164, result.kind, result.is_valid


@lru_cache(maxsize=262_144)
def normalize_phone(
    raw: str, default_region: str = "PT", *, with_time_zone: bool = True
) -> PhoneResult:
    """Parse `raw` with libphonenumber using `default_region` for numbers written without +code.

    `with_time_zone=False` skips the time zone lookup (bulk imports look it up only for people
    without an address).

    >>> normalize_phone("912 345 678", "PT").e164
    '+351912345678'
    """
    text = (raw or "").strip()[:MAX_RAW_PHONE]
    region = (default_region or "PT").upper()
    digits = _digits(text)
    if not with_time_zone and digits.isdigit() and digits[0] != "0":
        fast = _national_fast(digits, region)
        if fast is not None:
            return PhoneResult(raw=text, e164=fast[0], kind=fast[1], is_valid=True)
    if not any(ch.isdigit() for ch in text):
        return _invalid(text)
    number = _parse(text, region)
    if number is None:
        return _invalid(text)
    # A number is valid exactly when libphonenumber finds its type (this is what
    # is_valid_number checks, so it's done once).
    number_type = _number_type(number, region)
    if number_type == PhoneNumberType.UNKNOWN:
        return _invalid(text)
    return PhoneResult(
        raw=text,
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        kind=_kind_of(number_type),
        is_valid=True,
        time_zone=_zones(number, number_type) if with_time_zone else "",
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
    number_type = phonenumbers.number_type(number)
    if number_type == PhoneNumberType.UNKNOWN:
        return ""
    return _zones(number, number_type)


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

_PUNCT_CHARS = ".,;:#'\"`´’()[]{}/\\-_"
# A table as a string (index: code point) rather than a dict: `str.translate` then finds every
# character (a dict raises and catches a KeyError for each one it doesn't hold): ~2.5x faster.
_PUNCT = "".join(
    " " if chr(code) in _PUNCT_CHARS else chr(code)
    for code in range(max(map(ord, _PUNCT_CHARS)) + 1)
)
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
    get = _ABBREVIATIONS.get
    return " ".join([get(word, word) for word in _fold(text).translate(_PUNCT).split()])


def _postcode_key(postcode: str) -> str:
    folded = _fold(postcode)
    # Already only ASCII letters and digits (upper-cased by the fold): nothing to remove.
    if folded.isascii() and folded.isalnum():
        return folded
    return _POSTCODE_JUNK.sub("", folded)


def address_key(*, street: str, postcode: str = "", city: str = "", country: str = "") -> str:
    """The normalized address that groups people into one household, or "" without a street.

    Accents, case, punctuation and common abbreviations ("Avenida" / "Av.", "Street" / "St")
    don't matter; the postcode is compared without spaces or dashes, and the city (and
    country) only count when there is no postcode. Example: "Rua Augusta, 27" + "1100-048" -> "R AUGUSTA 27|1100048".
    """
    street_part = _norm_words(street or "")
    if not street_part:
        return ""
    code = _postcode_key(postcode or "")
    if code:
        return f"{street_part}|{code}"[:255]
    place = _norm_words(city or "")
    country_part = (country or "").strip().upper()
    return (
        f"{street_part}|{place}|{country_part}"[:255]
        if country_part
        else f"{street_part}|{place}"[:255]
    )
