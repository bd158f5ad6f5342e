"""Every code example of the documentation site (docs/*.md) runs, and the CLI reference covers every command."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import pytest
from click.testing import CliRunner

from baijiayun.cli.main import cli
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.seed import DEMO_ACCOUNTS
from baijiayun.emulator.server import BackgroundServer
from baijiayun.testing import client_for

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the cli extra brings tomli there
    import tomli as tomllib

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md")) + sorted((DOCS / "reference").glob("*.md"))
FENCE = re.compile(r"^```(?P<language>[^\n]*)\n(?P<code>.*?)^```$", re.M | re.S)

# What a block of each language is checked by; a block in any other language fails the suite.
RUNNERS = {
    "python": "test_python_examples_run",
    "bash": "test_shell_examples_run",
    "sh": "test_setup_commands_are_makefile_targets",
    "toml": "test_toml_examples_are_profiles",
    "sql": "test_python_examples_run (after the page's Python)",
    "json": "test_json_examples_are_envelopes",
    "text": "test_signed_strings_match_their_signs (illustrations otherwise)",
    # the viewing records page: its figures depend on today, checked exactly there
    "python views": "tests/test_views_readme.py",
    "bash views": "tests/test_views_readme.py",
    "python views-report": "tests/test_views_readme.py",
    "bash views-report": "tests/test_views_readme.py",
}

# Commands that serve until stopped: their lines are parsed against the command tree, not run.
SERVERS = (("emulator", "serve"), ("mirror", "watch"), ("mirror", "serve-callbacks"))

# What each page's examples print, at the least (the demo data set is deterministic).
PRINTS = {
    "index.md": ["100 高等数学 第1讲"],
    "sdk.md": [
        "100 高等数学 第1讲 6060",
        "3001 room id does not exist",
        "invalid argument 'page_size': got 5000; expected an integer from 1 to 1000",
        "1 回放版本不存在: version 7 not found",
        "['26010100000001', '26010100000021-202601211']",
        "/delete 26010100000001 ***",
    ],
    "emulator.md": [
        "[(0, 100)]",
        "injected: 3001",
        "2026-11-20 20:00:00 王芳 1500\n2026-11-20 21:30:00 (anonymous) 60",
    ],
    "mirror.md": ["playbacks mirrored with", "incremental run: 1 call(s), 0 new", "（修订）"],
    "bulk.md": ["dry run: 2 to send", "2 done, 0 skipped, 0 failed"],
    "protocol.md": ["all four signs match", "callback verified"],
}


def blocks(page: Path, language: str | None = None) -> list[tuple[str, str]]:
    """(language, code) of each fenced block of ``page``, optionally of one language."""
    found = [
        (m["language"].strip(), m["code"]) for m in FENCE.finditer(page.read_text(encoding="utf-8"))
    ]
    return [b for b in found if language is None or b[0] == language]


def pages_with(language: str) -> list[Path]:
    return [page for page in PAGES if blocks(page, language)]


def _ids(pages: list[Path]) -> list[str]:
    return [str(page.relative_to(DOCS)) for page in pages]


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[Emulator, str]]:
    """One demo emulator on a loopback port for the module; each page starts from fresh data."""
    with (
        Emulator("sqlite://", EmulatorConfig(rate_limit=None)) as emulator,
        BackgroundServer(emulator) as server,
    ):
        yield emulator, server.base_url


@pytest.fixture
def demo_env(
    demo: tuple[Emulator, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    emulator, base_url = demo
    emulator.reset()
    emulator.seed_demo()
    env = {
        "BAIJIAYUN_PARTNER_ID": str(DEMO_ACCOUNTS[0]["partner_id"]),
        "BAIJIAYUN_PARTNER_KEY": DEMO_ACCOUNTS[0]["partner_key"],
        "BAIJIAYUN_BASE_URL": base_url,
        "BAIJIAYUN_CONFIG": "/nonexistent/config.toml",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # files the examples write (a mirror database) land here
    return env


def test_every_code_block_has_a_runner() -> None:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        fences = re.findall(r"^```(.*)$", text, flags=re.M)
        assert all(f == "" for f in fences[1::2]), f"{page.name}: a code block is not closed"
        unchecked = [language for language in fences[::2] if language not in RUNNERS]
        assert unchecked == [], f"{page.name}: no test runs these blocks: {unchecked}"


def _run_test_function(code: str, namespace: dict[str, Any]) -> None:
    """A ``def test_…(bjy_emulator, bjy_account, bjy_client)`` example, run with those objects."""
    (name,) = re.findall(r"^def (test_\w+)", code, flags=re.M)
    with Emulator("sqlite://", EmulatorConfig(rate_limit=None)) as emulator:
        account = emulator.create_account()
        with client_for(emulator, account) as client:
            namespace[name](bjy_emulator=emulator, bjy_account=account, bjy_client=client)


@pytest.mark.parametrize("page", pages_with("python"), ids=_ids(pages_with("python")))
@pytest.mark.usefixtures("demo_env")
def test_python_examples_run(page: Path) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        for index, (_, code) in enumerate(blocks(page, "python")):
            namespace: dict[str, Any] = {"__name__": "docs_example"}
            exec(compile(code, f"{page.name} python block {index + 1}", "exec"), namespace)
            if "def test_" in code:
                _run_test_function(code, namespace)
    printed = out.getvalue()
    for expected in PRINTS.get(page.name, []):
        assert expected in printed, (expected, printed)
    for _, query in blocks(page, "sql"):  # against the database the page's Python made
        with sqlite3.connect("baijiayun-mirror.db") as db:
            rows = db.execute(query).fetchall()
        assert rows and all(len(row) == 5 for row in rows), rows


def test_every_page_with_examples_states_what_they_print() -> None:
    assert {page.name for page in pages_with("python")} == set(PRINTS)


def _parse_only(args: list[str]) -> click.Command:
    """Find a command line's command through the tree and parse its options, without running it."""
    ctx = click.Context(cli, info_name="baijiayun")
    command: click.Command = cli
    rest = list(args)
    while isinstance(command, click.Group):
        sub = command.get_command(ctx, rest[0])
        assert sub is not None, (args, rest[0])
        ctx = click.Context(sub, info_name=rest[0], parent=ctx)
        command, rest = sub, rest[1:]
    command.make_context(ctx.info_name, rest, parent=ctx.parent)  # raises on a bad option
    return command


def _run_line(line: str, env: dict[str, str]) -> None:
    """Run one shell line in-process: ``echo … |`` feeds stdin, ``> FILE`` takes stdout."""
    given: str | None = None
    if "|" in line:
        feed, line = (part.strip() for part in line.split("|", 1))
        given = " ".join(shlex.split(feed)[1:]) + "\n"
    target = None
    if ">" in line:
        line, target = (part.strip() for part in line.split(">", 1))
    args = shlex.split(line)
    assert args[0] == "baijiayun", line
    if any(tuple(args[1:3]) == server for server in SERVERS):
        _parse_only(args[1:])
        return
    result = CliRunner().invoke(cli, args[1:], env=env, input=given, catch_exceptions=False)
    assert result.exit_code == 0, (line, result.output)
    if target is not None:
        Path(target).write_text(result.stdout, encoding="utf-8")


@pytest.mark.parametrize("page", pages_with("bash"), ids=_ids(pages_with("bash")))
def test_shell_examples_run(page: Path, demo_env: dict[str, str]) -> None:
    # the bulk page's lines read the file its text describes: one rename per line
    Path("renames.csv").write_text(
        "room_id,name\n26010100000001,第1讲\n26010100000002,第2讲\n", encoding="utf-8"
    )
    for _, block in blocks(page, "bash"):
        for line in block.splitlines():
            if line.strip():
                _run_line(line.split("  #")[0], demo_env)
    if page.name == "cli.md":
        listed = Path("playbacks.csv").read_text(encoding="utf-8").splitlines()
        assert "room_id" in listed[0].split(",") and len(listed) > 500


def test_a_server_line_with_a_bad_option_is_caught() -> None:
    with pytest.raises(click.UsageError):
        _parse_only(["emulator", "serve", "--port", "8000", "--seed", "nonsense"])
    assert _parse_only(["emulator", "serve", "--port", "8000", "--seed", "demo"]).name == "serve"


def test_setup_commands_are_makefile_targets() -> None:
    commands = [
        line.split("#")[0].strip()
        for page in pages_with("sh")
        for _, block in blocks(page, "sh")
        for line in block.splitlines()
        if line.strip()
    ]
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("demo", "test", "docs", "docs-serve"):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target
    assert "make docs" in (ROOT / ".ci/run").read_text(encoding="utf-8")


def test_toml_examples_are_profiles(tmp_path: Path) -> None:
    from baijiayun.cli.config import load_profile

    for page in pages_with("toml"):
        for _, example in blocks(page, "toml"):
            config = tmp_path / "config.toml"
            config.write_text(example, encoding="utf-8")
            for name in tomllib.loads(example)["profiles"]:
                assert load_profile(name, config)["partner_id"] == 12345678


def test_json_examples_are_envelopes() -> None:
    examples = [code for page in pages_with("json") for _, code in blocks(page, "json")]
    assert examples
    for code in examples:
        envelope = json.loads(code)
        assert list(envelope) == ["code", "msg", "data", "ts"], code
        assert envelope["code"] == 0 and envelope["msg"] == ""


def test_signed_strings_match_their_signs() -> None:
    """A string shown as signed (ending in ``&partner_key=…``) hashes to a sign its page states."""
    checked = 0
    for page in pages_with("text"):
        text = page.read_text(encoding="utf-8")
        for _, code in blocks(page, "text"):
            for line in code.splitlines():
                if "&partner_key=" in line:
                    sign = hashlib.md5(line.encode("utf-8")).hexdigest()
                    assert f"`{sign}`" in text, (page.name, line)
                    checked += 1
    assert checked == 2


def _load_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cli_reference", DOCS / "hooks/cli_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _command_paths(group: click.Group, prefix: str) -> Iterator[str]:
    ctx = click.Context(group, info_name=prefix)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        yield f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from _command_paths(command, f"{prefix} {name}")


def test_cli_reference_documents_every_command() -> None:
    page = (DOCS / "reference/cli.md").read_text(encoding="utf-8")
    rendered = _load_hook().expand(page)
    assert "::: mkdocs-click" not in rendered
    headings = set(re.findall(r"^#+ (.+?)(?: \{.*\})?$", rendered, flags=re.M))
    paths = list(_command_paths(cli, "baijiayun"))
    assert len(paths) > 20  # the playback group alone has more
    missing = [path for path in paths if path not in headings]
    assert missing == [], missing
    assert "--rate-limit" in rendered and "--seed" in rendered


class LazyGroup(click.Group):
    """A group that imports some subcommands only when asked for them, as a lazy CLI does."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), "later"])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "later":
            return click.Command("later", help="Loaded on first use.")
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup)
def lazy_cli() -> None:
    """A CLI with one command loaded eagerly and one lazily."""


@lazy_cli.command()
def eager() -> None:
    """Imported with the group."""


def test_cli_reference_renders_a_lazily_loading_group() -> None:
    assert list(lazy_cli.commands) == ["eager"]  # what a plain reading of .commands would show
    block = f"::: mkdocs-click\n    :module: {__name__}\n    :command: lazy_cli\n    :depth: 1\n"
    rendered = _load_hook().expand(block)
    assert "## lazy-cli eager" in rendered and "## lazy-cli later" in rendered
    assert "Loaded on first use." in rendered
    assert list(lazy_cli.commands) == ["eager"]  # the group itself is left as it was


def test_docs_build_needs_nothing_outside_the_repository() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "font: false" in config
    assert not re.search(r"https?://", config.split("nav:", 1)[1])  # no external asset or script
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    docs = extra["project"]["optional-dependencies"]["docs"]
    assert docs and all("==" in requirement for requirement in docs)  # pinned: no drift
    assert "baijiayun[all,docs]" in extra["project"]["optional-dependencies"]["dev"]


def test_docs_links_are_relative() -> None:
    for page in PAGES:
        for target in re.findall(r"\]\(([^)]+)\)", page.read_text(encoding="utf-8")):
            assert not target.startswith(("/", "http://", "https://")), (page.name, target)
            path = target.split("#")[0]
            if path:
                assert (page.parent / path).exists(), (page.name, target)


def test_the_makefile_builds_strictly() -> None:
    outer = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")  # when the suite itself runs under make
    plan = subprocess.run(
        ["make", "-n", "-B", "docs"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in outer},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "pip install --quiet -e '.[dev]'" in plan  # a fresh clone installs what it needs
    assert plan.splitlines()[-1].endswith("mkdocs build --strict")


def test_cli_reference_shows_real_defaults() -> None:
    rendered = _load_hook().expand((DOCS / "reference/cli.md").read_text(encoding="utf-8"))
    assert "Sentinel" not in rendered and "UNSET" not in rendered
    assert "[default: 127.0.0.1]" in rendered  # emulator serve --host, as --help prints it


def _load_roles() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sphinx_roles", DOCS / "hooks/sphinx_roles.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sphinx_roles_become_cross_references() -> None:
    import griffe

    roles = _load_roles()
    extension = roles.SphinxRoles()
    package = griffe.load(
        "baijiayun",
        search_paths=[str(ROOT / "src")],
        extensions=griffe.load_extensions(extension),
        resolve_aliases=False,
    )
    client = package["client._sync_client.BaiJiaYunClient"]
    assert client.docstring is not None
    docstring = client.docstring.value
    assert ":class:" not in docstring and ":meth:" not in docstring
    assert "[`close`][baijiayun.client._sync_client.BaiJiaYunClient.close]" in docstring
    # only names outside the package are left as plain code
    assert all(target.startswith("httpx.") for _, target in extension.unresolved)


def _github_slug(heading: str) -> str:
    """The anchor a Git host (GitHub's rule) gives a heading."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def test_protocol_anchors_are_the_same_on_the_site_and_on_a_git_host() -> None:
    from markdown.extensions.toc import slugify

    text = (DOCS / "protocol.md").read_text(encoding="utf-8")
    headings = re.findall(r"^#{2,4} (.+)$", text, flags=re.M)
    site = [slugify(h, "-") for h in headings]
    assert site == [_github_slug(h) for h in headings]
    assert len(set(site)) == len(site), "two headings would share an anchor"
    anchors = (DOCS / "protocol-anchors.md").read_text(encoding="utf-8")
    mapped = re.findall(r"protocol\.md#([a-z0-9-]+)", anchors)
    assert {f"§{n}" for n in range(1, 13)} <= set(re.findall(r"§\d+", anchors))
    assert mapped and set(mapped) <= set(site), set(mapped) - set(site)
