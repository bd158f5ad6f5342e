"""Start-up time of ``baijiayun --help`` beside bare ``python -c pass`` (and ``import click``).

The three commands run in turn, round after round (so machine noise hits them alike); each
figure is a median of wall time and of CPU time (user + system, the OS's own accounting of the
child). The package's bytecode is compiled first, as ``pip install`` does: an editable install
under PYTHONDONTWRITEBYTECODE would otherwise compile every module on every run.
Target (issue 14): ``baijiayun --help`` within 60 ms of bare Python. ``import click`` is the
floor any click command line pays; the rest is ours.
Run: .venv/bin/python benchmarks/cli_startup.py [--runs 31]
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

TARGET = 0.060


def measure(command: list[str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one run of ``command``."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{command} exited {process.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=31)
    args = parser.parse_args()
    spec = find_spec("baijiayun")
    assert spec is not None and spec.submodule_search_locations
    for location in spec.submodule_search_locations:
        compileall.compile_dir(location, quiet=1)
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import click'": [sys.executable, "-c", "import click"],
        "baijiayun --help": [str(Path(sys.executable).parent / "baijiayun"), "--help"],
    }
    for command in commands.values():
        measure(command)  # warm the file cache
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            wall, cpu = measure(command)
            walls[name].append(wall)
            cpus[name].append(cpu)
    bare = "python -c pass"
    print(f"cli startup: median of {args.runs} rounds, the commands in turn")
    print(f"{'':28}{'wall ms':>9}{'+bare':>9}{'cpu ms':>9}{'+bare':>9}")
    for name in commands:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        extra_wall = wall - statistics.median(walls[bare])
        extra_cpu = cpu - statistics.median(cpus[bare])
        print(
            f"{name:28}{wall * 1000:9.1f}{extra_wall * 1000:9.1f}"
            f"{cpu * 1000:9.1f}{extra_cpu * 1000:9.1f}"
        )
    extra = statistics.median(walls["baijiayun --help"]) - statistics.median(walls[bare])
    verdict = "OK" if extra <= TARGET else "ABOVE TARGET"
    print(f"baijiayun --help is {extra * 1000:.1f} ms over bare Python (target 60 ms: {verdict})")


if __name__ == "__main__":
    main()
