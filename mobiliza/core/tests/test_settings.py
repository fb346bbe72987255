"""Settings come only from the environment, and every variable is documented in .env.example."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
READ = re.compile(r"""env_(?:str|bool|int|list)\(\s*"([A-Z0-9_]+)\"""")


def test_every_environment_variable_is_in_env_example() -> None:
    documented = {
        line.split("=", 1)[0].strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    read: set[str] = set()
    for path in [*ROOT.joinpath("config").rglob("*.py"), *ROOT.joinpath("mobiliza").rglob("*.py")]:
        read |= set(READ.findall(path.read_text(encoding="utf-8")))
    assert read, "no settings found: the pattern is wrong"
    assert sorted(read - documented) == []


def test_production_refuses_the_development_secret_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DATABASE_URL"}}
    env.update(DEBUG="0", DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr
