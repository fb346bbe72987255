"""Voting history (ncvhis): linking ncid to people, creating elections, idempotent re-imports."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from mobiliza.people.models import Election, ImportJob, Person, VoteRecord
from mobiliza.people.tests.importing import ncvhis_file, run_import, write_file

pytestmark = pytest.mark.django_db


def _elector(org: Any, ncid: str, list_: str = "electors") -> Person:
    return Person.objects.create(organization=org, external_id=ncid, list=list_, last_name=ncid)


def _history() -> str:
    return ncvhis_file(
        [
            {"ncid": "AA1", "election_lbl": "11/05/2024", "election_desc": "11/05/2024 GENERAL",
             "voting_method": "ABSENTEE ONESTOP"},
            {"ncid": "AA2", "election_lbl": "11/05/2024", "election_desc": "11/05/2024 GENERAL",
             "voting_method": "IN-PERSON"},
            {"ncid": "AA1", "election_lbl": "03/05/2024", "election_desc": "03/05/2024 PRIMARY",
             "voting_method": "ABSENTEE BY MAIL"},
            {"ncid": "ZZ9", "election_lbl": "11/05/2024", "election_desc": "11/05/2024 GENERAL"},
        ]
    )  # fmt: skip


def test_voting_history_links_people_and_creates_elections(org: Any, tmp_path: Path) -> None:
    a1, a2 = _elector(org, "AA1"), _elector(org, "AA2")
    path = write_file(tmp_path, "ncvhis92.txt", _history(), encoding="latin-1")
    job = run_import(org, path, kind=ImportJob.Kind.VOTING_HISTORY, preset="ncvhis")
    assert job.status == ImportJob.Status.DONE, job.error_message
    assert job.counts["votes"] == 3 and job.counts["unmatched"] == 1
    assert job.counts["elections_created"] == 2
    general = Election.objects.get(organization=org, label="11/05/2024")
    assert general.description == "11/05/2024 GENERAL" and general.date == dt.date(2024, 11, 5)
    assert VoteRecord.objects.get(person=a1, election=general).voting_method == "ABSENTEE ONESTOP"
    assert set(a1.votes.values_list("election__label", flat=True)) == {"11/05/2024", "03/05/2024"}
    assert a2.votes.count() == 1
    # "Voted in the 11/05/2024 general election" is data a filter can use.
    voters = Person.objects.filter(organization=org, votes__election=general)
    assert set(voters) == {a1, a2}
    with job.error_report.open("rb") as fh:
        report = fh.read().decode()
    assert "No person has the voter id “ZZ9”" in report


def test_a_repeated_vote_is_one_vote_and_the_earlier_row_is_reported(
    org: Any, tmp_path: Path
) -> None:
    """The same voter and election twice: one vote with the later row's method; the earlier
    row is counted and in the error report, so the rows read add up."""
    a1 = _elector(org, "AA1")
    rows = [
        {"ncid": "AA1", "election_lbl": "11/05/2024", "voting_method": "IN-PERSON"},
        {"ncid": "AA1", "election_lbl": "03/05/2024", "voting_method": "ABSENTEE BY MAIL"},
        {"ncid": "AA1", "election_lbl": "11/05/2024", "voting_method": "ABSENTEE ONESTOP"},
    ]
    path = write_file(tmp_path, "h.txt", ncvhis_file(rows), encoding="latin-1")
    job = run_import(org, path, kind=ImportJob.Kind.VOTING_HISTORY, preset="ncvhis")
    assert job.status == ImportJob.Status.DONE, job.error_message
    assert (job.counts["rows"], job.counts["votes"], job.counts["duplicate"]) == (3, 2, 1)
    general = a1.votes.get(election__label="11/05/2024")
    assert general.voting_method == "ABSENTEE ONESTOP"
    with job.error_report.open("rb") as fh:
        report = fh.read().decode()
    assert "2,,A later row in the file has the same voter id and election" in report


def test_reimport_is_idempotent_and_updates_the_method(org: Any, tmp_path: Path) -> None:
    a1 = _elector(org, "AA1")
    path = write_file(tmp_path, "h.txt", _history(), encoding="latin-1")
    run_import(org, path, kind=ImportJob.Kind.VOTING_HISTORY, preset="ncvhis")
    changed = _history().replace("ABSENTEE ONESTOP", "CURBSIDE")
    path2 = write_file(tmp_path, "h2.txt", changed, encoding="latin-1")
    job = run_import(org, path2, kind=ImportJob.Kind.VOTING_HISTORY, preset="ncvhis")
    assert job.counts["elections_created"] == 0
    assert VoteRecord.objects.filter(person=a1).count() == 2
    assert Election.objects.filter(organization=org).count() == 2
    assert VoteRecord.objects.get(person=a1, election__label="11/05/2024").voting_method == (
        "CURBSIDE"
    )


def test_a_repeated_row_counts_once_and_the_later_method_wins(org: Any, tmp_path: Path) -> None:
    a1 = _elector(org, "AA1")
    content = ncvhis_file(
        [
            {"ncid": "AA1", "election_lbl": "11/05/2024", "voting_method": "IN-PERSON"},
            {"ncid": "AA1", "election_lbl": "11/05/2024", "voting_method": "PROVISIONAL"},
        ]
    )
    path = write_file(tmp_path, "r.txt", content)
    job = run_import(org, path, kind=ImportJob.Kind.VOTING_HISTORY, preset="ncvhis")
    assert job.counts["votes"] == 1
    assert a1.votes.get().voting_method == "PROVISIONAL"


def test_contacts_with_the_id_are_linked_when_no_elector_has_it(org: Any, tmp_path: Path) -> None:
    contact = _elector(org, "AA2", list_="contacts")
    elector = _elector(org, "AA1")
    _elector(org, "AA1", list_="contacts")
    path = write_file(tmp_path, "c.txt", _history())
    run_import(org, path, kind=ImportJob.Kind.VOTING_HISTORY, preset="ncvhis")
    assert contact.votes.count() == 1
    assert elector.votes.count() == 2  # the elector record wins over a contact with that id
    assert VoteRecord.objects.count() == 3


def test_dry_run_and_isolation(org: Any, other_org: Any, tmp_path: Path) -> None:
    _elector(other_org, "AA1")
    _elector(org, "AA2")
    path = write_file(tmp_path, "d.txt", _history())
    job = run_import(org, path, kind=ImportJob.Kind.VOTING_HISTORY, preset="ncvhis", dry_run=True)
    assert job.counts["votes"] == 1 and job.counts["unmatched"] == 3
    assert not VoteRecord.objects.exists() and not Election.objects.exists()
    job = run_import(org, path, kind=ImportJob.Kind.VOTING_HISTORY, preset="ncvhis")
    assert VoteRecord.objects.count() == 1
    assert not Election.objects.filter(organization=other_org).exists()
    assert VoteRecord.objects.get().organization_id == org.pk


def test_missing_columns(org: Any, tmp_path: Path) -> None:
    from django.core.exceptions import ValidationError

    from mobiliza.people.imports import services

    path = write_file(tmp_path, "m.txt", "ncid\tvoting_method\nAA1\tIN-PERSON\n")
    with pytest.raises(ValidationError, match="election_lbl"):
        services.import_job_create(
            organization=org, actor=None, kind="voting_history", path=path, preset="ncvhis"
        )
    job = services.import_job_create(organization=org, actor=None, kind="voting_history", path=path)
    with pytest.raises(ValidationError, match="Map a column to each of"):
        services.import_job_configure(job=job)


def test_import_voting_history_command(org: Any, tmp_path: Path) -> None:
    _elector(org, "AA1")
    path = write_file(tmp_path, "v.txt", _history(), encoding="latin-1")
    out = io.StringIO()
    call_command("import_voting_history", str(path), org=org.slug, stdout=out)
    text = out.getvalue()
    assert "votes: 2" in text and "elections created: 2" in text and "unmatched: 2" in text
    assert VoteRecord.objects.count() == 2
