"""Schemathesis against the emulator, large: every fuzzed operation and the linked scenarios, per database.

The test suite's run (tests/test_schemathesis.py) sends a few cases per operation; this one
sends many, with the same document, signing hook and checks (tests/schemathesis_helpers.py), on
SQLite in memory and on PostgreSQL (in a schema of its own, when reachable). It prints, per
database, the operations, the test cases sent and the failures (target: 0), with the first
line of each failure.

Run: .venv/bin/python benchmarks/schemathesis_report.py [--examples 200] [--scenarios 50]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.schemathesis_helpers import (
    envelope_codes,
    fuzz,
    fuzzed,
    load_schema,
    sign_hook,
    state_machine,
)

from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.seed import DEMO_ACCOUNTS

POSTGRES_URL = os.environ.get(
    "BAIJIAYUN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
PARTNER_ID = int(DEMO_ACCOUNTS[0]["partner_id"])


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    found = [line.strip() for line in text if line.strip().startswith("- ")]
    return (found[0] if found else (text[0] if text else type(error).__name__))[:160]


def run(url: str, examples: int, scenarios: int) -> dict[str, Any]:
    """Fuzz every operation and the linked scenarios on one database; the counts."""
    with Emulator(url, EmulatorConfig(rate_limit=None)) as emulator:
        emulator.reset()
        emulator.seed_demo()
        schema = load_schema(emulator)
        sign_hook(schema, emulator, PARTNER_ID)
        check = envelope_codes(schema.raw_schema, emulator, PARTNER_ID)
        operations = [
            (method.upper(), path)
            for path, methods in schema.raw_schema["paths"].items()
            if fuzzed(path)
            for method in methods
        ]
        cases, failures = 0, []
        for method, path in operations:
            try:
                cases += fuzz(schema[path][method], check, examples)
            except Exception as error:  # one failure per operation, shrunk by Hypothesis
                failures.append(f"{method} {path}: {_first_line(error)}")
        steps: list[tuple[str, dict[str, str], Any]] = []
        machine = state_machine(schema, emulator, PARTNER_ID, check, steps)
        try:
            machine.run(
                settings=settings(
                    max_examples=scenarios,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                    stateful_step_count=5,
                )
            )
        except Exception as error:
            failures.append(f"stateful: {_first_line(error)}")
        return {
            "operations": len(operations),
            "cases": cases,
            "steps": len(steps),
            "failures": failures,
        }


def _postgres() -> tuple[str | None, str]:
    """A PostgreSQL URL in a fresh schema and its name, or (None, why) when unreachable."""
    schema = f"bjy_schemathesis_{uuid.uuid4().hex[:8]}"
    engine = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as exc:
        return None, str(exc).splitlines()[0]
    finally:
        engine.dispose()
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}", schema


def _drop(schema: str) -> None:
    engine = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200, help="cases per operation")
    parser.add_argument("--scenarios", type=int, default=50, help="linked scenarios per database")
    args = parser.parse_args()
    for name in ("multipart", "python_multipart"):  # its warnings about the bodies we break
        logging.getLogger(name).setLevel(logging.ERROR)
    targets: list[tuple[str, str | None]] = [("sqlite", "sqlite://")]
    pg_url, pg_schema = _postgres()
    targets.append(("postgresql", pg_url))
    total_failures = 0
    print(
        f"Schemathesis vs the emulator: {args.examples} cases per operation, "
        f"{args.scenarios} linked scenarios (up to 5 calls each)"
    )
    print(
        f"{'database':<12}{'operations':>11}{'test cases':>12}{'stateful calls':>16}"
        f"{'failures':>10}{'seconds':>9}"
    )
    try:
        for name, url in targets:
            if url is None:
                print(f"{name:<12} skipped: PostgreSQL unreachable ({pg_schema})")
                continue
            started = time.perf_counter()
            result = run(url, args.examples, args.scenarios)
            elapsed = time.perf_counter() - started
            total_failures += len(result["failures"])
            print(
                f"{name:<12}{result['operations']:>11}{result['cases']:>12}"
                f"{result['steps']:>16}{len(result['failures']):>10}{elapsed:>9.0f}"
            )
            for failure in result["failures"]:
                print(f"    {failure}")
    finally:
        if pg_url is not None:
            _drop(pg_schema)
    print(f"target: 0 failures; got {total_failures}")
    return 1 if total_failures else 0


if __name__ == "__main__":
    sys.exit(main())
