"""Generate the OpenAPI document (the package's copy and docs/openapi.json); ``--check`` fails if stale.

Both files are the same bytes, built by :func:`baijiayun._openapi.build_document` from
``_endpoints.py``, the SDK's models and the emulator's admin routes. What the output depends on
is pinned in the dev extra (pydantic's minor version), so it changes only with the sources.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from baijiayun import __version__, _openapi
from baijiayun.emulator import Emulator, admin
from baijiayun.emulator.console import Console, route_pairs

ROOT = Path(__file__).resolve().parent.parent
TARGETS = [ROOT / "src" / "baijiayun" / "openapi.json", ROOT / "docs" / "openapi.json"]


def generate() -> bytes:
    """The document's bytes, as both files hold them."""
    with Emulator() as emulator:  # in memory: the console's route table needs one to bind to
        console = route_pairs(Console(emulator, None).routes())
    return _openapi.dump(
        _openapi.build_document(admin.ACTIONS, admin.SCHEMAS, __version__, console)
    )


def _shown(target: Path) -> str:
    return str(target.relative_to(ROOT)) if target.is_relative_to(ROOT) else str(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is stale")
    args = parser.parse_args(argv)
    wanted = generate()
    stale = [t for t in TARGETS if not t.exists() or t.read_bytes() != wanted]
    if args.check:
        for target in stale:
            print(
                f"{_shown(target)} is stale: run `python scripts/openapi.py`",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for target in stale:
        target.write_bytes(wanted)
        print(f"wrote {_shown(target)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
