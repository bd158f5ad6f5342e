"""How long a server that trickles its reply keeps an SDK call with ``timeout=2`` busy.

A loopback server promises a large body and sends it one byte per ``--interval`` seconds,
forever; before issue 9 such a call took 27 s with ``timeout=2``. It also measures a reply with
``Retry-After: 100000`` (before: 120 s). Both should end in about ``--timeout`` seconds or less.
Run: .venv/bin/python benchmarks/hostile_server.py [--timeout 2] [--interval 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.hostile import HostileServer, reply, trickle

from baijiayun import BaiJiaYunClient, BaiJiaYunError


def timed_call(server: HostileServer, timeout: float) -> tuple[float, str]:
    with BaiJiaYunClient(1, "k", base_url=server.base_url, timeout=timeout, rate_limit=None) as c:
        started = time.perf_counter()
        try:
            c.playback.get_basic_info(1)
            outcome = "answered"
        except BaiJiaYunError as error:
            outcome = type(error).__name__
        return time.perf_counter() - started, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--interval", type=float, default=1.0)
    options = parser.parse_args()

    server = HostileServer()
    server.script = [trickle(options.interval, server.stop)]
    with server:
        elapsed, outcome = timed_call(server, options.timeout)
    print(
        f"trickle 1 byte/{options.interval:g} s, timeout={options.timeout:g}: "
        f"{elapsed:.2f} s, {outcome} ({elapsed / options.timeout:.2f}x the timeout)"
    )
    hostile = reply({"code": 1, "msg": "busy"}, status=503, Retry_After="100000")
    with HostileServer(hostile) as server:
        elapsed, outcome = timed_call(server, options.timeout)
    print(f"Retry-After: 100000, timeout={options.timeout:g}: {elapsed:.2f} s, {outcome}")


if __name__ == "__main__":
    main()
