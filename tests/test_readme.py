"""Every code example of the README's tour runs, and so do the examples it handed to the docs pages
with their exact checks: the CLI page's command lines and profile (docs/cli.md) and the emulator
page's pytest example (docs/emulator.md). The docs pages' other examples run in test_docs.py."""

from __future__ import annotations

import csv
import json
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

from baijiayun import BaiJiaYunClient
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.seed import DEMO_ACCOUNTS
from baijiayun.emulator.server import BackgroundServer, free_port

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent


def blocks(language: str, text: str = README) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def page(name: str) -> str:
    return (ROOT / "docs" / name).read_text(encoding="utf-8")


@pytest.fixture
def demo_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    with Emulator(database_url, EmulatorConfig(rate_limit=None)) as emulator:
        emulator.reset()
        emulator.seed_demo()
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


RUNNERS = {
    "python": "test_python_examples_run",
    "bash": "test_readme_cli_lines_run, test_emulator_serve_examples_start",
    "sh": "test_setup_commands_are_the_makefile_targets_ci_runs",
}


def test_every_code_block_is_run_by_a_test() -> None:
    fences = re.findall(r"^```(.*)$", README, flags=re.M)
    openings = fences[::2]
    assert all(fence == "" for fence in fences[1::2]), "a code block is not closed"
    unchecked = [language for language in openings if language not in RUNNERS]
    assert unchecked == [], f"no test runs these README blocks: {unchecked}"


def test_profile_example_is_a_valid_profile(tmp_path: Path) -> None:
    from baijiayun.cli.config import load_profile

    (example,) = blocks("toml", page("cli.md"))
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

    def planned(target: str) -> str:
        # -B plans every step as on a fresh clone, where .venv does not exist yet
        outer = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")  # when the suite itself runs under make
        env = {k: v for k, v in os.environ.items() if k not in outer}
        return subprocess.run(
            ["make", "-n", "-B", target],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    demo, test = planned("demo"), planned("test")
    for plan in (demo, test):
        assert "-m venv .venv" in plan and "pip install --quiet -e '.[dev]'" in plan
    assert demo.splitlines()[-1] == ".venv/bin/baijiayun demo"
    for step in ("ruff check", "ruff format --check", "mypy --strict src", ".venv/bin/pytest"):
        assert step in test, step
    assert "make test" in (root / ".ci/run").read_text(encoding="utf-8")


@pytest.mark.usefixtures("demo_env")
def test_python_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    # the errors of the SDK guide ("invalid argument 'page_size'", "1 回放版本不存在: …") and the
    # emulator page's play records ("2026-11-20 20:00:00 王芳 1500") are checked in test_docs.py
    for index, code in enumerate(blocks("python")):
        exec(compile(code, f"README.md python block {index + 1}", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "100 高等数学 第1讲 6060",  # the demo data set is deterministic
        "['26010100000001', '26010100000021-202601211']",
        "3001 room id does not exist (房间号不存在)",
    ]


def _run_line(line: str, env: dict[str, str], folder: Path) -> None:
    """Run one README shell line in-process: ``echo … |`` feeds stdin, ``> FILE`` takes stdout."""
    from click.testing import CliRunner

    from baijiayun.cli.main import cli

    given: str | None = None
    if "|" in line:
        feed, line = (part.strip() for part in line.split("|", 1))
        given = " ".join(shlex.split(feed)[1:]) + "\n"
    target = None
    if ">" in line:
        line, target = (part.strip() for part in line.split(">", 1))
    args = shlex.split(line)
    assert args[0] == "baijiayun", line
    result = CliRunner().invoke(cli, args[1:], env=env, input=given, catch_exceptions=False)
    assert result.exit_code == 0, (line, result.output)
    if target is not None:
        (folder / target).write_text(result.stdout, encoding="utf-8")


def test_readme_cli_lines_run(demo_env: Any, tmp_path: Path) -> None:
    _, env = demo_env
    lines = [line.split("  #")[0] for line in blocks("bash")[0].splitlines() if line.strip()]
    for line in lines:
        _run_line(line, env, tmp_path)
    admin = f"{env['BAIJIAYUN_BASE_URL']}/_emulator/rooms"
    assert {r["name"] for r in httpx.get(f"{admin}/26010100000003/playbacks").json()["result"]} == {
        "Python 编程 第3讲（重录）"
    }


def test_cli_page_examples_run(demo_env: Any, tmp_path: Path) -> None:
    _, env = demo_env
    commands = blocks("bash", page("cli.md"))[0]
    lines = [line.split("  #")[0] for line in commands.splitlines() if line.strip()]
    for line in lines:
        _run_line(line, env, tmp_path)
    admin = f"{env['BAIJIAYUN_BASE_URL']}/_emulator/rooms"
    rows = httpx.get(f"{admin}/26010100000001/playbacks?include_deleted=1").json()["result"]
    assert [(r["version"], r["deleted"]) for r in rows] == [(0, False), (1, True)]
    assert {r["name"] for r in httpx.get(f"{admin}/26010100000003/playbacks").json()["result"]} == {
        "Python 编程 第3讲（重录）"
    }
    with (tmp_path / "playbacks.csv").open(encoding="utf-8") as file:
        listed = list(csv.DictReader(file))
    assert len({(r["room_id"], r["session_id"]) for r in listed}) == 500  # all the account's


def test_the_installed_command_runs_a_readme_line(demo_env: Any) -> None:
    _, env = demo_env
    (line,) = [line for line in blocks("bash")[0].splitlines() if "|" in line]
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", line],
        env={**os.environ, **env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    tokens = json.loads(result.stdout)
    assert [t["id"] for t in tokens] == ["26010100000001", "26010100000021-202601211"]


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
        assert process.stderr is not None
        said = []
        while not said or "emulator on" not in said[-1]:  # it prints this just before serving
            said.append(process.stderr.readline())
            assert said[-1], "".join(said)
        printed = re.search(
            r"BAIJIAYUN_PARTNER_ID=(\d+) BAIJIAYUN_PARTNER_KEY='([^']+)' BAIJIAYUN_BASE_URL=(\S+)",
            "".join(said),
        )
        assert printed is not None, said
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.post(f"{printed[3]}/openapi/playback/getBasicInfo")
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        # the credentials it printed work: the README sends users to them
        with BaiJiaYunClient(int(printed[1]), printed[2], base_url=printed[3]) as client:
            assert client.playback.get_basic_info(26010100000001).name == "高等数学 第1讲"
        if line_number == 0:
            assert (tmp_path / "baijiayun-emulator.sqlite3").exists()
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_pytest_plugin_example_passes(tmp_path: Path) -> None:
    (example,) = [code for code in blocks("python", page("emulator.md")) if "def test_" in code]
    (tmp_path / "test_example.py").write_text(example, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_plugin_loads_nothing_optional_until_a_fixture_is_used() -> None:
    # every pytest run imports the plugin: with an SDK-only install these are not there
    optional = [
        "baijiayun.emulator",
        "baijiayun.cli",
        "sqlalchemy",
        "starlette",
        "uvicorn",
        "anyio",
    ]
    probe = (
        "import sys, baijiayun.testing\n"
        f"for name in {optional!r}:\n"
        "    if any(m == name or m.startswith(name + '.') for m in sys.modules):\n"
        "        print(name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == []


def test_readme_links_to_the_docs_pages() -> None:
    targets = re.findall(r"\]\(([^)]+)\)", README)
    assert all(not t.startswith(("/", "http://", "https://")) for t in targets), targets
    missing = [t for t in targets if not (ROOT / t.split("#")[0]).exists()]
    assert missing == [], missing
    linked = {t.split("#")[0] for t in targets}
    pages = {f"docs/{p}.md" for p in ("index", "sdk", "cli", "emulator", "mirror", "bulk", "views")}
    assert pages | {"docs/protocol.md", "docs/openapi.md", "docs/layout.md"} <= linked
