"""The account-limit examples run against the demo emulator: the token cache of the SDK guide
(docs/sdk.md), the bulk page's Python and CLI lines (docs/bulk.md) and the CLI page's budget line
(docs/cli.md), with their exact output, calls and files."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from baijiayun.cli.main import cli
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.seed import DEMO_ACCOUNTS
from baijiayun.emulator.server import BackgroundServer

DOCS = Path(__file__).parent.parent / "docs"


def blocks(page: str, language: str) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


PID = int(DEMO_ACCOUNTS[0]["partner_id"])


def test_limit_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tokens,) = [code for code in blocks("sdk.md", "python") if "prefetch_tokens" in code]
    (renames,) = blocks("bulk.md", "python")
    examples = [tokens, renames]
    with Emulator("sqlite://", EmulatorConfig()) as emulator:
        emulator.reset()
        emulator.seed_demo()
        with BackgroundServer(emulator) as server:
            monkeypatch.setenv("BAIJIAYUN_PARTNER_ID", str(PID))
            monkeypatch.setenv("BAIJIAYUN_PARTNER_KEY", DEMO_ACCOUNTS[0]["partner_key"])
            monkeypatch.setenv("BAIJIAYUN_BASE_URL", server.base_url)
            monkeypatch.setenv("BAIJIAYUN_CACHE_DIR", str(tmp_path / "cache"))
            for index, code in enumerate(examples):
                exec(compile(code, f"account-limit block {index + 1}", "exec"), {})
        names = {r["name"] for r in emulator.playback_rows(26010100000002)}
        token_calls = emulator.calls(PID, "getPlayerToken")
        batch_calls = emulator.calls(PID, "getPlayerTokenBatch")
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "2",
        "True",
        "dry run: 2 to send, 0 already done or duplicate, of 2 rows",
        "2 done, 0 skipped, 0 failed",
        "dry run: 2 to send, 0 already done or duplicate, of 2 rows",  # that job was finished
    ]
    assert (token_calls, batch_calls) == (0, 1)
    assert names == {"高等数学 第2讲（修订）"}
    assert (tmp_path / "cache" / "ratelimit.sqlite3").exists()


def test_limit_cli_lines_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (bulk_lines,) = blocks("bulk.md", "bash")
    (budget_line,) = [b for b in blocks("cli.md", "bash") if "--rate-limit" in b]
    block = bulk_lines + budget_line
    lines = [shlex.split(line) for line in block.splitlines() if line.strip()]
    assert len(lines) == 4
    assert all(args[0] == "baijiayun" for args in lines)
    monkeypatch.chdir(tmp_path)
    Path("renames.csv").write_text(
        "room_id,name\n26010100000001,第1讲\n26010100000002,第2讲\n", encoding="utf-8"
    )
    with Emulator("sqlite://", EmulatorConfig()) as emulator:
        emulator.reset()
        emulator.seed_demo()
        with BackgroundServer(emulator) as server:
            env = {
                "BAIJIAYUN_PARTNER_ID": str(PID),
                "BAIJIAYUN_PARTNER_KEY": DEMO_ACCOUNTS[0]["partner_key"],
                "BAIJIAYUN_BASE_URL": server.base_url,
                "BAIJIAYUN_CONFIG": "/nonexistent/config.toml",
                "BAIJIAYUN_CACHE_DIR": str(tmp_path / "cache"),
            }
            results = [CliRunner().invoke(cli, args[1:], env=env) for args in lines]
        assert [r.exit_code for r in results] == [0] * len(lines), [r.output for r in results]
        assert json.loads(results[0].stdout)["to_send"] == 2
        assert results[1].stdout == "2 done, 0 skipped, 0 failed\n"
        # that job was finished: running the file again is a new job
        assert results[2].stdout == "dry run: 2 to send, 0 already done or duplicate, of 2 rows\n"
        listed = list(csv.DictReader(io.StringIO(results[3].stdout)))
        assert len(listed) > 100  # several pages, each a call under the budget
        assert emulator.calls(PID, "getList") == math.ceil(len(listed) / 100)
        assert "26010100000001" in {row["room_id"] for row in listed}
        assert emulator.calls(PID, "update") == 2
        assert emulator.calls(PID, outcome="rate_limited") == 0
    assert Path("renames.csv.journal.sqlite3").exists()
    assert (tmp_path / "cache" / "ratelimit.sqlite3").exists()
