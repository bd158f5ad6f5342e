"""The mirror's play records (issue 15, item 5): day by day, final days never re-read, exact calls,
records that grow, --views-since / --no-views, no video-data permission, the schema migration."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from baijiayun import _endpoints as ep
from baijiayun.cli.main import cli
from baijiayun.client import BaiJiaYunClient
from baijiayun.emulator import Emulator
from baijiayun.emulator.backends.views import Beacon
from baijiayun.emulator.server import BackgroundServer
from baijiayun.mirror import Mirror, make_engine
from baijiayun.mirror import schema as s

from .conftest import SERVER_URL
from .mirror_helpers import drop_schema, postgres_schema_url

EXPORT = "exportVideoReportBatch"
DATA = Path(__file__).parent / "data"


@pytest.fixture(params=["sqlite", "postgresql"])
def mirror_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """The mirror's database: a SQLite file, or a fresh schema on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mirror.db'}"
        return
    request.getfixturevalue("postgres_url")
    schema = f"bjy_mirror_{uuid.uuid4().hex[:12]}"
    yield postgres_schema_url(SERVER_URL, schema)
    drop_schema(SERVER_URL, schema)


def today() -> dt.date:
    return dt.datetime.now(ep.BEIJING).date()


def at(day: dt.date, clock: str = "20:00:00") -> str:
    return f"{day} {clock}"


def plays(room_id: int, day: dt.date, n: int, *, first: int = 0, **fields: Any) -> list[Any]:
    """``n`` finished plays of ``room_id`` that began on ``day``, a second apart from 08:00."""
    start = dt.datetime.combine(day, dt.time(8), ep.BEIJING)
    return [
        {
            "room_id": room_id,
            "play_begin_time": (start + dt.timedelta(seconds=first + k)).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "play_length": 60,
            "user_number": str(1000 + (first + k) % 7),
            "user_name": "学生",
            **fields,
        }
        for k in range(n)
    ]


def service_records(emu: Emulator, partner_id: int) -> dict[str, dict[str, Any]]:
    """Every record of the account the emulator holds, as the mirror should hold it."""
    out = {}
    for r in emu.play_records():
        if r["partner_id"] != partner_id:
            continue
        out[r["guid"]] = {
            "uuid": r["uuid"],
            "video_id": r["video_id"],
            "user_name": r["user_name"],
            "user_number": r["user_number"] or None,
            "play_begin_time": ep.beijing_wire_time(
                dt.datetime.fromtimestamp(r["play_begin_time"], ep.BEIJING)
            ),
            "play_end_time": ep.beijing_wire_time(
                dt.datetime.fromtimestamp(r["play_end_time"], ep.BEIJING)
            ),
            "client_type": r["client_type"],
            "play_length": r["play_length"],
            "user_ip": r["user_ip"],
            "area": r["area"],
            "room_id": r["room_id"],
            "session_id": r["session_id"],
            "version": r["version"],
        }
    return out


def mirrored_records(url: str) -> dict[str, dict[str, Any]]:
    """Every record the mirror holds, by guid."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(s.play_records)).all()
    finally:
        engine.dispose()
    return {r.guid: {f: getattr(r, f) for f in s.RECORD_FIELDS} for r in rows}


def final_days(url: str) -> dict[str, bool]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(s.view_days.c.day, s.view_days.c.final)).all()
    finally:
        engine.dispose()
    return {day: bool(final) for day, final in rows}


@pytest.fixture
def room(emu: Emulator, account: dict[str, Any]) -> int:
    room_id = int(emu.create_room(account["partner_id"])["room_id"])
    emu.create_recording(room_id, status=100, length=1200)
    return room_id


def just_after_midnight() -> bool:
    """Whether yesterday's last half hour is still within the mirror's grace (one more call)."""
    return dt.datetime.now(ep.BEIJING).time() < dt.time(0, 30)


def test_first_run_reads_each_day_once_then_only_where_plays_may_be_new_or_growing(
    emu: Emulator, client: BaiJiaYunClient, room: int, mirror_url: str
) -> None:
    day = today()
    emu.add_views(
        plays(room, day - dt.timedelta(days=40), 3)  # before the default 30 days
        + plays(room, day - dt.timedelta(days=10), 1500)  # two pages
        + plays(room, day - dt.timedelta(days=1), 4)
        + plays(room, day, 5)
    )
    partner = client.partner_id
    now = [dt.datetime.combine(day, dt.time(0, 10), ep.BEIJING).timestamp()]
    with Mirror(client, mirror_url, clock=lambda: now[0]) as mirror:
        first = mirror.sync()
        # 31 days (30 before today, and today), one call each, and a second page for one day
        assert (first.views_calls, first.views_seen, first.views_inserted) == (32, 1509, 1509)
        assert emu.calls(partner, EXPORT) == 32
        assert first.calls == 1 and first.error is None and first.views_error is None
        days = final_days(mirror_url)
        assert len(days) == 31 and sum(days.values()) == 29
        assert days[str(day)] is False and days[str(day - dt.timedelta(days=1))] is False

        # five minutes later: today, and yesterday's last half hour (the grace) again
        now[0] += 300
        again = mirror.sync(incremental=True)
        assert (again.views_calls, again.views_inserted, again.views_updated) == (2, 0, 0)
        assert emu.calls(partner, EXPORT) == 34

        emu.add_views(
            [{"room_id": room, "play_begin_time": at(day, "00:16:00"), "play_length": 9}] * 2
        )
        now[0] += 300
        more = mirror.sync()
        assert (more.views_calls, more.views_inserted, more.views_updated) == (2, 2, 0)

        now[0] += 12 * 3600  # midday: yesterday's plays are over and were all read
        assert mirror.sync(incremental=True).views_calls == 2
        now[0] += 300
        quiet = mirror.sync(incremental=True)
        assert (quiet.views_calls, quiet.views_inserted) == (1, 0)  # today's last half hour
        assert emu.calls(partner, EXPORT) == 32 + 2 + 2 + 2 + 1

    held = mirrored_records(mirror_url)
    service = service_records(emu, partner)
    assert len(held) == 1511 and len(service) == 1514  # the 40-day-old plays stay unread
    assert {g: service[g] for g in held} == held
    assert final_days(mirror_url)[str(day)] is False


def test_a_record_that_grows_is_updated_in_place(
    emu: Emulator, client: BaiJiaYunClient, room: int, mirror_url: str
) -> None:
    token = client.playback.get_player_token(room, 0).token
    play = {"guid": "b" * 32, "uuid": "client-9", "room_id": room, "session_id": None}
    play |= {"token": token, "user_number": "42", "user_name": "小红", "position_ms": 0}
    emu.views.beacon(Beacon(**play, event="play", duration_ms=1000), "10.1.1.1", 10.0)
    with Mirror(client, mirror_url) as mirror:
        assert mirror.sync().views_inserted == 1
        assert mirrored_records(mirror_url)["b" * 32]["play_length"] == 1
        emu.views.beacon(Beacon(**play, event="heartbeat", duration_ms=95_000), "10.1.1.1", 10.0)
        grown = mirror.sync(incremental=True)
        calls = 1 + just_after_midnight()  # today from the play's beginning
        assert (grown.views_calls, grown.views_inserted, grown.views_updated) == (calls, 0, 1)
        unchanged = mirror.sync(incremental=True)
        assert (unchanged.views_inserted, unchanged.views_updated) == (0, 0)
    held = mirrored_records(mirror_url)
    assert list(held) == ["b" * 32]
    assert held == service_records(emu, client.partner_id)
    assert held["b" * 32]["play_length"] == 95 and held["b" * 32]["user_number"] == "42"


def test_views_since_sets_the_first_day_and_no_views_skips_them(
    emu: Emulator, client: BaiJiaYunClient, room: int, tmp_path: Path
) -> None:
    day = today()
    emu.add_views(plays(room, day - dt.timedelta(days=45), 2) + plays(room, day, 1))
    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    with Mirror(client, url, views=False) as mirror:
        skipped = mirror.sync()
    assert (skipped.views_calls, emu.calls(client.partner_id, EXPORT)) == (0, 0)
    assert mirrored_records(url) == {}
    with Mirror(client, url, views_since=day - dt.timedelta(days=45)) as mirror:
        assert mirror.sync().views_calls == 46
        assert len(mirrored_records(url)) == 3
    # later runs go back to the first day held: only today's last half hour is read again
    with Mirror(client, url) as mirror:
        assert mirror.sync().views_calls == 1 + just_after_midnight()


def test_an_account_without_video_data_permission_still_gets_its_catalog(
    emu: Emulator, client: BaiJiaYunClient, room: int, tmp_path: Path
) -> None:
    emu.inject_fault(EXPORT, "error", 4003)
    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    with Mirror(client, url) as mirror:
        result = mirror.sync()
        assert result.error is None and result.seen == 1 and result.inserted == 1
        assert result.views_error is not None and "4003" in result.views_error
        assert result.views_calls == 1
        status = mirror.status()
    assert status["playbacks"] == 1
    assert status["views"]["last_error"] == result.views_error
    assert status["last_run"]["views_error"] == result.views_error
    assert final_days(url) == {}
    emu.clear_faults()
    with Mirror(client, url) as mirror:
        healed = mirror.sync(incremental=True)
    assert healed.views_error is None and healed.views_calls == 31


@pytest.mark.server
def test_cli_sync_takes_views_since_and_no_views(
    emu: Emulator, client: BaiJiaYunClient, room: int, tmp_path: Path
) -> None:
    day = today()
    emu.add_views(plays(room, day - dt.timedelta(days=2), 3))
    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    with served_env(emu, client.partner_id) as values:
        run = CliRunner().invoke(
            cli, ["-o", "json", "mirror", "sync", "--database", url, "--no-views"], env=values
        )
        assert run.exit_code == 0, run.output
        assert '"views_calls": 0' in run.stdout
        since = (day - dt.timedelta(days=2)).isoformat()
        run = CliRunner().invoke(
            cli,
            ["-o", "json", "mirror", "sync", "--database", url, "--views-since", since],
            env=values,
        )
        assert run.exit_code == 0, run.output
        assert '"views_calls": 3' in run.stdout and '"views_inserted": 3' in run.stdout
        bad = CliRunner().invoke(
            cli, ["mirror", "sync", "--database", url, "--views-since", "2026-13-01"], env=values
        )
        assert bad.exit_code == 2 and "--views-since" in bad.output


@contextmanager
def served_env(emu: Emulator, partner_id: int) -> Iterator[dict[str, str]]:
    """``emu`` served on a loopback port; the CLI's environment for the account."""
    account = emu.account(partner_id)
    assert account is not None
    with BackgroundServer(emu) as server:
        yield {
            "BAIJIAYUN_PARTNER_ID": str(partner_id),
            "BAIJIAYUN_PARTNER_KEY": account["partner_key"],
            "BAIJIAYUN_BASE_URL": server.base_url,
            "BAIJIAYUN_CONFIG": "/nonexistent/config.toml",
            "BAIJIAYUN_RATE_LIMIT": "off",
        }


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_mirror_of_schema_1_is_migrated_in_place_and_keeps_its_rows(
    emu: Emulator,
    client: BaiJiaYunClient,
    room: int,
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        request.getfixturevalue("postgres_url")
        schema = f"bjy_mirror_{uuid.uuid4().hex[:12]}"
        url = postgres_schema_url(SERVER_URL, schema)
        request.addfinalizer(lambda: drop_schema(SERVER_URL, schema))
    engine = make_engine(url)
    ddl = (DATA / f"mirror_v1_{backend}.sql").read_text(encoding="utf-8")
    with engine.begin() as conn:
        for statement in ddl.split(";"):
            if statement.strip() and not statement.strip().startswith("--"):
                conn.exec_driver_sql(statement)
        conn.exec_driver_sql(
            "INSERT INTO bjy_mirror_meta (key, value) VALUES ('schema_version', '1')"
        )
        conn.exec_driver_sql(
            "INSERT INTO bjy_mirror_playbacks (room_id, session_id, version, partner_id, name, "
            f"status, first_seen, last_seen) VALUES (77, 0, 0, {client.partner_id}, '旧课', 100, "
            "1.0, 1.0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO bjy_mirror_sync_runs (partner_id, mode, started_at, ended_at, calls, "
            f"seen, inserted, updated, deleted) VALUES ({client.partner_id}, 'full', 1.0, 2.0, "
            "5, 1, 1, 0, 0)"
        )
    engine.dispose()
    emu.add_views(plays(room, today(), 2))
    with Mirror(client, url) as mirror:
        assert [r["name"] for r in mirror.ls(room_id=77)] == ["旧课"]  # opened: migrated
        result = mirror.sync(incremental=True)
        assert result.views_inserted == 2
        status = mirror.status()
    assert status["runs"] == 2 and status["views"]["records"] == 2
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            version = conn.execute(
                select(s.meta.c.value).where(s.meta.c.key == "schema_version")
            ).scalar_one()
            old_run = conn.execute(
                select(s.sync_runs.c.calls, s.sync_runs.c.views_calls, s.sync_runs.c.views_error)
                .order_by(s.sync_runs.c.id)
                .limit(1)
            ).one()
    finally:
        engine.dispose()
    assert version == str(s.SCHEMA_VERSION) == "2"
    assert tuple(old_run) == (5, 0, None)
