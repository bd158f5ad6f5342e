"""The catalog mirror end to end on the emulator: sweeps, changes, mid-sweep churn, locks, queries."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from baijiayun.client import BaiJiaYunClient
from baijiayun.emulator import Emulator
from baijiayun.mirror import (
    Mirror,
    MirrorLock,
    MirrorLockedError,
    Progress,
    SchemaVersionError,
    make_engine,
)
from baijiayun.mirror import schema as s

from .conftest import SERVER_URL
from .mirror_helpers import (
    assert_converged,
    drop_schema,
    mirror_state,
    populate,
    postgres_schema_url,
    service_state,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def mirror_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """The mirror's database: a SQLite file, or a fresh schema on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mirror.db'}"
        return
    request.getfixturevalue("postgres_url")  # skips (locally) or fails (CI) when unreachable
    schema = f"bjy_mirror_{uuid.uuid4().hex[:12]}"
    yield postgres_schema_url(SERVER_URL, schema)
    drop_schema(SERVER_URL, schema)


def _changes(url: str) -> list[tuple[str, str | None, str | None]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(s.changes.c.kind, s.changes.c.field, s.changes.c.new)).all()
    engine.dispose()
    return [(r[0], r[1], r[2]) for r in rows]


def test_first_sync_then_renames_blocks_crops_and_deletions(
    emu: Emulator, client: BaiJiaYunClient, mirror_url: str
) -> None:
    made = populate(emu, client.partner_id, 7)
    long_room = emu.create_room(client.partner_id, title="长期", long_term=True)
    emu.create_recording(long_room["room_id"], status=100, create_time=1_700_000_100)
    emu.create_crop(made[0]["room_id"])
    with Mirror(client, mirror_url, page_size=3) as mirror:
        first = mirror.sync()
        assert (first.inserted, first.updated, first.deleted, first.error) == (9, 0, 0, None)
        assert first.calls == 3  # 9 rows, 3 per page; nothing to confirm
        assert_converged(client, mirror_url)

        client.playback.update(made[1]["room_id"], "改名")
        client.playback.set_publish_status(made[2]["room_id"], 2)
        emu.create_crop(made[3]["room_id"])
        client.playback.delete(made[4]["room_id"])
        client.playback.delete(made[0]["room_id"], version=1)
        second = mirror.sync()
        assert mirror.status()["by_publish_status"] == {"1": 7, "2": 1}
        assert [r["name"] for r in mirror.ls(name="改名")] == ["改名"]
    assert (second.inserted, second.updated, second.deleted) == (1, 2, 2)
    assert_converged(client, mirror_url)
    logged = _changes(mirror_url)
    assert ("update", "name", "改名") in logged
    assert ("update", "publish_status", "2") in logged
    assert sum(kind == "delete" for kind, _, _ in logged) == 2
    gone = mirror_state(mirror_url, include_deleted=True)[(made[4]["room_id"], 0, 0)]
    assert gone["deleted_at"] is not None


def test_sweep_under_churn_misses_nothing_and_deletes_nothing_alive(
    emu: Emulator, client: BaiJiaYunClient, mirror_url: str
) -> None:
    made = populate(emu, client.partner_id, 30)
    newest_first = sorted(made, key=lambda r: -r["create_time"])
    before = set(service_state(client))
    with Mirror(client, mirror_url, page_size=5) as mirror:
        mirror.sync()  # hold everything, so the next sweep has deletion candidates...
        # ...except the rows the deletions will shift across the page 2/3 boundary: a sweep
        # that skipped them could not recover them by confirming deletion candidates.
        shifted = [r["room_id"] for r in newest_first[10:14]]
        with mirror.engine().begin() as conn:
            conn.execute(s.playbacks.delete().where(s.playbacks.c.room_id.in_(shifted)))
        with_churn = Mirror(client, mirror_url, page_size=5)
        churned: list[int] = []

        def churn(progress: Progress) -> None:
            # Between pages 2 and 3: delete rows already read (the rest shifts up across the
            # page boundary), add new ones on top (shifts down), block a room (3002).
            if progress.pages == 2 and not churned:
                for row in newest_first[:4]:
                    client.playback.delete(row["room_id"])
                    churned.append(row["room_id"])
                emu.delete_room(newest_first[20]["room_id"])
                churned.append(newest_first[20]["room_id"])
                populate(emu, client.partner_id, 2, start=1_800_000_000)

        with_churn.on_page = churn
        result = with_churn.sync()
        with_churn.close()
    after = set(service_state(client))
    held = mirror_state(mirror_url)
    # Every playback that existed for the whole sweep is held and alive.
    assert (before & after) <= set(held)
    # Nothing that exists at the end is marked deleted.
    deleted = set(mirror_state(mirror_url, include_deleted=True)) - set(held)
    assert not deleted & after
    assert result.calls > 7  # the shrinking catalog made the sweep re-read pages
    with Mirror(client, mirror_url, page_size=5) as mirror:
        mirror.sync()
    assert_converged(client, mirror_url)


def test_incremental_reads_one_page_when_nothing_changed_and_catches_up_pending(
    emu: Emulator, client: BaiJiaYunClient, mirror_url: str
) -> None:
    populate(emu, client.partner_id, 12, start=int(time.time()) - 3600)
    room = emu.create_room(client.partner_id)
    # Transcoding, and older than the first page: only the pending re-read reaches it.
    emu.create_recording(room["room_id"], status=20, create_time=int(time.time()) - 7200)
    with Mirror(client, mirror_url, page_size=5) as mirror:
        mirror.sync()
        quiet = mirror.sync(incremental=True)
        # One getList page, one getCropList for the transcoding playback.
        assert (quiet.calls, quiet.inserted, quiet.updated) == (2, 0, 0)
        emu.advance(room["room_id"], status=100)
        new_room = emu.create_room(client.partner_id)
        emu.create_recording(new_room["room_id"], status=100)
        caught = mirror.sync(incremental=True)
        assert (caught.inserted, caught.updated) == (1, 1)
        assert caught.calls == 2
        settled = mirror.sync(incremental=True)
        assert settled.calls == 1
    assert mirror_state(mirror_url)[(room["room_id"], 0, 0)]["status"] == 100
    assert_converged(client, mirror_url)


def test_a_second_sync_waits_or_says_who_holds_the_lock(
    client: BaiJiaYunClient, mirror_url: str
) -> None:
    with Mirror(client, mirror_url) as mirror:
        holder = MirrorLock(mirror.engine(), f"sync:{client.partner_id}")
        with holder, pytest.raises(MirrorLockedError, match="another mirror sync is running"):
            mirror.sync()
        assert mirror.sync().error is None  # released: the next run goes ahead


def test_a_second_sync_with_a_wait_runs_once_the_first_ends(
    client: BaiJiaYunClient, mirror_url: str
) -> None:
    with Mirror(client, mirror_url, lock_wait=20) as mirror:
        holder = MirrorLock(mirror.engine(), f"sync:{client.partner_id}")
        holder.acquire()
        releaser = threading.Timer(0.2, holder.release)
        releaser.start()
        result = mirror.sync()
        releaser.join()
    assert result.error is None


def test_a_dead_holder_never_blocks_the_next_sqlite_run(
    client: BaiJiaYunClient, tmp_path: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    with Mirror(client, url) as mirror:
        with mirror.engine().begin() as conn:
            conn.execute(
                s.locks.insert().values(
                    name=f"sync:{client.partner_id}",
                    pid=2**22 + 12345,  # above pid_max: no such process
                    host=f"{os.uname().nodename} dead",
                    acquired_at=0.0,
                    expires_at=4e9,
                )
            )
        assert mirror.sync().error is None


def test_a_database_from_a_newer_release_is_refused(client: BaiJiaYunClient, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    with Mirror(client, url) as mirror:
        assert mirror.sync().error is None
        with mirror.engine().begin() as conn:
            conn.execute(s.meta.update().values(value=str(s.SCHEMA_VERSION + 1)))
    with Mirror(client, url) as newer, pytest.raises(SchemaVersionError, match="upgrade"):
        newer.sync()


def test_status_and_ls_answer_from_the_database(
    emu: Emulator, client: BaiJiaYunClient, tmp_path: Any
) -> None:
    from baijiayun.cli.mirror import mirror as group

    made = populate(emu, client.partner_id, 4)
    client.playback.set_publish_status(made[1]["room_id"], 2)
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with Mirror(client, url) as mirror:
        mirror.sync()
    runner = CliRunner()
    shown = runner.invoke(group, ["--database", url, "-o", "json", "status"])
    assert shown.exit_code == 0, shown.output
    assert '"playbacks": 4' in shown.output
    assert '"2": 1' in shown.output  # one blocked
    listed = runner.invoke(group, ["--database", url, "-o", "csv", "ls", "--publish-status", "2"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert len(lines) == 2 and str(made[1]["room_id"]) in lines[1]
    named = runner.invoke(group, ["--database", url, "-o", "jsonl", "ls", "--name", "第3"])
    assert named.output.count("\n") == 1 and "第3讲" in named.output
