"""The property and fuzz suites with hypothesis's large profile (CI runs the small one)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITES = ["tests/test_emulator_fuzz.py", "tests/test_signing.py"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="large", help="hypothesis profile (tests/conftest.py)")
    args = parser.parse_args()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *SUITES],
        cwd=ROOT,
        env={**os.environ, "HYPOTHESIS_PROFILE": args.profile},
    )
    print(
        f"profile {args.profile}: exit {done.returncode} in {time.perf_counter() - started:.1f} s"
    )
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
