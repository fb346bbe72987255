"""`make test`: runs the whole suite with pytest, in parallel on the machine's cores.

pytest exits 5 when no test ran; that is a failure here, not a success.
"""

from __future__ import annotations

import os
import sys

import pytest


def main() -> int:
    args = ["-q", "-n", os.environ.get("TEST_WORKERS", "auto"), "--dist", "loadfile", *sys.argv[1:]]
    code = pytest.main(args)
    return 1 if code == pytest.ExitCode.NO_TESTS_COLLECTED else int(code)


if __name__ == "__main__":
    sys.exit(main())
