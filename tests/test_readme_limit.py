"""The README's "Working under the account limit" examples run against the demo emulator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.seed import DEMO_ACCOUNTS, seed_demo
from baijiayun.emulator.server import BackgroundServer

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## Working under the account limit", 1)[1].split("\n## ", 1)[0]


def test_limit_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    examples = re.findall(r"```python limit\n(.*?)```", SECTION, flags=re.S)
    assert len(examples) == 2
    with Emulator("sqlite://", EmulatorConfig()) as emulator:
        emulator.reset()
        seed_demo(emulator.state)
        with BackgroundServer(emulator) as server:
            monkeypatch.setenv("BAIJIAYUN_PARTNER_ID", str(DEMO_ACCOUNTS[0]["partner_id"]))
            monkeypatch.setenv("BAIJIAYUN_PARTNER_KEY", DEMO_ACCOUNTS[0]["partner_key"])
            monkeypatch.setenv("BAIJIAYUN_BASE_URL", server.base_url)
            monkeypatch.setenv("BAIJIAYUN_CACHE_DIR", str(tmp_path / "cache"))
            for index, code in enumerate(examples):
                exec(compile(code, f"README limit block {index + 1}", "exec"), {})
        names = {r["name"] for r in emulator.state.playback_rows(26010100000002)}
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "1 True",
        "dry run: 2 to send, 0 already done or duplicate, of 2 rows",
        "2 done, 0 skipped, 0 failed",
        "0 done, 2 skipped, 0 failed",
    ]
    assert names == {"高等数学 第2讲（修订）"}
    assert (tmp_path / "cache" / "ratelimit.sqlite3").exists()
