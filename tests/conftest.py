"""Shared fixtures: every emulator test runs on SQLite and on PostgreSQL (required in CI)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from baijiayun.emulator import Emulator, EmulatorConfig

POSTGRES_URL = os.environ.get(
    "BAIJIAYUN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _postgres_available() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except OperationalError as exc:
        return str(exc).splitlines()[0]
    return None


_PG_PROBLEM = _postgres_available()


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The database of the emulator under test: SQLite in memory, or the PostgreSQL server."""
    if request.param == "sqlite":
        return "sqlite://"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def postgres_url() -> str:
    """The PostgreSQL server's URL (skips locally when unreachable, fails in CI)."""
    if _PG_PROBLEM is not None:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {_PG_PROBLEM}")
        pytest.skip(f"PostgreSQL unreachable: {_PG_PROBLEM}")
    return POSTGRES_URL


@pytest.fixture
def bjy_emulator(database_url: str) -> Iterator[Emulator]:
    """Overrides the plugin's fixture so every end-to-end test runs on both databases."""
    config = EmulatorConfig(lifecycle_delays=(0.05, 0.05, 0.05), callback_backoff=0.05)
    emulator = Emulator(database_url, config)
    emulator.reset()
    try:
        yield emulator
    finally:
        emulator.close()
