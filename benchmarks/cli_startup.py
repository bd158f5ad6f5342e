"""Start-up time of ``baijiayun --help`` against bare ``python -c pass``, measured side by side.

Runs both commands alternately (so machine noise hits both alike) and compares medians.
Target (issue 4): ``baijiayun --help`` under 0.3 s more than bare Python.
Run: .venv/bin/python benchmarks/cli_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    cli = [str(Path(sys.executable).parent / "baijiayun"), "--help"]
    bare = [sys.executable, "-c", "pass"]
    wall(cli)
    wall(bare)
    cli_times, bare_times = [], []
    for _ in range(args.runs):
        cli_times.append(wall(cli))
        bare_times.append(wall(bare))
    c, b = statistics.median(cli_times), statistics.median(bare_times)
    print(f"cli startup: median of {args.runs} runs each")
    print(f"python -c pass     {b * 1000:7.1f} ms")
    print(f"baijiayun --help   {c * 1000:7.1f} ms")
    print(
        f"difference         {(c - b) * 1000:7.1f} ms  ratio {c / b:.2f}x  "
        f"(target < 300 ms more: {'OK' if c - b < 0.3 else 'ABOVE TARGET'})"
    )


if __name__ == "__main__":
    main()
