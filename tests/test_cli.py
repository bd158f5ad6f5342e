"""The CLI against a real emulator server: every command, output formats, safety and exit codes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from baijiayun import _signing
from baijiayun.cli.context import MissingExtra, Settings, require_extra
from baijiayun.cli.main import cli
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.server import BackgroundServer, free_port

from .hostile import HostileServer, trickle_head


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, BackgroundServer]]:
    """One real server for the module; each test starts from a reset emulator.

    The CLI is a thin layer over the SDK, whose end-to-end tests cover both databases.
    """
    emulator = Emulator("sqlite://", EmulatorConfig(callback_backoff=0.05))
    with emulator, BackgroundServer(emulator) as server:
        yield emulator, server


@pytest.fixture
def setup(served: tuple[Emulator, BackgroundServer]) -> dict[str, Any]:
    emu, server = served
    emu.reset()
    account = emu.create_account()
    pid = account["partner_id"]
    short = emu.create_room(pid, title="第1讲")["room_id"]
    emu.create_recording(short, status=100)
    emu.create_crop(short)
    long = emu.create_room(pid, long_term=True)["room_id"]
    sessions = [emu.create_recording(long, status=100)["session_id"] for _ in range(2)]
    emu.add_ppt(short, name="s.pdf", date="2026-11-25")
    env = {
        "BAIJIAYUN_PARTNER_ID": str(pid),
        "BAIJIAYUN_PARTNER_KEY": account["partner_key"],
        "BAIJIAYUN_BASE_URL": server.base_url,
        "BAIJIAYUN_CONFIG": "/nonexistent/config.toml",
        "COLUMNS": "120",
    }
    return {
        "short": short,
        "long": long,
        "sessions": sessions,
        "env": env,
        "emu": emu,
        "key": account["partner_key"],
    }


def run(
    setup: dict[str, Any], *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> Result:
    runner = CliRunner()
    return runner.invoke(
        cli, list(args), env={**setup["env"], **(env or {})}, input=input, catch_exceptions=False
    )


def playbacks(setup: dict[str, Any], room_id: int) -> list[dict[str, Any]]:
    """Every version row of a room, as the emulator's admin API reports it."""
    url = f"{setup['env']['BAIJIAYUN_BASE_URL']}/_emulator/rooms/{room_id}/playbacks"
    result: list[dict[str, Any]] = httpx.get(url).json()["result"]
    return result


def rows(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_json_when_piped(setup: dict[str, Any]) -> None:
    data = rows(run(setup, "playback", "list"))
    assert [r["room_id"] for r in data] == [setup["long"], setup["long"], setup["short"]]
    assert (
        rows(run(setup, "playback", "list", "--crops", "--room-id", str(setup["short"]))).__len__()
        == 2
    )


def test_list_all_pages(setup: dict[str, Any]) -> None:
    data = rows(run(setup, "playback", "list", "--all", "--page-size", "1"))
    assert len(data) == 3


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "table"])
def test_output_formats(setup: dict[str, Any], fmt: str) -> None:
    result = run(setup, "-o", fmt, "playback", "crops", str(setup["short"]))
    assert result.exit_code == 0, result.output
    out = result.stdout
    if fmt == "json":
        assert [r["version"] for r in json.loads(out)] == [0, 1]
    elif fmt == "jsonl":
        assert [json.loads(line)["is_main"] for line in out.splitlines()] == [True, False]
    elif fmt == "csv":
        parsed = list(csv.DictReader(io.StringIO(out)))
        assert [(r["version"], r["is_main"]) for r in parsed] == [("0", "True"), ("1", "False")]
    else:
        header, _, first, second, caption = out.splitlines()[:5]
        assert header.split()[:4] == ["room_id", "session", "version", "main"]
        assert "第1讲" in first and "ready (100)" in first and "published (1)" in first
        assert "yes" in first.split() and "yes" not in second.split()
        assert caption == f"page 1 of 1: 2 of 2 versions of room {setup['short']}"


def test_info_sessions_token_tokens(setup: dict[str, Any]) -> None:
    assert rows(run(setup, "playback", "info", str(setup["short"])))["name"] == "第1讲"
    sessions = rows(run(setup, "playback", "sessions", str(setup["long"])))
    assert [s["session_id"] for s in sessions] == setup["sessions"]
    assert rows(run(setup, "playback", "token", str(setup["short"]), "--expires-in", "0"))["token"]
    ids = f"{setup['short']}\n{setup['long']}-{setup['sessions'][1]}\n"
    tokens = rows(run(setup, "playback", "tokens", input=ids))
    assert [t["id"] for t in tokens] == [
        str(setup["short"]),
        f"{setup['long']}-{setup['sessions'][1]}",
    ]


def test_tokens_from_file_and_arguments(setup: dict[str, Any], tmp_path: Path) -> None:
    file = tmp_path / "ids.txt"
    file.write_text(f"{setup['short']}\n")
    data = rows(
        run(
            setup,
            "playback",
            "tokens",
            f"{setup['long']}-{setup['sessions'][0]}",
            "--file",
            str(file),
        )
    )
    assert len(data) == 2


def test_publish_block_rename_set_main(setup: dict[str, Any]) -> None:
    short = setup["short"]
    assert run(setup, "playback", "block", str(short), "--yes").exit_code == 0
    assert {r["publish_status"] for r in playbacks(setup, short)} == {2}
    assert rows(run(setup, "playback", "publish", str(short))) == {"status": 1}
    assert run(setup, "playback", "rename", str(short), "新 名字").exit_code == 0
    assert {r["name"] for r in playbacks(setup, short)} == {"新 名字"}
    assert run(setup, "playback", "set-main", str(short), "1").exit_code == 0
    assert [r["version"] for r in playbacks(setup, short) if r["is_main"]] == [1]


def test_delete_asks_for_confirmation_only_at_a_terminal(setup: dict[str, Any]) -> None:
    short = setup["short"]
    for answer in ("y\n", "n\n"):  # piped stdin is never the answer, whatever it says
        piped = run(setup, "playback", "delete", str(short), "--version", "1", input=answer)
        assert piped.exit_code == 2
        assert piped.stderr.splitlines()[-1] == (
            "Error: this needs a confirmation and there is no terminal to ask: add --yes"
        )
        assert "Delete" not in piped.stderr  # no prompt was shown
    blocked = run(setup, "playback", "block", str(short), input="y\n")
    assert blocked.exit_code == 2 and "--yes" in blocked.stderr
    assert {r["publish_status"] for r in playbacks(setup, short)} == {1}
    assert len(playbacks(setup, short)) == 2
    assert run(setup, "playback", "delete", str(short), "-y").exit_code == 0
    assert playbacks(setup, short) == []


def _at_a_terminal(setup: dict[str, Any], answer: bytes, *args: str) -> tuple[int, str]:
    """Run the real ``baijiayun`` with a pseudo-terminal on stdin, typing ``answer``."""
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    try:
        os.write(leader, answer)
        done = subprocess.run(
            [str(Path(sys.executable).parent / "baijiayun"), *args],
            stdin=follower,
            capture_output=True,
            env={**os.environ, **setup["env"]},
            timeout=30,
        )
    finally:
        os.close(follower)
        os.close(leader)
    return done.returncode, done.stderr.decode()


def test_a_terminal_is_asked_and_no_exits_1(setup: dict[str, Any]) -> None:
    short = setup["short"]
    args = ("playback", "delete", str(short), "--version", "1")
    code, err = _at_a_terminal(setup, b"n\n", *args)
    assert code == 1 and "This cannot be undone" in err and "Aborted: nothing was changed." in err
    assert len(playbacks(setup, short)) == 2
    code, err = _at_a_terminal(setup, b"y\n", *args)
    assert code == 0 and f"deleted version 1 of the playback of room {short}" in err
    assert [r["version"] for r in playbacks(setup, short)] == [0]


def test_replace_and_ppt(setup: dict[str, Any]) -> None:
    short, long, session = setup["short"], setup["long"], setup["sessions"][0]
    result = run(
        setup,
        "playback",
        "replace",
        str(long),
        str(short),
        "--type",
        "add",
        "--source-session-id",
        str(session),
        "--main",
        "--yes",
    )
    assert result.exit_code == 0, result.output
    assert [r["version"] for r in playbacks(setup, short) if r["is_main"]] == [2]
    assert [
        p["name"]
        for p in rows(run(setup, "playback", "ppt-urls", str(short), "--date", "2026-11-25"))
    ] == ["s.pdf"]
    assert [p["name"] for p in rows(run(setup, "playback", "ppt-url", str(short)))] == ["s.pdf"]


def test_player_url_works(setup: dict[str, Any]) -> None:

    result = run(
        setup,
        "playback",
        "player-url",
        str(setup["long"]),
        "--session-id",
        str(setup["sessions"][1]),
    )
    assert result.exit_code == 0
    url = result.stdout.strip()
    assert f"classid={setup['long']}" in url and f"session_id={setup['sessions'][1]}" in url
    assert httpx.get(url).status_code == 200
    given = run(setup, "playback", "player-url", "1", "--token", "abc").stdout.strip()
    assert given.endswith("/web/playback/index?classid=1&token=abc")


def test_dry_run_sends_nothing_and_masks(setup: dict[str, Any]) -> None:
    short = setup["short"]
    for args in (
        ("--dry-run", "playback", "delete", str(short)),
        ("playback", "delete", str(short), "--dry-run"),
    ):
        result = run(setup, *args)
        assert result.exit_code == 0, result.output
        shown = json.loads(result.stdout)
        assert (shown["method"], shown["url"]) == (
            "POST",
            f"{setup['env']['BAIJIAYUN_BASE_URL']}/openapi/playback/delete",
        )
        form = shown["form"]
        assert (form["room_id"], form["partner_id"], form["sign"]) == (
            str(short),
            setup["env"]["BAIJIAYUN_PARTNER_ID"],
            "***",
        )
        assert form["timestamp"].isdigit()
        assert setup["key"] not in result.output
    assert len(playbacks(setup, short)) == 2
    batch = run(setup, "--dry-run", "playback", "tokens", *[str(10**13 + i) for i in range(150)])
    (first,) = [json.loads(line) for line in batch.stdout.splitlines()]
    assert len(first["form"]["room_ids"].split(",")) == 100  # the first of two calls


def test_api_error_exit_1(setup: dict[str, Any]) -> None:
    result = run(setup, "playback", "info", "99999999999999")
    assert result.exit_code == 1
    assert (
        "getBasicInfo" in result.stderr
        and "3001" in result.stderr
        and "room id does not exist" in result.stderr
    )


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["playback", "list", "--page-size", "5000"], "'--page-size'"),
        (["playback", "tokens", "1,abc"], "'ROOM_IDS'"),
        (["playback", "rename", "1", ""], "'NAME'"),
        (["playback", "ppt-urls", "1", "--date", "yesterday"], "'--date'"),
        (["playback", "info", "1", "--base-url", "ftp://x"], "'--base-url'"),
    ],
)
def test_bad_usage_exit_2_names_the_option(
    setup: dict[str, Any], args: list[str], named: str
) -> None:
    result = run(setup, *args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for {named}" in result.stderr
    assert "--room-ids" not in result.stderr and "--name" not in result.stderr


def test_missing_credentials_name_the_option(setup: dict[str, Any]) -> None:
    missing = run(setup, "playback", "info", "1", env={"BAIJIAYUN_PARTNER_KEY": ""})
    assert missing.exit_code == 2 and "'--partner-key'" in missing.stderr
    bad_id = run(setup, "playback", "info", "1", env={"BAIJIAYUN_PARTNER_ID": "abc"})
    assert bad_id.exit_code == 2
    assert "'--partner-id'" in bad_id.stderr and "BAIJIAYUN_PARTNER_ID" in bad_id.stderr


def test_unreachable_exit_3_names_host_and_port(setup: dict[str, Any]) -> None:
    port = free_port()
    result = run(
        setup,
        "playback",
        "info",
        "1",
        "--max-retries",
        "0",
        env={"BAIJIAYUN_BASE_URL": f"http://127.0.0.1:{port}"},
    )
    assert result.exit_code == 3
    assert f"cannot reach 127.0.0.1:{port}" in result.stderr


def test_a_write_without_an_answer_says_its_outcome_is_unknown(setup: dict[str, Any]) -> None:
    server = HostileServer()
    server.script = [trickle_head(0.05, server.stop)]
    with server:
        args = ("--timeout", "1", "--max-retries", "0", "--base-url", server.base_url)
        deleted = run(setup, "playback", "delete", "1", "--yes", *args)
        read = run(setup, "playback", "info", "1", *args)
    assert deleted.exit_code == 3, deleted.output
    assert "the outcome is unknown: the call may have arrived" in deleted.stderr
    assert "cannot reach" not in deleted.stderr
    # a read that got no answer changed nothing: it is reported as unreachable
    assert read.exit_code == 3 and "cannot reach 127.0.0.1:" in read.stderr


def test_secrets_never_echoed(setup: dict[str, Any]) -> None:
    for args in (("playback", "info", "99999999999999"), ("--help",), ("playback", "list")):
        assert setup["key"] not in run(setup, *args).output
    settings = Settings(partner_id=1, partner_key=setup["key"], secret_key="s3cret-value")
    assert setup["key"] not in repr(settings) and "s3cret-value" not in repr(settings)
    assert "partner_key=***" in repr(settings)


def _profile(setup: dict[str, Any], tmp_path: Path, partner_id: str, key: str) -> dict[str, str]:
    config = tmp_path / "config.toml"
    env = setup["env"]
    config.write_text(
        f'[profiles.emu]\npartner_id = {partner_id}\npartner_key = "{key}"\n'
        f'base_url = "{env["BAIJIAYUN_BASE_URL"]}"\n',
        encoding="utf-8",
    )
    return {"BAIJIAYUN_CONFIG": str(config)}


def test_profiles(setup: dict[str, Any], tmp_path: Path) -> None:
    env = _profile(setup, tmp_path, setup["env"]["BAIJIAYUN_PARTNER_ID"], setup["key"])
    bare = {
        **env,
        "BAIJIAYUN_PARTNER_ID": "",
        "BAIJIAYUN_PARTNER_KEY": "",
        "BAIJIAYUN_BASE_URL": "",
    }
    info = rows(run(setup, "--profile", "emu", "playback", "info", str(setup["short"]), env=bare))
    assert info["status"] == 100
    unknown = run(setup, "--profile", "nope", "playback", "info", "1", env=bare)
    assert unknown.exit_code == 2 and "nope" in unknown.stderr and "emu" in unknown.stderr


def test_precedence_typed_then_typed_profile_then_environment_then_profile(
    setup: dict[str, Any], tmp_path: Path
) -> None:
    short = str(setup["short"])
    env = {**_profile(setup, tmp_path, setup["env"]["BAIJIAYUN_PARTNER_ID"], "wrong-key")}
    # the environment's right key beats the profile chosen by BAIJIAYUN_PROFILE
    assert (
        run(setup, "playback", "info", short, env={**env, "BAIJIAYUN_PROFILE": "emu"}).exit_code
        == 0
    )
    # a --profile the user typed beats the environment: its wrong key is used (code 1002)
    typed = run(setup, "playback", "info", short, "--profile", "emu", env=env)
    assert typed.exit_code == 1 and "1002" in typed.stderr
    # an option the user typed beats the typed profile
    fixed = run(
        setup, "--profile", "emu", "playback", "info", short, "--partner-key", setup["key"], env=env
    )
    assert fixed.exit_code == 0, fixed.output


def test_a_typed_profile_host_beats_the_environment(setup: dict[str, Any], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[profiles.prod]\npartner_id = 7\nprivate_domain = "e7"\n', encoding="utf-8")
    env = {"BAIJIAYUN_CONFIG": str(config)}
    result = run(setup, "playback", "info", "1", "--profile", "prod", "--dry-run", env=env)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["url"] == "https://e7.at.baijiayun.com/openapi/playback/getBasicInfo"
    assert shown["form"]["partner_id"] == "7"


def test_profile_with_a_bad_partner_id_names_the_option(
    setup: dict[str, Any], tmp_path: Path
) -> None:
    env = _profile(setup, tmp_path, '"abc"', setup["key"])
    result = run(setup, "--profile", "emu", "playback", "info", "1", env=env)
    assert result.exit_code == 2
    assert "'--partner-id'" in result.stderr and "profile 'emu'" in result.stderr


def test_global_options_after_the_subcommand(setup: dict[str, Any]) -> None:
    result = run(setup, "playback", "list", "-o", "csv", "--page-size", "2")
    assert result.exit_code == 0, result.output
    assert [r["room_id"] for r in csv.DictReader(io.StringIO(result.stdout))] == [
        str(setup["long"])
    ] * 2
    wrong = run(setup, "playback", "info", str(setup["short"]), "--partner-key", "not-the-key")
    assert wrong.exit_code == 1 and "1002" in wrong.stderr


def test_table_reads_at_a_glance(setup: dict[str, Any]) -> None:
    emu = setup["emu"]
    emu.create_crop(setup["short"], name="第1讲 " + "很长的名字" * 20)
    result = run(setup, "-o", "table", "playback", "list", "--crops", "--page-size", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= 120 for line in lines)
    assert lines[0].split()[:2] == ["room_id", "session"] and "created (UTC+8)" in lines[0]
    assert len(lines) == 2 + 2 + 2  # header, rule, one line per playback, caption, hint
    assert lines[-2] == "page 1 of 3: 2 of 5 playbacks"
    assert lines[-1] == "next: --page 2; everything: --all"
    info = run(setup, "-o", "table", "playback", "info", str(setup["short"])).stdout
    created = playbacks(setup, setup["short"])[0]["create_time"]
    beijing = dt.datetime.fromtimestamp(created, dt.timezone(dt.timedelta(hours=8)))
    shown = dict(line.split(None, 1) for line in info.splitlines()[2:-1])
    assert shown["create_time"].strip() == f"{beijing:%Y-%m-%d %H:%M:%S}"
    assert shown["status"].strip() == "ready (100)"
    assert shown["publish_status"].strip() == "published (1)"
    as_json = rows(run(setup, "playback", "info", str(setup["short"])))
    assert as_json["create_time"] == beijing.isoformat()


def test_replace_says_what_it_did(setup: dict[str, Any]) -> None:
    args = ("playback", "replace", str(setup["long"]), str(setup["short"]), "--yes")
    source = ("--source-session-id", str(setup["sessions"][0]))
    added = run(setup, *args, "--type", "add", *source)
    assert (
        added.exit_code == 0
        and f"added: room {setup['long']} -> room {setup['short']}" in added.stderr
    )
    replaced = run(setup, *args, "--type", "replace", *source, "--target-version", "1")
    assert replaced.exit_code == 0 and "replaced: room" in replaced.stderr


def test_callback_verify(setup: dict[str, Any]) -> None:
    fields = {
        "room_id": "1",
        "video_id": "2",
        "status": "100",
        "qid": "q1",
        "timestamp": str(int(time.time())),
    }
    fields["sign"] = _signing.sign(fields, setup["key"])
    body = "&".join(f"{k}={v}" for k, v in fields.items())
    good = run(setup, "-o", "json", "callback", "verify", input=body)
    assert good.exit_code == 0 and "valid transcode callback (qid q1)" in good.stdout
    as_json = run(setup, "callback", "verify", input=json.dumps(fields))
    assert as_json.exit_code == 0
    bad = run(setup, "callback", "verify", input=body.replace("status=100", "status=30"))
    assert bad.exit_code == 1 and "invalid: callback sign does not match" in bad.stdout
    for result in (good, as_json, bad):
        assert fields["sign"] not in result.output


def test_help_lists_every_command(setup: dict[str, Any]) -> None:
    out = run(setup, "playback", "--help").output
    for command in (
        "list",
        "info",
        "sessions",
        "crops",
        "token",
        "tokens",
        "publish",
        "block",
        "rename",
        "delete",
        "set-main",
        "replace",
        "ppt-urls",
        "ppt-url",
        "player-url",
    ):
        assert f"  {command} " in out, command


@pytest.mark.parametrize(
    ("args", "option", "said"),
    [
        (["--database", "nosuch://x"], "--database", "is not supported"),
        (["--database", "mysql://root:hunter2@db/x"], "--database", "mysql://root:***@db/x"),
        (
            ["--database", "postgresql://nobody:hunter2@127.0.0.1:1/none"],
            "--database",
            "postgresql://nobody:***@127.0.0.1:1/none",
        ),
        (["--lifecycle-delays", "1,2"], "--lifecycle-delays", "three comma-separated"),
    ],
)
def test_serve_refuses_bad_options(
    args: list[str], option: str, said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["emulator", "serve", "--port", str(free_port()), *args])
    assert result.exit_code == 2
    assert option in result.output and said in result.output
    assert "hunter2" not in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_serve_on_a_busy_port_fails_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["emulator", "serve", "--port", str(port)])
    assert result.exit_code == 2
    assert f"127.0.0.1:{port} is already in use" in result.output and "--port" in result.output
    assert "emulator on" not in result.output
    assert list(tmp_path.iterdir()) == []  # no empty SQLite file left behind


def test_a_missing_extra_is_named() -> None:
    with pytest.raises(MissingExtra) as caught:
        require_extra("emulator", "baijiayun demo", "json", "baijiayun_no_such_module")
    assert caught.value.exit_code == 2
    assert caught.value.message == (
        "baijiayun demo needs the 'emulator' extra: pip install 'baijiayun[emulator]'"
    )


def test_global_options_between_a_group_and_its_command(setup: dict[str, Any]) -> None:
    result = run(setup, "playback", "-o", "csv", "info", str(setup["short"]))
    assert result.exit_code == 0, result.output
    assert next(csv.DictReader(io.StringIO(result.stdout)))["name"] == "第1讲"
    wrong = run(setup, "playback", "--partner-key", "not-the-key", "info", str(setup["short"]))
    assert wrong.exit_code == 1 and "1002" in wrong.stderr


def test_a_narrow_table_keeps_ids_and_status_whole(setup: dict[str, Any]) -> None:
    setup["emu"].create_crop(setup["short"], name="第1讲 " + "很长的名字" * 20)
    result = run(
        setup,
        "-o",
        "table",
        "playback",
        "list",
        "--crops",
        "--room-id",
        str(setup["short"]),
        env={"COLUMNS": "80"},
    )
    assert result.exit_code == 0, result.output
    header, _, *lines = result.stdout.splitlines()[:5]
    assert header.split()[:4] == ["room_id", "session", "version", "name"]
    assert "status" in header and "plays" not in header  # an optional column left out, whole
    for line, version in zip(lines, ("2", "1", "0"), strict=True):
        assert len(line) <= 80
        room, session, shown_version = line.split()[:3]
        assert (room, session, shown_version) == (str(setup["short"]), "0", version)
        assert "ready (100)" in line


def test_fit_columns_at_a_fixed_width() -> None:
    from baijiayun.cli.output import fit_columns

    widths = {
        "room_id": 14,
        "session_id": 9,
        "version": 7,
        "name": 40,
        "status": 11,
        "play_times": 5,
    }
    fields = list(widths)
    assert fit_columns(fields, widths, 200) == widths  # room enough: nothing changes
    narrow = fit_columns(fields, widths, 60)
    assert narrow["name"] < 40 and "play_times" in narrow  # the name gives way first
    assert sum(narrow.values()) + len(narrow) - 1 == 60
    narrower = fit_columns(fields, widths, 56)
    assert "play_times" not in narrower and narrower["name"] == 11  # then an optional column goes
    tiny = fit_columns(fields, widths, 20)  # key columns stay whole even when they cannot fit
    assert tiny == {"room_id": 14, "session_id": 9, "version": 7, "status": 11}


def test_callback_verify_refuses_a_body_that_is_not_utf8(
    setup: dict[str, Any], tmp_path: Path
) -> None:
    piped = CliRunner().invoke(
        cli, ["callback", "verify"], input=b"a=\xff\xfe", env=setup["env"], catch_exceptions=False
    )
    assert piped.exit_code == 2
    assert "Invalid value for 'SOURCE'" in piped.stderr and "0xff" in piped.stderr
    (tmp_path / "r.bin").write_bytes(b"qid=1&\x80\x81")
    from_file = run(setup, "callback", "verify", str(tmp_path / "r.bin"))
    assert from_file.exit_code == 2 and "not UTF-8" in from_file.stderr


def test_seed_help_says_other_data_stays() -> None:
    shown = CliRunner().invoke(cli, ["emulator", "serve", "--help"], env={"COLUMNS": "200"})
    assert "into an empty database" not in shown.output
    assert "other data stays" in shown.output


# --- defect 7: what a new user hit ---------------------------------------------------------------

LONG = "很长的名字" * 20


@pytest.mark.parametrize(
    ("args", "header", "cell"),
    [
        (["playback", "crops"], "main", "yes"),
        (["playback", "list", "--crops", "--room-id"], "publish", "published (1)"),
        (["playback", "ppt-urls"], "name", f"第1讲 课件 {LONG}.pdf"),
    ],
)
def test_at_80_columns_a_listing_keeps_its_key_column(
    setup: dict[str, Any], args: list[str], header: str, cell: str
) -> None:
    emu, room = setup["emu"], setup["short"]
    emu.create_crop(room, name=f"第1讲 {LONG}")
    emu.add_ppt(room, name=f"第1讲 课件 {LONG}.pdf", date="2026-11-26")
    result = run(setup, "-o", "table", *args, str(room), env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    head, _, *lines = result.stdout.splitlines()
    assert header in head.split()
    assert any(cell in line for line in lines)


def test_the_timeout_help_says_it_is_the_whole_calls_deadline() -> None:
    shown = CliRunner().invoke(cli, ["playback", "info", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    text = " ".join(shown.output.split())
    assert (
        "--timeout FLOAT RANGE Deadline of each API call in seconds, its retries included [10]."
        in text
    )
    assert "per request" not in text


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    import click

    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        if (*path, name) == ("mirror",):
            continue  # its helps are the mirror's own
        command = group.get_command(ctx, name)
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def test_every_help_has_an_example() -> None:
    found = list(_commands(cli))
    assert ("playback", "bulk", "rename") in found and ("emulator", "serve") in found
    for path in [(), *found]:
        shown = CliRunner().invoke(
            cli, [*path, "--help"], env={"COLUMNS": "200"}, prog_name="baijiayun"
        )
        assert shown.exit_code == 0, path
        example = shown.output.partition("Example")[2]
        assert example.lstrip("s").startswith(("s:", ":", ", ")), (path, shown.output)
        assert "baijiayun " + " ".join(path) in example, path


def test_bulk_rename_help_is_its_own() -> None:
    shown = CliRunner().invoke(cli, ["playback", "bulk", "rename", "--help"], prog_name="baijiayun")
    assert shown.exit_code == 0
    assert shown.output.startswith("Usage: baijiayun playback bulk rename [OPTIONS]\n")
    assert "更新回放名称: rename each row's playback." in shown.output
    assert "Columns: room_id, name; optional session_id" in shown.output
    assert "$ baijiayun playback bulk rename --from renames.csv" in shown.output
    delete = CliRunner().invoke(cli, ["playback", "bulk", "delete", "--help"])
    assert "Columns: room_id; optional session_id, version" in delete.output
    assert "It asks first (or takes --yes)." in delete.output


def test_the_cli_names_the_bulk_ops_of_the_sdk() -> None:
    from baijiayun.bulk import OPS
    from baijiayun.cli.bulk import BULK_OPS

    assert list(BULK_OPS) == list(OPS)


def test_emulator_serve_takes_rate_limit_off(tmp_path: Path) -> None:
    with socket.socket() as busy:  # a taken port: serve stops there, after reading its options
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        args = ["emulator", "serve", "--port", port, "--database", f"sqlite:///{tmp_path}/e.db"]
        result = CliRunner().invoke(cli, [*args, "--rate-limit", "off"])
        assert result.exit_code == 2
        assert f"127.0.0.1:{port} is already in use" in result.stderr
        wrong = CliRunner().invoke(cli, [*args, "--rate-limit", "lots"])
        assert wrong.exit_code == 2
        assert "'lots' is not a number of calls or 'off'" in wrong.stderr


@pytest.mark.parametrize(
    ("args", "command", "hint"),
    [
        (
            ["--rate-limit", "off", "emulator", "serve"],
            "baijiayun emulator serve",
            "; the emulator's own limit goes after it: 'emulator serve --rate-limit CALLS|off'",
        ),
        (["callback", "verify", "--timeout", "3"], "baijiayun callback verify", ""),
        (["--rate-limit", "5/1", "demo", "--no-wait"], "baijiayun demo", ""),
    ],
)
def test_client_options_for_a_command_that_calls_no_api_are_refused(
    args: list[str], command: str, hint: str
) -> None:
    with socket.socket() as busy:  # were the option ignored, serve would stop here, not serve
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        if args[-1] == "serve":
            args = [*args, "--port", port]
        result = CliRunner().invoke(cli, args, input="", prog_name="baijiayun")
    assert result.exit_code == 2
    option = next(a for a in args if a in ("--rate-limit", "--timeout"))
    assert f"Error: {option} configures the API client, and '{command}' makes no API call" in (
        result.stderr
    )
    assert result.stderr.rstrip().endswith("makes no API call" + hint)


def test_rate_limit_off_still_works_for_an_api_command(setup: dict[str, Any]) -> None:
    result = run(setup, "--rate-limit", "off", "playback", "info", str(setup["short"]))
    assert result.exit_code == 0 and json.loads(result.stdout)["status"] == 100


def _interrupt_after(seconds: float) -> threading.Timer:
    """Press Ctrl-C (SIGINT to this process, raised in the main thread) after ``seconds``."""
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_ctrl_c_exits_130(setup: dict[str, Any]) -> None:
    setup["emu"].inject_fault("getBasicInfo", "latency", 3)
    timer = _interrupt_after(0.5)
    result = CliRunner().invoke(cli, ["playback", "info", str(setup["short"])], env=setup["env"])
    timer.join()
    assert result.exit_code == 130
    assert result.stderr.strip() == "Interrupted."
    assert "Aborted!" not in result.stderr


_LOADED = """
import sys
from baijiayun.cli.main import cli
try:
    cli(sys.argv[1:], prog_name="baijiayun")
except SystemExit:
    pass
print(" ".join(sorted(m for m in sys.modules if m.startswith(("baijiayun", "httpx", "pydantic")))))
"""


@pytest.mark.parametrize(
    ("args", "loaded"),
    [
        (["--help"], set()),
        (["playback", "--help"], {"baijiayun.cli.playback"}),
        (
            ["playback", "bulk", "rename", "--help"],
            {"baijiayun.cli.playback", "baijiayun.cli.bulk"},
        ),
        (["emulator", "--help"], {"baijiayun.cli.emulator"}),
    ],
)
def test_a_group_is_imported_only_when_invoked(args: list[str], loaded: set[str]) -> None:
    import subprocess
    import sys

    from baijiayun.cli.main import COMMANDS

    shown = subprocess.run(
        [sys.executable, "-c", _LOADED, *args], capture_output=True, text=True, check=True
    )
    modules = set(shown.stdout.split())
    groups = {f"baijiayun.cli.{name}" for name in COMMANDS} | {"baijiayun.cli.bulk"}
    assert modules & groups == loaded
    assert not {m for m in modules if m.startswith(("httpx", "pydantic"))}


def test_each_lazy_group_loads_under_its_name() -> None:
    from baijiayun.cli.main import COMMANDS

    for name, lazy in COMMANDS.items():
        assert lazy.load().name == name
