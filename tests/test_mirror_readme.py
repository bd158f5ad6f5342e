"""The catalog mirror page's examples (docs/mirror.md) run for real: Python, every CLI line (``watch``
and ``serve-callbacks`` as served processes), FastAPI mounting, the SQL query."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from baijiayun.cli.mirror import mirror as mirror_group
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.seed import DEMO_ACCOUNTS
from baijiayun.emulator.server import free_port
from baijiayun.mirror import make_engine

PAGE = (Path(__file__).parent.parent / "docs" / "mirror.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.server


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE, flags=re.S)


@pytest.fixture
def bjy_emulator() -> Iterator[Emulator]:
    with Emulator("sqlite://", EmulatorConfig(rate_limit=None)) as emulator:
        emulator.reset()
        emulator.seed_demo()
        yield emulator


@pytest.fixture
def demo_env(bjy_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "BAIJIAYUN_PARTNER_ID": str(DEMO_ACCOUNTS[0]["partner_id"]),
        "BAIJIAYUN_PARTNER_KEY": DEMO_ACCOUNTS[0]["partner_key"],
        "BAIJIAYUN_BASE_URL": bjy_server.base_url,
        "BAIJIAYUN_CONFIG": "/nonexistent/config.toml",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return env


def _command(line: str) -> list[str]:
    """``baijiayun mirror …`` as the installed CLI runs it (or the group alone, if unregistered)."""
    args = shlex.split(line)
    assert args[:2] == ["baijiayun", "mirror"]
    registered = subprocess.run(
        [str(BIN / "baijiayun"), "mirror", "--help"], capture_output=True
    ).returncode
    if registered == 0:
        return [str(BIN / "baijiayun"), *args[1:]]
    return [sys.executable, "-m", "baijiayun.cli.mirror", *args[2:]]


def test_mirror_page_examples_run(
    demo_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, mounted, hook = blocks("python")
    exec(compile(first, "docs/mirror.md python block 1", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "playbacks mirrored with" in out and "incremental run: 1 call(s), 0 new" in out
    exec(compile(hook, "docs/mirror.md python block 3", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out == "高等数学 第1讲（修订）\n"

    (query,) = blocks("sql")
    engine = make_engine("sqlite:///baijiayun-mirror.db")
    with engine.connect() as conn:
        rows = conn.execute(text(query)).all()
    engine.dispose()
    assert 0 < len(rows) <= 10 and all(len(row) == 5 for row in rows)

    scope: dict[str, Any] = {"__name__": "readme"}
    exec(compile(mounted, "docs/mirror.md python block 2", "exec"), scope)

    async def post_forged() -> httpx.Response:
        transport = httpx.ASGITransport(app=scope["app"])
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as web:
            return await web.post(
                "/bjy/callback/", data={"qid": "x", "timestamp": "1", "sign": "0"}
            )

    refused = anyio.run(post_forged)
    assert refused.status_code == 400 and refused.json()["code"] == 1

    env = {**os.environ, **demo_env}
    lines = blocks("bash")[0].splitlines()
    for line in lines[:4]:  # in-process: the same group the installed CLI runs
        done = CliRunner().invoke(mirror_group, shlex.split(line)[2:])
        assert done.exit_code == 0, (line, done.output)

    watch = subprocess.Popen(
        _command(lines[4]), env=env, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    assert watch.stderr is not None
    assert "run" in watch.stderr.readline()  # the first run's summary line
    watch.send_signal(signal.SIGTERM)
    assert watch.wait(20) == 0

    port = free_port()
    serve = subprocess.Popen(_command(lines[5].replace("8080", str(port))), env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/", data={"sign": "x"})
                break
            except httpx.TransportError:
                assert serve.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        assert answer.status_code == 400
    finally:
        serve.terminate()
        serve.wait(10)
