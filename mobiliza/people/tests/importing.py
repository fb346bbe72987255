"""Helpers for import tests: write a file, run it through the same services as the command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mobiliza.people.imports import services
from mobiliza.people.imports.presets import NCVHIS_COLUMNS, NCVOTER_COLUMNS
from mobiliza.people.models import ImportJob


def write_file(directory: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = directory / name
    if isinstance(content, str):
        path.write_bytes(content.encode(encoding))
    else:
        path.write_bytes(content)
    return path


def run_import(
    org: Any,
    path: Path,
    *,
    kind: str = ImportJob.Kind.PEOPLE,
    person_list: str = "contacts",
    preset: str = "",
    mapping: dict[str, str] | None = None,
    match: list[str] | None = None,
    on_match: str | None = None,
    dry_run: bool = False,
    encoding: str = "",
    workers: int = 1,
    chunk_bytes: int | None = None,
    actor: Any = None,
) -> ImportJob:
    job = services.import_job_create(
        organization=org,
        actor=actor,
        kind=kind,
        person_list=person_list,
        path=path,
        preset=preset,
        encoding=encoding,
    )
    services.import_job_configure(
        job=job, mapping=mapping, match=match, on_match=on_match, dry_run=dry_run
    )
    return services.import_job_run(job_id=job.pk, workers=workers, chunk_bytes=chunk_bytes)


def ncvoter_row(**values: str) -> str:
    """One ncvoter line (tab-separated, every value double-quoted)."""
    defaults = {
        "county_id": "92",
        "county_desc": "WAKE",
        "status_cd": "A",
        "voter_status_desc": "ACTIVE",
        "res_city_desc": "RALEIGH",
        "state_cd": "NC",
        "zip_code": "27601",
        "party_cd": "UNA",
        "gender_code": "F",
        "birth_year": "1980",
        "precinct_desc": "PRECINCT 01-07",
        "registr_dt": "03/15/2004",
    }
    defaults.update(values)
    return "\t".join(f'"{defaults.get(col, "")}"' for col in NCVOTER_COLUMNS) + "\r\n"


def ncvoter_file(rows: list[dict[str, str]]) -> str:
    header = "\t".join(f'"{c}"' for c in NCVOTER_COLUMNS) + "\r\n"
    return header + "".join(ncvoter_row(**r) for r in rows)


def ncvhis_file(rows: list[dict[str, str]]) -> str:
    header = "\t".join(f'"{c}"' for c in NCVHIS_COLUMNS) + "\r\n"
    lines = []
    for r in rows:
        values = {"county_id": "92", "county_desc": "WAKE", "voting_method": "IN-PERSON", **r}
        lines.append("\t".join(f'"{values.get(c, "")}"' for c in NCVHIS_COLUMNS) + "\r\n")
    return header + "".join(lines)


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    """Uploaded files and error reports go to a temporary directory."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)
