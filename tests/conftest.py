"""Shared fixtures: every emulator test runs on SQLite and on PostgreSQL (required in CI)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from baijiayun.client import BaiJiaYunClient
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.testing import client_for

# Property and fuzz suites: a small profile by default (and in CI), a large one on request.
_QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
settings.register_profile("small", max_examples=30, deadline=None, suppress_health_check=_QUIET)
settings.register_profile("large", max_examples=2000, deadline=None, suppress_health_check=_QUIET)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "small"))

SERVER_URL = os.environ.get(
    "BAIJIAYUN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Each test run works in a schema of its own, so runs sharing one server never collide.
SCHEMA = f"bjy_test_{os.getpid()}"
POSTGRES_URL = f"{SERVER_URL}{'&' if '?' in SERVER_URL else '?'}options=-csearch_path%3D{SCHEMA}"


def _server_engine() -> Engine:
    return create_engine(SERVER_URL.replace("postgresql://", "postgresql+psycopg://"))


def _postgres_available() -> str | None:
    try:
        engine = _server_engine()
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        engine.dispose()
    except OperationalError as exc:
        return str(exc).splitlines()[0]
    return None


_PG_PROBLEM = _postgres_available()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``pytest -n``: the tests of one file share a worker (and its module-scoped servers);
    the browser tests share one worker, so one browser serves them all."""
    for item in items:
        group = "browser" if item.get_closest_marker("browser") else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _PG_PROBLEM is None:
        engine = _server_engine()
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The CLI's file governor books calls in the user cache dir: one of its own per test run."""
    saved = os.environ.get("BAIJIAYUN_CACHE_DIR")
    os.environ["BAIJIAYUN_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if saved is None:
        os.environ.pop("BAIJIAYUN_CACHE_DIR", None)
    else:
        os.environ["BAIJIAYUN_CACHE_DIR"] = saved


REDIS_URL = os.environ.get("BAIJIAYUN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    """The Redis server's URL (skips locally when unreachable, fails in CI)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"Redis is required in CI but unreachable: {exc}")
        pytest.skip(f"Redis unreachable: {exc}")
    return REDIS_URL


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


# An in-memory emulator, an account and its client: for tests that vary something else (the
# mirror's database, say). Modules may override them.


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """An in-memory emulator with fast lifecycle and callback backoff."""
    config = EmulatorConfig(lifecycle_delays=(0.05, 0.05, 0.05), callback_backoff=0.05)
    with Emulator("sqlite://", config) as emulator:
        emulator.reset()
        yield emulator


@pytest.fixture
def account(emu: Emulator) -> dict[str, Any]:
    """A fresh account on ``emu``."""
    return emu.create_account()


@pytest.fixture
def client(emu: Emulator, account: dict[str, Any]) -> Iterator[BaiJiaYunClient]:
    """An in-process client of ``account``, with no rate governor."""
    with client_for(emu, account, rate_limit=None) as client:
        yield client
