"""``baijiayun mirror`` as a group like the others: global options anywhere, exit codes, checks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from baijiayun.cli.main import cli
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.server import BackgroundServer, free_port

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, BackgroundServer]]:
    emulator = Emulator("sqlite://", EmulatorConfig(rate_limit=None))
    with emulator, BackgroundServer(emulator) as server:
        yield emulator, server


@pytest.fixture
def env(served: tuple[Emulator, BackgroundServer], tmp_path: Path) -> dict[str, str]:
    emu, server = served
    emu.reset()
    account = emu.create_account()
    for number in range(3):
        room = emu.create_room(account["partner_id"], title=f"第{number + 1}讲")["room_id"]
        emu.create_recording(room, status=100)
    return {
        "BAIJIAYUN_PARTNER_ID": str(account["partner_id"]),
        "BAIJIAYUN_PARTNER_KEY": account["partner_key"],
        "BAIJIAYUN_BASE_URL": server.base_url,
        "BAIJIAYUN_CONFIG": "/nonexistent/config.toml",
        "BAIJIAYUN_MIRROR_DATABASE": f"sqlite:///{tmp_path / 'mirror.db'}",
        "COLUMNS": "100",
    }


def run(env: dict[str, str], *args: str, **extra: str) -> Result:
    # catch_exceptions=False: a traceback would fail the test instead of becoming exit 1
    return CliRunner().invoke(cli, list(args), env={**env, **extra}, catch_exceptions=False)


def runs(env: dict[str, str]) -> int:
    if not Path(env["BAIJIAYUN_MIRROR_DATABASE"].removeprefix("sqlite:///")).exists():
        return 0  # status refuses a database that is not there
    shown = run(env, "mirror", "status", "-o", "json")
    assert shown.exit_code == 0, shown.output
    return int(json.loads(shown.stdout)["runs"])


def test_global_options_before_between_and_after(env: dict[str, str]) -> None:
    base = env["BAIJIAYUN_BASE_URL"]
    elsewhere = {"BAIJIAYUN_BASE_URL": f"http://127.0.0.1:{free_port()}"}
    synced = run(env, "mirror", "--base-url", base, "sync", "-o", "json", **elsewhere)
    assert synced.exit_code == 0, synced.output
    assert json.loads(synced.stdout)["inserted"] == 3
    again = run(
        env, "mirror", "sync", "--base-url", base, "--incremental", "-o", "json", **elsewhere
    )
    assert again.exit_code == 0 and json.loads(again.stdout)["inserted"] == 0
    assert json.loads(run(env, "mirror", "status", "-o", "json").stdout)["playbacks"] == 3
    listed = run(env, "mirror", "ls", "-o", "csv", "--name", "第2")
    assert listed.exit_code == 0 and listed.stdout.count("\n") == 2 and "第2讲" in listed.stdout
    assert run(env, "-o", "jsonl", "mirror", "ls").stdout.count("\n") == 3


def test_a_sync_off_a_terminal_writes_nothing_to_stderr(env: dict[str, str]) -> None:
    synced = run(env, "mirror", "sync", "-o", "json")
    assert synced.exit_code == 0 and synced.stderr == ""


def test_the_status_table_spells_nested_fields_out(env: dict[str, str]) -> None:
    assert run(env, "mirror", "sync").exit_code == 0
    table = run(env, "mirror", "status", "-o", "table").stdout
    fields = [line.split()[0] for line in table.splitlines()[2:-1] if line.strip()]
    assert (
        "last_run.mode" in fields
        and "by_status.100" in fields
        and "last_full_sweep.calls" in fields
    )
    assert "{" not in table


def test_unreachable_is_exit_3_naming_host_and_port(env: dict[str, str]) -> None:
    port = free_port()
    for extra in ((), ("--incremental",)):
        result = run(
            env,
            "--base-url",
            f"http://127.0.0.1:{port}",
            "mirror",
            "sync",
            *extra,
            "--max-retries",
            "0",
        )
        assert result.exit_code == 3
        assert result.stderr.startswith(f"Error: cannot reach 127.0.0.1:{port}: ")


def test_api_errors_are_exit_1_and_missing_credentials_exit_2(env: dict[str, str]) -> None:
    wrong = run(env, "--partner-key", "wrong", "mirror", "sync")
    assert wrong.exit_code == 1 and "1002" in wrong.stderr and "Traceback" not in wrong.output
    missing = run(env, "mirror", "sync", BAIJIAYUN_PARTNER_KEY="")
    assert missing.exit_code == 2 and "Invalid value for '--partner-key'" in missing.stderr


def test_dry_run_is_refused_and_records_nothing(env: dict[str, str]) -> None:
    for args in (("--dry-run", "mirror", "sync"), ("mirror", "sync", "--dry-run")):
        refused = run(env, *args)
        assert refused.exit_code == 2
        assert "mirror sync cannot --dry-run" in refused.stderr
    assert runs(env) == 0


@pytest.mark.parametrize(
    ("database", "problem"),
    [
        ("sqlite:////nonexistent/dir/x.db", "unable to open database file"),
        (f"postgresql://nobody:s3cret-pw@127.0.0.1:{free_port()}/x", "refused"),
        ("mysql://nobody:s3cret-pw@127.0.0.1/x", "is not supported"),
        ("not a url", "is not supported"),
    ],
    ids=["sqlite-missing-dir", "postgresql-closed-port", "mysql", "not-a-url"],
)
def test_a_bad_database_is_exit_2_naming_it(
    env: dict[str, str], database: str, problem: str
) -> None:
    for command in ("status", "sync"):
        result = run(env, "mirror", "--database", database, command)
        assert result.exit_code == 2, result.output
        said = problem
        if command == "status" and database.startswith("sqlite"):
            said = "no mirror database at '/nonexistent/dir/x.db'"  # and none created
        assert "Invalid value for '--database'" in result.stderr and said in result.stderr
        assert "s3cret-pw" not in result.output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--since", "2026-13-01"], "'--since'"),
        (["--until", "2026-02-30"], "'--until'"),
        (["--status", "7"], "'--status'"),
        (["--publish-status", "3"], "'--publish-status'"),
    ],
)
def test_ls_filters_are_checked(env: dict[str, str], args: list[str], named: str) -> None:
    result = run(env, "mirror", "ls", *args)
    assert result.exit_code == 2 and f"Invalid value for {named}" in result.stderr


def test_the_group_run_on_its_own_maps_errors_too(env: dict[str, str]) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "baijiayun.cli.mirror", "--base-url", url, "sync"]
    done = subprocess.run(
        [*command, "--max-retries", "0"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 3 and f"cannot reach 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_ls_dates_are_days(env: dict[str, str], served: Any) -> None:
    assert run(env, "mirror", "sync").exit_code == 0
    today = json.loads(run(env, "mirror", "ls", "-o", "json").stdout)[0]["create_time"][:10]
    kept = run(env, "mirror", "ls", "--since", today, "--until", today, "-o", "json")
    assert len(json.loads(kept.stdout)) == 3
    assert json.loads(run(env, "mirror", "ls", "--status", "100", "-o", "json").stdout)


SUBCOMMANDS = ("sync", "watch", "serve-callbacks", "status", "ls")


def test_database_is_taken_after_the_subcommand_and_listed_in_each_help(
    env: dict[str, str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'given.db'}"
    synced = run(env, "mirror", "sync", "--database", url, "-o", "json")
    assert synced.exit_code == 0, synced.output
    shown = run(env, "mirror", "status", "--database", url, "-o", "json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["playbacks"] == 3
    assert runs(env) == 0  # the default database was never used
    listed = run(env, "mirror", "ls", "--database", url, "-o", "jsonl")
    assert listed.stdout.count("\n") == 3
    for command in SUBCOMMANDS:
        shown = run(env, "mirror", command, "--help")
        assert shown.exit_code == 0
        assert "--database" in shown.stdout, command
        assert "Example" in shown.stdout and f"baijiayun mirror {command}" in shown.stdout


def test_status_and_ls_on_a_mistyped_sqlite_path_create_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    typo = tmp_path / "mirorr.db"
    for command in ("status", "ls"):
        result = run(env, "mirror", command, "--database", f"sqlite:///{typo}")
        assert result.exit_code == 2
        assert "Invalid value for '--database'" in result.stderr
        assert "no mirror database at" in result.stderr and "mirror sync" in result.stderr
        assert not typo.exists()


def test_mirror_times_are_beijing_time_with_the_offset_in_json_and_csv(
    env: dict[str, str],
) -> None:
    synced = json.loads(run(env, "mirror", "sync", "-o", "json").stdout)
    assert synced["started_at"].endswith("+08:00") and synced["ended_at"].endswith("+08:00")
    status = json.loads(run(env, "mirror", "status", "-o", "json").stdout)
    assert status["last_run"]["started_at"].endswith("+08:00")
    assert status["last_full_sweep"]["ended_at"].endswith("+08:00")
    rows = json.loads(run(env, "mirror", "ls", "-o", "json").stdout)
    assert all(r["create_time"].endswith("+08:00") for r in rows)
    csv_text = run(env, "mirror", "ls", "-o", "csv").stdout
    assert csv_text.count("+08:00") == 3
    table = run(env, "mirror", "sync", "-o", "table").stdout
    assert "+08:00" not in table and re.search(r"started_at +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", table)
