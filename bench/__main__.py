"""Run every benchmark (or the one named) each in its own process; print their JSON lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    wanted = [a for a in argv if a]
    unknown = [w for w in wanted if w not in names]
    if unknown:
        print(
            f"Unknown benchmark(s): {', '.join(unknown)}. Known: {', '.join(names)}",
            file=sys.stderr,
        )
        return 2
    for name in wanted or names:
        print(f"# bench {name}", file=sys.stderr, flush=True)
        code = subprocess.call(
            [sys.executable, "-c", f"from bench.bench_{name} import main; main()"],
            cwd=HERE.parent,
        )
        if code != 0:
            print(f"# bench {name} exited with {code}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
