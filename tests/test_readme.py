"""Every code example of the README runs: Python blocks, CLI lines, the emulator command, the plugin."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.seed import DEMO_ACCOUNTS, seed_demo
from baijiayun.emulator.server import BackgroundServer, free_port

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


@pytest.fixture
def demo_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    with Emulator(database_url, EmulatorConfig(rate_limit=None)) as emulator:
        emulator.reset()
        seed_demo(emulator.state)
        with BackgroundServer(emulator) as server:
            env = {
                "BAIJIAYUN_PARTNER_ID": str(DEMO_ACCOUNTS[0]["partner_id"]),
                "BAIJIAYUN_PARTNER_KEY": DEMO_ACCOUNTS[0]["partner_key"],
                "BAIJIAYUN_BASE_URL": server.base_url,
                "BAIJIAYUN_CONFIG": "/nonexistent/config.toml",
            }
            for key, value in env.items():
                monkeypatch.setenv(key, value)
            yield emulator, env


def test_readme_has_the_expected_examples() -> None:
    assert len(blocks("python")) == 7  # 2 in "Working under the account limit"
    assert blocks("sh") == [
        "make demo   # installs into .venv, starts the emulator with demo data, walks through all "
        "13 operations\nmake test   # installs into .venv, runs ruff, mypy --strict and the whole "
        "test suite\n"
    ]
    assert len(blocks("bash")) == 2


def test_profile_example_is_a_valid_profile(tmp_path: Path) -> None:
    from baijiayun.cli.config import load_profile

    (example,) = blocks("toml")
    config = tmp_path / "config.toml"
    config.write_text(example, encoding="utf-8")
    assert load_profile("prod", config) == {
        "partner_id": 12345678,
        "partner_key": "…",
        "private_domain": "e12345678",
    }


def test_setup_commands_are_the_makefile_targets_ci_runs() -> None:
    root = Path(__file__).parent.parent
    (setup,) = blocks("sh")
    assert [line.split("#")[0].strip() for line in setup.splitlines()] == ["make demo", "make test"]
    for target in ("demo", "test"):
        dry = subprocess.run(
            ["make", "-n", target], cwd=root, capture_output=True, text=True, check=True
        )
        assert "pip install" in dry.stdout or (root / ".venv/bin/baijiayun").exists()
    assert "make test" in (root / ".ci/run").read_text()


@pytest.mark.usefixtures("demo_env")
def test_python_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    for index, code in enumerate(blocks("python")[:4]):
        exec(compile(code, f"README.md python block {index + 1}", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "100 高等数学 第1讲 6060" in out  # the demo data set is deterministic
    assert "3001 room id does not exist" in out
    assert "invalid argument 'page_size'" in out
    assert "1 回放版本不存在: version 7 not found" in out


def test_cli_examples_run(demo_env: Any) -> None:
    emulator, env = demo_env
    lines = [line for line in blocks("bash")[0].splitlines() if line.strip()]
    assert len(lines) == 17
    full_env = {**os.environ, **env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for line in lines:
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", line],
            env=full_env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).parent.parent if "csv" not in line else "/tmp",
        )
        assert result.returncode == 0, (line, result.stderr)
    rows = emulator.state.playback_rows(26010100000001, include_deleted=True)
    assert [(r["version"], r["deleted"]) for r in rows] == [(0, False), (1, True)]
    assert {r["name"] for r in emulator.state.playback_rows(26010100000003)} == {
        "Python 编程 第3讲（重录）"
    }


@pytest.mark.parametrize("line_number", [0, 1], ids=["sqlite-file", "postgresql"])
def test_emulator_serve_examples_start(
    tmp_path: Path, line_number: int, request: pytest.FixtureRequest
) -> None:
    line = blocks("bash")[1].splitlines()[line_number].split("#")[0]
    if "postgresql://" in line:
        line = re.sub(r"postgresql://\S+", request.getfixturevalue("postgres_url"), line)
    port = free_port()
    args = shlex.split(line.replace("--port 8000", f"--port {port}"))
    assert args[:3] == ["baijiayun", "emulator", "serve"]
    process = subprocess.Popen(
        [str(BIN / "baijiayun"), *args[1:], "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/openapi/playback/getBasicInfo").json()
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert answer["code"] == 1001
        demo = DEMO_ACCOUNTS[0]
        listing = httpx.post(
            f"http://127.0.0.1:{port}/_emulator/accounts/{demo['partner_id']}".replace(
                "/accounts/", "/accounts/"
            )
        )
        assert listing.status_code == 405 or listing.json()
        info = httpx.get(f"http://127.0.0.1:{port}/_emulator/accounts/{demo['partner_id']}").json()[
            "result"
        ]
        assert info["partner_key"] == demo["partner_key"]
        if line_number == 0:
            assert (tmp_path / "baijiayun-emulator.sqlite3").exists()
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert f"BAIJIAYUN_PARTNER_ID={demo['partner_id']}" in err


def test_pytest_plugin_example_passes(tmp_path: Path) -> None:
    (tmp_path / "test_example.py").write_text(blocks("python")[4], encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
