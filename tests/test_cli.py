"""The CLI against a real emulator server: every command, output formats, safety and exit codes."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from baijiayun import _signing
from baijiayun.cli.main import cli
from baijiayun.emulator import Emulator
from baijiayun.emulator.server import BackgroundServer, free_port


@pytest.fixture
def setup(
    bjy_emulator: Emulator, bjy_account: dict[str, Any], bjy_server: BackgroundServer
) -> dict[str, Any]:
    emu, pid = bjy_emulator, bjy_account["partner_id"]
    short = emu.create_room(pid, title="第1讲")["room_id"]
    emu.create_recording(short, status=100)
    emu.create_crop(short)
    long = emu.create_room(pid, long_term=True)["room_id"]
    sessions = [emu.create_recording(long, status=100)["session_id"] for _ in range(2)]
    emu.add_ppt(short, name="s.pdf", date="2026-11-25")
    env = {
        "BAIJIAYUN_PARTNER_ID": str(pid),
        "BAIJIAYUN_PARTNER_KEY": bjy_account["partner_key"],
        "BAIJIAYUN_BASE_URL": bjy_server.base_url,
        "BAIJIAYUN_CONFIG": "/nonexistent/config.toml",
    }
    return {
        "short": short,
        "long": long,
        "sessions": sessions,
        "env": env,
        "emu": emu,
        "key": bjy_account["partner_key"],
    }


def run(
    setup: dict[str, Any], *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> Result:
    runner = CliRunner()
    return runner.invoke(
        cli, list(args), env={**setup["env"], **(env or {})}, input=input, catch_exceptions=False
    )


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
        assert "is_main" in out and "第1讲" in out and "┃" in out


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
    short, emu = setup["short"], setup["emu"]
    assert run(setup, "playback", "block", str(short), "--yes").exit_code == 0
    assert {r["publish_status"] for r in emu.state.playback_rows(short)} == {2}
    assert rows(run(setup, "playback", "publish", str(short))) == {"status": 1}
    assert run(setup, "playback", "rename", str(short), "新 名字").exit_code == 0
    assert {r["name"] for r in emu.state.playback_rows(short)} == {"新 名字"}
    assert run(setup, "playback", "set-main", str(short), "1").exit_code == 0
    assert [r["version"] for r in emu.state.playback_rows(short) if r["is_main"]] == [1]


def test_delete_asks_for_confirmation(setup: dict[str, Any]) -> None:
    short, emu = setup["short"], setup["emu"]
    refused = run(setup, "playback", "delete", str(short), "--version", "1", input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert len(emu.state.playback_rows(short)) == 2
    accepted = run(setup, "playback", "delete", str(short), "--version", "1", input="y\n")
    assert accepted.exit_code == 0
    assert [r["version"] for r in emu.state.playback_rows(short)] == [0]
    assert run(setup, "playback", "delete", str(short), "-y").exit_code == 0
    assert emu.state.playback_rows(short) == []


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
    assert [r["version"] for r in setup["emu"].state.playback_rows(short) if r["is_main"]] == [2]
    assert [
        p["name"]
        for p in rows(run(setup, "playback", "ppt-urls", str(short), "--date", "2026-11-25"))
    ] == ["s.pdf"]
    assert [p["name"] for p in rows(run(setup, "playback", "ppt-url", str(short)))] == ["s.pdf"]


def test_player_url_works(setup: dict[str, Any]) -> None:
    import httpx

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
    short, emu = setup["short"], setup["emu"]
    result = run(setup, "--dry-run", "playback", "delete", str(short))
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert shown["url"].endswith("/openapi/playback/delete")
    assert shown["form"] == {
        "room_id": str(short),
        "partner_id": setup["env"]["BAIJIAYUN_PARTNER_ID"],
        "timestamp": "<now>",
        "sign": "***",
    }
    assert setup["key"] not in result.output
    assert len(emu.state.playback_rows(short)) == 2
    batch = run(setup, "--dry-run", "playback", "tokens", *[str(10**13 + i) for i in range(150)])
    assert [
        len(json.loads(line)["form"]["room_ids"].split(",")) for line in batch.stdout.splitlines()
    ] == [100, 50]


def test_api_error_exit_1(setup: dict[str, Any]) -> None:
    result = run(setup, "playback", "info", "99999999999999")
    assert result.exit_code == 1
    assert (
        "getBasicInfo" in result.stderr
        and "3001" in result.stderr
        and "room id does not exist" in result.stderr
    )


def test_bad_usage_exit_2_names_the_option(setup: dict[str, Any]) -> None:
    result = run(setup, "playback", "list", "--page-size", "5000")
    assert result.exit_code == 2 and "--page-size" in result.stderr
    result = run(setup, "playback", "tokens", "1,abc")
    assert result.exit_code == 2 and "--room-ids" in result.stderr
    missing = run(setup, "playback", "info", "1", env={"BAIJIAYUN_PARTNER_KEY": ""})
    assert missing.exit_code == 2 and "--partner-key" in missing.stderr


def test_unreachable_exit_3(setup: dict[str, Any]) -> None:
    result = run(
        setup,
        "--max-retries",
        "0",
        "playback",
        "info",
        "1",
        env={"BAIJIAYUN_BASE_URL": f"http://127.0.0.1:{free_port()}"},
    )
    assert result.exit_code == 3 and "cannot reach" in result.stderr


def test_secrets_never_echoed(setup: dict[str, Any]) -> None:
    for args in (("playback", "info", "99999999999999"), ("--help",), ("playback", "list")):
        assert setup["key"] not in run(setup, *args).output


def test_profiles(setup: dict[str, Any], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    env = setup["env"]
    config.write_text(
        f'[profiles.emu]\npartner_id = {env["BAIJIAYUN_PARTNER_ID"]}\npartner_key = "{setup["key"]}"\n'
        f'base_url = "{env["BAIJIAYUN_BASE_URL"]}"\n'
    )
    bare = {
        "BAIJIAYUN_PARTNER_ID": "",
        "BAIJIAYUN_PARTNER_KEY": "",
        "BAIJIAYUN_BASE_URL": "",
        "BAIJIAYUN_CONFIG": str(config),
    }
    assert (
        rows(run(setup, "--profile", "emu", "playback", "info", str(setup["short"]), env=bare))[
            "status"
        ]
        == 100
    )
    unknown = run(setup, "--profile", "nope", "playback", "info", "1", env=bare)
    assert unknown.exit_code == 2 and "nope" in unknown.stderr and "emu" in unknown.stderr


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
    ("args", "option"),
    [
        (["--database", "nosuch://x"], "--database"),
        (["--database", "postgresql://nobody@127.0.0.1:1/none"], "--database"),
        (["--lifecycle-delays", "1,2"], "--lifecycle-delays"),
    ],
)
def test_serve_refuses_bad_options(args: list[str], option: str) -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--port", str(free_port()), *args])
    assert result.exit_code == 2
    assert option in result.output
