"""Import of a voter file in the NC `ncvoter` layout (issue 3, "Speed").

Generates a deterministic file of BENCH_ROWS rows (default 1,000,000: 67 tab-separated,
double-quoted, latin-1 columns; households sharing addresses, ~62% with a phone, repeated ncids,
invalid phones), then in separate processes:

* reference: PostgreSQL `COPY` of the same file into a bare 67-column table;
* PostgreSQL: the import through `import_job_create` + `import_job_run` (what
  `manage.py import_people --preset ncvoter` runs) on a fresh database: parsing, phone
  normalization, matching, households, people, phones;
* SQLite: the same on a fresh SQLite database.

BENCH_IMPORT_DB=postgresql or =sqlite runs one of them. BENCH_IMPORT_DIRECT=0 makes the PostgreSQL
import take the general path (staging tables and set-based apply) instead of the direct load. Prints one JSON line each (value, target,
reference) with the peak memory of the importing process and its worker processes: the larger of
(peak of the main process + peak of the largest worker) and the summed RSS of the whole process
tree sampled every 0.2 s. Targets: PostgreSQL <= 30 s and <= 1 GB; SQLite <= 60 s.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import (
    ROOT,
    create_postgres_database,
    drop_postgres_database,
    emit,
    migrate,
    postgres_available,
    settle_postgres,
)

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
DATABASES = os.environ.get("BENCH_IMPORT_DB", "postgresql,sqlite").split(",")
CACHE = Path(os.environ.get("BENCH_CACHE", tempfile.gettempdir()))

COUNTIES = [
    (92, "WAKE", ["RALEIGH", "CARY", "APEX", "WAKE FOREST"], ["919", "984"], "276"),
    (60, "MECKLENBURG", ["CHARLOTTE", "MATTHEWS", "HUNTERSVILLE"], ["704", "980"], "282"),
    (41, "GUILFORD", ["GREENSBORO", "HIGH POINT"], ["336", "743"], "274"),
    (34, "FORSYTH", ["WINSTON SALEM", "KERNERSVILLE"], ["336"], "271"),
    (32, "DURHAM", ["DURHAM"], ["919", "984"], "277"),
    (11, "BUNCOMBE", ["ASHEVILLE", "WEAVERVILLE"], ["828"], "288"),
    (26, "CUMBERLAND", ["FAYETTEVILLE", "HOPE MILLS"], ["910"], "283"),
    (65, "NEW HANOVER", ["WILMINGTON"], ["910"], "284"),
    (74, "PITT", ["GREENVILLE"], ["252"], "278"),
]
FIRST = [
    "JAMES",
    "MARY",
    "ROBERT",
    "PATRICIA",
    "JOHN",
    "JENNIFER",
    "MICHAEL",
    "LINDA",
    "DAVID",
    "ELIZABETH",
    "WILLIAM",
    "BARBARA",
    "RICHARD",
    "SUSAN",
    "JOSEPH",
    "JESSICA",
    "THOMAS",
    "SARAH",
    "CHARLES",
    "KAREN",
    "CHRISTOPHER",
    "LISA",
    "DANIEL",
    "NANCY",
    "MATTHEW",
    "BETTY",
    "ANTHONY",
    "MARGARET",
    "MARK",
    "SANDRA",
    "DONALD",
    "ASHLEY",
    "STEVEN",
    "KIMBERLY",
    "PAUL",
    "EMILY",
    "ANDREW",
    "DONNA",
    "JOSHUA",
    "MICHELLE",
    "KENNETH",
    "CAROL",
    "KEVIN",
    "AMANDA",
    "BRIAN",
    "DOROTHY",
    "GEORGE",
    "MELISSA",
    "TIMOTHY",
    "DEBORAH",
    "JOSÉ",
    "MARÍA",
    "LUIS",
    "ANA",
]
LAST = [
    "SMITH",
    "JOHNSON",
    "WILLIAMS",
    "BROWN",
    "JONES",
    "GARCIA",
    "MILLER",
    "DAVIS",
    "RODRIGUEZ",
    "MARTINEZ",
    "HERNANDEZ",
    "LOPEZ",
    "GONZALEZ",
    "WILSON",
    "ANDERSON",
    "THOMAS",
    "TAYLOR",
    "MOORE",
    "JACKSON",
    "MARTIN",
    "LEE",
    "PEREZ",
    "THOMPSON",
    "WHITE",
    "HARRIS",
    "SANCHEZ",
    "CLARK",
    "RAMIREZ",
    "LEWIS",
    "ROBINSON",
    "WALKER",
    "YOUNG",
    "ALLEN",
    "KING",
    "WRIGHT",
    "SCOTT",
    "TORRES",
    "NGUYEN",
    "HILL",
    "FLORES",
    "GREEN",
    "ADAMS",
    "NELSON",
    "BAKER",
    "HALL",
    "RIVERA",
    "CAMPBELL",
    "MITCHELL",
    "CARTER",
    "ROBERTS",
    "PEÑA",
]
STREETS = [
    "MAIN ST",
    "OAK AVE",
    "PINE ST",
    "MAPLE DR",
    "CEDAR LN",
    "ELM ST",
    "WASHINGTON ST",
    "LAKE DR",
    "HILL RD",
    "PARK AVE",
    "CHURCH ST",
    "MILL RD",
    "SPRING ST",
    "RIDGE RD",
    "FOREST DR",
    "MEADOW LN",
    "HIGHLAND AVE",
    "SUNSET BLVD",
    "CREEKSIDE DR",
    "WILLOW WAY",
    "DOGWOOD LN",
    "MAGNOLIA CT",
    "TRYON RD",
    "GLENWOOD AVE",
]
PARTIES = ["DEM", "REP", "UNA", "UNA", "LIB", "GRE"]


def generate(path: Path, rows: int, seed: int = 3) -> None:
    """A deterministic ncvoter-layout file (latin-1, tab-separated, every value quoted)."""
    from mobiliza.people.imports.presets import NCVOTER_COLUMNS

    rng = random.Random(seed)
    index = {name: i for i, name in enumerate(NCVOTER_COLUMNS)}
    width = len(NCVOTER_COLUMNS)
    header = "\t".join(f'"{c}"' for c in NCVOTER_COLUMNS) + "\r\n"
    duplicate_every = 97  # ~1% of rows repeat an earlier ncid (a later record of the voter)
    with path.open("w", encoding="latin-1", newline="") as fh:
        fh.write(header)
        household: tuple[str, str, str, str, str, str] | None = None
        left_in_household = 0
        lines: list[str] = []
        for n in range(rows):
            if left_in_household <= 0:
                county = rng.choice(COUNTIES)
                city = rng.choice(county[2])
                street = f"{rng.randrange(1, 9999)} {rng.choice(STREETS)}"
                if rng.random() < 0.15:
                    street += f" APT {rng.randrange(1, 40)}"
                zip_code = f"{county[4]}{rng.randrange(10, 99)}"
                household = (
                    str(county[0]),
                    county[1],
                    city,
                    street,
                    zip_code,
                    rng.choice(county[3]),
                )
                left_in_household = rng.choices((1, 2, 3, 4), (45, 35, 13, 7))[0]
                surname = rng.choice(LAST)
            left_in_household -= 1
            assert household is not None
            county_id, county_desc, city, street, zip_code, area = household
            values = [""] * width
            ncid = f"{'AA' if n % 2 else 'BN'}{n:07d}"
            if n > 1000 and n % duplicate_every == 0:
                ncid = f"{'AA' if (n - 500) % 2 else 'BN'}{n - 500:07d}"
            phone = ""
            roll = rng.random()
            if roll < 0.6:
                phone = f"{area}{rng.randrange(200, 999)}{rng.randrange(10000):04d}"
            elif roll < 0.62:
                phone = rng.choice(("555", "000000000", "919555", "1234567"))
            values[index["county_id"]] = county_id
            values[index["county_desc"]] = county_desc
            values[index["voter_reg_num"]] = f"{rng.randrange(10**9):09d}"
            values[index["ncid"]] = ncid
            values[index["last_name"]] = surname if rng.random() < 0.8 else rng.choice(LAST)
            values[index["first_name"]] = rng.choice(FIRST)
            values[index["middle_name"]] = rng.choice(FIRST) if rng.random() < 0.6 else ""
            values[index["status_cd"]] = "A" if rng.random() < 0.85 else "I"
            values[index["voter_status_desc"]] = "ACTIVE"
            values[index["res_street_address"]] = street
            values[index["res_city_desc"]] = city
            values[index["state_cd"]] = "NC"
            values[index["zip_code"]] = zip_code
            values[index["mail_addr1"]] = street
            values[index["mail_city"]] = city
            values[index["mail_state"]] = "NC"
            values[index["mail_zipcode"]] = zip_code
            values[index["full_phone_number"]] = phone
            values[index["confidential_ind"]] = "N"
            values[index["registr_dt"]] = (
                f"{rng.randrange(1, 13):02d}/{rng.randrange(1, 28):02d}/{rng.randrange(1970, 2024)}"
            )
            values[index["race_code"]] = rng.choice("WWWBBOAU")
            values[index["ethnic_code"]] = rng.choice(("NL", "NL", "UN", "HL"))
            values[index["party_cd"]] = rng.choice(PARTIES)
            values[index["gender_code"]] = rng.choice("FFMMU")
            birth_year = rng.randrange(1930, 2006)
            values[index["birth_year"]] = str(birth_year)
            values[index["age_at_year_end"]] = str(2024 - birth_year)
            values[index["birth_state"]] = rng.choice(("NC", "NC", "VA", "SC", "NY", ""))
            values[index["drivers_lic"]] = "Y"
            precinct = f"{rng.randrange(1, 40):02d}-{rng.randrange(1, 20):02d}"
            values[index["precinct_abbrv"]] = precinct
            values[index["precinct_desc"]] = f"PRECINCT {precinct}"
            values[index["cong_dist_abbrv"]] = str(rng.randrange(1, 15))
            values[index["nc_senate_abbrv"]] = str(rng.randrange(1, 51))
            values[index["nc_house_abbrv"]] = str(rng.randrange(1, 121))
            values[index["vtd_abbrv"]] = precinct
            values[index["vtd_desc"]] = precinct
            lines.append("\t".join(f'"{v}"' for v in values))
            if len(lines) >= 10_000:
                fh.write("\r\n".join(lines) + "\r\n")
                lines = []
        if lines:
            fh.write("\r\n".join(lines) + "\r\n")


def _file(rows: int) -> Path:
    path = CACHE / f"mobiliza_bench_ncvoter_{rows}.txt"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        generate(tmp, rows)
        tmp.rename(path)
    return path


def _peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def _children(pid: int) -> list[int]:
    """The child processes of `pid` (Linux /proc: each thread's `children` file)."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def _tree_rss_mb(root: int) -> float:
    """Resident memory of a process and all its descendants now (Linux /proc), in MB. Reads
    only the tree's own entries: scanning every process of the machine five times a second
    cost the measured import ~1.3 CPU seconds."""
    total = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except OSError:
            continue
        todo.extend(_children(pid))
    return total * resource.getpagesize() / 1024 / 1024


class _PeakSampler(threading.Thread):
    """Samples the summed RSS of this process and its children (the parser workers run at the
    same time, so the sum, not the largest one, is the peak) every 0.2 s."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0.0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.2):
            self.peak = max(self.peak, _tree_rss_mb(os.getpid()))

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.peak


def _cpu_seconds() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


class _DatabaseCpu:
    """CPU seconds of this connection's PostgreSQL backend (Linux /proc, local server)."""

    def __init__(self) -> None:
        from django.db import connection

        self.stat: Path | None = None
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                stat = Path(f"/proc/{cursor.fetchone()[0]}/stat")
            self.stat = stat if stat.exists() else None
        self.start = self._now()

    def _now(self) -> float:
        if self.stat is None:
            return 0.0
        try:
            fields = self.stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def used(self) -> float | None:
        return round(self._now() - self.start, 2) if self.stat is not None else None


def run_copy_reference(database_url: str, path: Path) -> dict[str, object]:
    """COPY the file as it is into a bare 67-column text table."""
    import psycopg

    from mobiliza.people.imports.presets import NCVOTER_COLUMNS

    with psycopg.connect(database_url, autocommit=True) as conn:
        columns = ", ".join(f"{c} text" for c in NCVOTER_COLUMNS)
        conn.execute(f"CREATE UNLOGGED TABLE bare_ncvoter ({columns})")
        start = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY bare_ncvoter FROM STDIN WITH (FORMAT csv, DELIMITER E'\\t', QUOTE '\"', "
                "HEADER true, ENCODING 'LATIN1')"
            ) as copy,
            path.open("rb") as fh,
        ):
            while block := fh.read(4 * 1024 * 1024):
                copy.write(block)
        elapsed = time.perf_counter() - start
        conn.execute("DROP TABLE bare_ncvoter")
    return {"seconds": elapsed}


def run_import(database_url: str | None, data_dir: str, path: Path) -> dict[str, object]:
    """In this process: Django on the given database, then the import service."""
    from bench.common import django_setup

    django_setup(database_url, data_dir)
    from mobiliza.accounts.models import Organization
    from mobiliza.people.imports import services
    from mobiliza.people.models import Household, ImportJob, Person, PersonPhone

    if os.environ.get("BENCH_IMPORT_DIRECT", "1") == "0":
        # Compare with the general path (staging tables + set-based apply).
        from mobiliza.people.imports import engine

        engine.direct_wanted = lambda **_kwargs: False
    org = Organization.objects.create(
        name="NC bench", slug="nc-bench", default_country="US", time_zone="America/New_York"
    )
    db_cpu = _DatabaseCpu()
    own_cpu, children_cpu = _cpu_seconds()
    sampler = _PeakSampler()
    sampler.start()
    start = time.perf_counter()
    job = services.import_job_create(
        organization=org, actor=None, person_list="electors", path=path, preset="ncvoter"
    )
    job = services.import_job_run(job_id=job.pk)
    elapsed = time.perf_counter() - start
    peak_tree = sampler.stop()
    own_after, children_after = _cpu_seconds()
    cpu = {
        "main": round(own_after - own_cpu, 2),
        "workers": round(children_after - children_cpu, 2),
        "db": db_cpu.used(),
    }
    if job.status != ImportJob.Status.DONE:
        raise SystemExit(f"import failed: {job.error_message}")
    own, children = _peak_mb()
    return {
        "seconds": elapsed,
        "counts": job.counts,
        "timings": (job.options or {}).get("timings", {}),
        "people": Person.objects.filter(organization=org).count(),
        "phones": PersonPhone.objects.filter(organization=org).count(),
        "households": Household.objects.filter(organization=org).count(),
        "peak_main_mb": round(own, 1),
        "peak_worker_mb": round(children, 1),
        "peak_all_processes_mb": round(peak_tree, 1),
        # CPU seconds (contention distorts them far less than wall time): this process, its
        # parser workers, and the PostgreSQL backend of its connection (None on SQLite).
        "cpu_seconds": cpu,
    }


def _child(kind: str, *args: str) -> dict[str, object]:
    code = (
        "import json, sys; from pathlib import Path; import bench.bench_import as b; "
        f"print('RESULT ' + json.dumps(b._entry({kind!r}, *sys.argv[1:])))"
    )
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, object] = json.loads(line[7:])
            return result
    raise SystemExit(f"no result from {kind}: {out.stdout[-2000:]} {out.stderr[-2000:]}")


def _entry(kind: str, *args: str) -> dict[str, object]:
    if kind == "copy":
        return run_copy_reference(args[0], Path(args[1]))
    database_url = args[0] or None
    return run_import(database_url, args[1], Path(args[2]))


def main() -> None:
    started = time.perf_counter()
    path = _file(ROWS)
    size_mb = path.stat().st_size / 1024 / 1024
    print(
        f"# file {path} ({ROWS:,} rows, {size_mb:.0f} MB) ready in "
        f"{time.perf_counter() - started:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    if "postgresql" in DATABASES and postgres_available():
        url = create_postgres_database("mobiliza_bench_import")
        try:
            migrate(url)
            # Each measured phase starts without the dirty pages of what ran before it (the
            # last run's database, the migrations): no checkpoint of theirs in its time.
            settle_postgres()
            reference = float(_child("copy", url, str(path))["seconds"])  # type: ignore[arg-type]
            settle_postgres()
            result = _child("import", url, tempfile.mkdtemp(prefix="bench-imp-"), str(path))
        finally:
            drop_postgres_database(url)
        seconds = float(result["seconds"])  # type: ignore[arg-type]
        peak = max(
            float(result["peak_main_mb"]) + float(result["peak_worker_mb"]),  # type: ignore[arg-type]
            float(result["peak_all_processes_mb"]),  # type: ignore[arg-type]
        )
        emit(
            "import_ncvoter_postgres",
            seconds,
            "s",
            "<= 30 s, <= 1024 MB",
            reference,
            seconds <= 30 and peak <= 1024,
            rows=ROWS,
            reference_name="COPY of the same rows into a bare table (s)",
            peak_mb=round(peak, 1),
            **{k: v for k, v in result.items() if k != "seconds"},
        )
    else:
        print("# PostgreSQL skipped (not reachable or not asked for)", file=sys.stderr)
        reference = None
    if "sqlite" not in DATABASES:
        return
    data_dir = tempfile.mkdtemp(prefix="bench-imp-sqlite-")
    migrate(None, data_dir)
    result = _child("import", "", data_dir, str(path))
    seconds = float(result["seconds"])  # type: ignore[arg-type]
    emit(
        "import_ncvoter_sqlite",
        seconds,
        "s",
        "<= 60 s",
        reference,
        seconds <= 60,
        rows=ROWS,
        reference_name="PostgreSQL COPY of the same rows into a bare table (s)",
        peak_mb=round(
            max(
                float(result["peak_main_mb"]) + float(result["peak_worker_mb"]),  # type: ignore[arg-type]
                float(result["peak_all_processes_mb"]),  # type: ignore[arg-type]
            ),
            1,
        ),
        **{k: v for k, v in result.items() if k != "seconds"},
    )
