"""What a column can be mapped to, and the mapping presets shipped in code.

A mapping is `{column name in the file: target}` where a target is a person field key from
`PERSON_TARGETS`, `custom:<key>` for a custom field, or "" to ignore the column. Several columns
may map to one text target (joined with a space: "mail_addr1" + "mail_addr2"), to `phone` (one
number each) and to `tags` (comma-separated names each).

Options (`ImportOptions`): the order of matching keys, update-or-skip, and constants (e.g. every
row of the NC voter file is in the US).

Worker processes import this module without setting Django up: the labels are lazy
translations, evaluated only by the pages.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# target key -> (label, kind). Kinds drive parsing and the mapping form.
PERSON_TARGETS: dict[str, tuple[str | Promise, str]] = {
    "external_id": (_("External id (e.g. ncid)"), "text"),
    "first_name": (_("First name"), "text"),
    "middle_name": (_("Middle name"), "text"),
    "last_name": (_("Last name"), "text"),
    "full_name": (_("Full name (split at the last space)"), "text"),
    "email": (_("Email"), "email"),
    "phone": (_("Phone"), "phone"),
    "street": (_("Street"), "text"),
    "postcode": (_("Postcode"), "text"),
    "city": (_("City"), "text"),
    "region": (_("Region / state"), "text"),
    "country": (_("Country"), "country"),
    "latitude": (_("Latitude"), "latitude"),
    "longitude": (_("Longitude"), "longitude"),
    "birth_date": (_("Birth date"), "date"),
    "birth_year": (_("Birth year"), "year"),
    "gender": (_("Gender"), "gender"),
    "language": (_("Language"), "text"),
    "nationality": (_("Nationality"), "text"),
    "polling_place": (_("Polling place"), "text"),
    "precinct": (_("Precinct"), "text"),
    "voter_id": (_("Voter id"), "text"),
    "registration_status": (_("Registration status"), "text"),
    "support_level": (_("Support level (1 to 5)"), "support"),
    "donations_this_year": (_("Donations this year"), "decimal"),
    "consent_phone": (_("Phone consent (yes / no)"), "bool"),
    "consent_sms": (_("SMS consent (yes / no)"), "bool"),
    "consent_email": (_("Email consent (yes / no)"), "bool"),
    "do_not_contact": (_("Do not contact (yes / no)"), "bool"),
    "notes": (_("Notes"), "text"),
    "tags": (_("Tags (comma-separated)"), "tags"),
}

# Voting history targets.
VOTE_TARGETS: dict[str, tuple[str | Promise, str]] = {
    "external_id": (_("Voter id matching people's external id (ncid)"), "text"),
    "election_label": (_("Election (e.g. 11/05/2024)"), "text"),
    "election_description": (_("Election description"), "text"),
    "election_date": (_("Election date"), "date"),
    "voting_method": (_("Voting method"), "text"),
}

MATCH_KEYS = ("external_id", "phone", "email")
CUSTOM_PREFIX = "custom:"

# The NC State Board of Elections voter file (ncvoter_Statewide.txt / ncvoterNN.txt): 67 columns,
# tab-separated, every value double-quoted, latin-1.
NCVOTER_COLUMNS: tuple[str, ...] = (
    "county_id", "county_desc", "voter_reg_num", "ncid", "last_name", "first_name",
    "middle_name", "name_suffix_lbl", "status_cd", "voter_status_desc", "reason_cd",
    "voter_status_reason_desc", "res_street_address", "res_city_desc", "state_cd", "zip_code",
    "mail_addr1", "mail_addr2", "mail_addr3", "mail_addr4", "mail_city", "mail_state",
    "mail_zipcode", "full_phone_number", "confidential_ind", "registr_dt", "race_code",
    "ethnic_code", "party_cd", "gender_code", "birth_year", "age_at_year_end", "birth_state",
    "drivers_lic", "precinct_abbrv", "precinct_desc", "municipality_abbrv", "municipality_desc",
    "ward_abbrv", "ward_desc", "cong_dist_abbrv", "super_court_abbrv", "judic_dist_abbrv",
    "nc_senate_abbrv", "nc_house_abbrv", "county_commiss_abbrv", "county_commiss_desc",
    "township_abbrv", "township_desc", "school_dist_abbrv", "school_dist_desc",
    "fire_dist_abbrv", "fire_dist_desc", "water_dist_abbrv", "water_dist_desc",
    "sewer_dist_abbrv", "sewer_dist_desc", "sanit_dist_abbrv", "sanit_dist_desc",
    "rescue_dist_abbrv", "rescue_dist_desc", "munic_dist_abbrv", "munic_dist_desc",
    "dist_1_abbrv", "dist_1_desc", "vtd_abbrv", "vtd_desc",
)  # fmt: skip

# The NC voting history file (ncvhis_Statewide.txt): one row per voter and election.
NCVHIS_COLUMNS: tuple[str, ...] = (
    "county_id", "county_desc", "voter_reg_num", "election_lbl", "election_desc",
    "voting_method", "voted_party_cd", "voted_party_desc", "pct_label", "pct_description",
    "ncid", "voted_county_id", "voted_county_desc", "vtd_label", "vtd_description",
)  # fmt: skip


@dataclass(frozen=True)
class Preset:
    """A shipped or saved mapping. `other_columns` = "custom" maps every column the mapping
    doesn't name to a custom field (the Spoke format)."""

    name: str
    label: str | Promise
    kind: str  # "people" or "voting_history"
    person_list: str  # "contacts" or "electors" (people presets)
    mapping: dict[str, str]
    required: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    encoding: str = ""
    delimiter: str = ""
    other_columns: str = ""

    def mapping_for(self, header: list[str]) -> dict[str, str]:
        """The mapping applied to a file with this header."""
        mapping = {col: self.mapping.get(col, "") for col in header}
        if self.other_columns == "custom":
            for col in header:
                if col not in self.mapping:
                    mapping[col] = CUSTOM_PREFIX + custom_key(col)
        return mapping


def custom_key(label: str) -> str:
    """A custom field key from a column name: "Favourite colour" -> "favourite_colour"."""
    text = unicodedata.normalize("NFKD", label)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")[:64] or "field"


NCVOTER = Preset(
    name="ncvoter",
    label=_("North Carolina voter file (ncvoter)"),
    kind="people",
    person_list="electors",
    mapping={
        "ncid": "external_id",
        "voter_reg_num": "voter_id",
        "last_name": "last_name",
        "first_name": "first_name",
        "middle_name": "middle_name",
        "name_suffix_lbl": "custom:name_suffix",
        "status_cd": "registration_status",
        "res_street_address": "street",
        "res_city_desc": "city",
        "state_cd": "region",
        "zip_code": "postcode",
        "full_phone_number": "phone",
        "party_cd": "custom:party",
        "gender_code": "gender",
        "birth_year": "birth_year",
        "registr_dt": "custom:registration_date",
        "county_desc": "custom:county",
        "precinct_desc": "precinct",
        "race_code": "custom:race",
        "ethnic_code": "custom:ethnicity",
    },
    required=("ncid", "last_name", "first_name", "res_street_address", "zip_code"),
    options={"constants": {"country": "US"}, "match": ["external_id"]},
    encoding="latin-1",
    delimiter="\t",
)

SPOKE = Preset(
    name="spoke",
    label=_("Spoke contacts (firstName, lastName, cell, zip)"),
    kind="people",
    person_list="contacts",
    mapping={
        "firstName": "first_name",
        "lastName": "last_name",
        "cell": "phone",
        "zip": "postcode",
        "external_id": "external_id",
    },
    required=("firstName", "lastName", "cell"),
    options={"match": ["phone", "external_id", "email"]},
    delimiter=",",
    other_columns="custom",
)

NCVHIS = Preset(
    name="ncvhis",
    label=_("North Carolina voting history (ncvhis)"),
    kind="voting_history",
    person_list="electors",
    mapping={
        "ncid": "external_id",
        "election_lbl": "election_label",
        "election_desc": "election_description",
        "voting_method": "voting_method",
    },
    required=("ncid", "election_lbl"),
    encoding="latin-1",
    delimiter="\t",
)

SHIPPED_PRESETS: dict[str, Preset] = {p.name: p for p in (NCVOTER, SPOKE, NCVHIS)}


def guess_mapping(header: list[str], kind: str = "people") -> dict[str, str]:
    """A first mapping for a file without a preset: columns named like a target map to it."""
    targets = PERSON_TARGETS if kind == "people" else VOTE_TARGETS
    aliases = {
        "firstname": "first_name", "prenom": "first_name", "nome": "first_name",
        "primeironome": "first_name", "lastname": "last_name", "surname": "last_name",
        "nom": "last_name", "apelido": "last_name", "name": "full_name", "nomecompleto": "full_name",
        "mail": "email", "courriel": "email", "telephone": "phone", "telefone": "phone",
        "telemovel": "phone", "cell": "phone", "mobile": "phone", "tel": "phone",
        "phonenumber": "phone", "portable": "phone", "zip": "postcode", "zipcode": "postcode",
        "codigopostal": "postcode", "codepostal": "postcode", "cp": "postcode",
        "address": "street", "morada": "street", "adresse": "street", "rua": "street",
        "localidade": "city", "ville": "city", "cidade": "city", "town": "city",
        "distrito": "region", "state": "region", "pais": "country", "pays": "country",
        "lat": "latitude", "lon": "longitude", "lng": "longitude", "id": "external_id",
        "ncid": "external_id", "externalid": "external_id", "voterid": "voter_id",
        "electionlbl": "election_label", "election": "election_label",
        "electiondesc": "election_description", "votingmethod": "voting_method",
    }  # fmt: skip
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for col in header:
        key = custom_key(col).replace("_", "")
        target = ""
        for name in targets:
            if name.replace("_", "") == key:
                target = name
        target = target or aliases.get(key, "")
        if target not in targets:
            target = ""
        if target and target in used and targets[target][1] not in {"phone", "tags"}:
            target = ""
        mapping[col] = target
        if target:
            used.add(target)
    return mapping


@dataclass
class ImportOptions:
    """How rows meet the people already stored."""

    match: list[str] = field(default_factory=lambda: list(MATCH_KEYS))
    on_match: str = "update"  # or "skip"
    constants: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ImportOptions:
        data = data or {}
        match = [m for m in data.get("match", MATCH_KEYS) if m in MATCH_KEYS]
        on_match = data.get("on_match", "update")
        return cls(
            match=match,
            on_match=on_match if on_match in {"update", "skip"} else "update",
            constants={
                str(k): str(v)
                for k, v in (data.get("constants") or {}).items()
                if k in PERSON_TARGETS
            },
        )

    def as_dict(self) -> dict[str, Any]:
        return {"match": self.match, "on_match": self.on_match, "constants": self.constants}
