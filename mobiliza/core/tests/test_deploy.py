"""Production settings: static files collect with the manifest storage and `check --deploy` is clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "a-production-secret-key-that-is-long-and-random-0123456789-abcdefghij",
    "ALLOWED_HOSTS": "mobiliza.example.org",
    "SECURE_HSTS_PRELOAD": "1",
}


def _manage(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_ALLOW"))}
    env.update(PRODUCTION_ENV, DATA_DIR=str(tmp_path), MOBILIZA_TESTING="0")
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_static_files_collect_with_the_manifest_storage(tmp_path: Path) -> None:
    result = _manage(tmp_path, "collectstatic", "--no-input", "-v", "0")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "staticfiles" / "staticfiles.json").exists()
    assert (tmp_path / "staticfiles" / "vendor" / "htmx" / "htmx.min.js").exists()


def test_check_deploy_is_clean_with_production_settings(tmp_path: Path) -> None:
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
