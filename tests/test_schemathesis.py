"""Schemathesis attacks the emulator with its own OpenAPI document, on SQLite and PostgreSQL.

A small run (a few cases per operation); the large one is benchmarks/schemathesis_report.py.
Which checks run, and why three of Schemathesis' are off, is said in
tests/schemathesis_helpers.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.seed import DEMO_ACCOUNTS

from .conftest import _PG_PROBLEM, IN_CI, POSTGRES_URL
from .schemathesis_helpers import (
    envelope_codes,
    fuzz,
    fuzzed,
    load_schema,
    sign_hook,
    state_machine,
)

PARTNER_ID = int(DEMO_ACCOUNTS[0]["partner_id"])
DOCUMENT = json.loads((Path(__file__).parent.parent / "docs" / "openapi.json").read_text())
OPERATIONS = [
    (method.upper(), path)
    for path, methods in DOCUMENT["paths"].items()
    if fuzzed(path)
    for method in methods
]
SMALL = int(os.environ.get("BAIJIAYUN_SCHEMATHESIS_EXAMPLES", "3"))
"""Cases per operation in the suite (the same ones every run): about 30 operations x 2
databases within ~20 s. The large, random run is benchmarks/schemathesis_report.py."""
STEPS = int(os.environ.get("BAIJIAYUN_SCHEMATHESIS_SCENARIOS", "3"))
"""Stateful scenarios (up to 5 linked calls each) per database."""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """The demo data set with the rate limit off, on each database."""
    if request.param == "postgresql":
        if _PG_PROBLEM is not None:
            if IN_CI:
                pytest.fail(f"PostgreSQL is required in CI but unreachable: {_PG_PROBLEM}")
            pytest.skip(f"PostgreSQL unreachable: {_PG_PROBLEM}")
        url = POSTGRES_URL
    else:
        url = "sqlite://"
    with Emulator(url, EmulatorConfig(rate_limit=None)) as emulator:
        emulator.reset()
        emulator.seed_demo()
        yield emulator


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_emulator: Emulator) -> Any:
    """The document as the emulator serves it (GET /_emulator/openapi.json), signing hook on."""
    schema = load_schema(fuzz_emulator)
    sign_hook(schema, fuzz_emulator, PARTNER_ID)
    return schema


def test_every_openapi_endpoint_and_admin_route_is_fuzzed() -> None:
    paths = {path for _, path in OPERATIONS}
    assert {p for p in DOCUMENT["paths"] if p.startswith("/openapi/")} - paths == set()
    assert "/_emulator/reset" not in paths and "/_emulator/faults" not in paths
    assert "/_emulator/accounts" in paths and "/openapi/partner/createkey" in paths


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_schemathesis_finds_nothing(
    method: str, path: str, fuzz_schema: Any, fuzz_emulator: Emulator
) -> None:
    check = envelope_codes(fuzz_schema.raw_schema, fuzz_emulator, PARTNER_ID)
    assert fuzz(fuzz_schema[path][method], check, SMALL, derandomize=True) >= 1


def test_stateful_sequences_follow_the_links(fuzz_schema: Any, fuzz_emulator: Emulator) -> None:
    check = envelope_codes(fuzz_schema.raw_schema, fuzz_emulator, PARTNER_ID)
    steps: list[tuple[str, dict[str, str], Any]] = []
    machine = state_machine(fuzz_schema, fuzz_emulator, PARTNER_ID, check, steps)
    machine.run(
        settings=settings(
            max_examples=STEPS,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            stateful_step_count=5,
        )
    )
    listed: set[str] = set()
    followed = 0
    for operation, form, answer in steps:
        if operation == "playback.getList" and answer["code"] == 0:
            listed |= {str(item["room_id"]) for item in answer["data"]["list"]}
        elif form.get("room_id") in listed:
            followed += 1
    assert followed, steps  # a listed playback's ids reached another operation by a link
