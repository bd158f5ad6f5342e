"""The OpenAPI document: generated and fresh, valid, complete, served as-is, printed by the CLI."""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from openapi_spec_validator import validate

from baijiayun import _endpoints as ep
from baijiayun import _signing
from baijiayun.cli.main import cli
from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.app import create_app
from baijiayun.emulator.console import route_pairs
from baijiayun.testing import EmulatorTransport

ROOT = Path(__file__).parent.parent
DOCS_COPY = ROOT / "docs" / "openapi.json"
SHIPPED = importlib.resources.files("baijiayun").joinpath("openapi.json")
DOCUMENT: dict[str, Any] = json.loads(DOCS_COPY.read_text(encoding="utf-8"))
CATCH_ALL = "/{path:path}"


def _load_script() -> Any:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import openapi as script
    finally:
        sys.path.pop(0)
    return script


def test_committed_and_shipped_copies_are_the_generated_bytes() -> None:
    wanted = _load_script().generate()
    assert DOCS_COPY.read_bytes() == wanted
    assert SHIPPED.read_bytes() == wanted


def test_check_flag_fails_on_a_stale_copy(tmp_path: Path) -> None:
    script = _load_script()
    stale = tmp_path / "openapi.json"
    stale.write_bytes(b"{}\n")
    saved = script.TARGETS
    script.TARGETS = [stale]
    try:
        assert script.main(["--check"]) == 1
        assert script.main([]) == 0
        assert script.main(["--check"]) == 0
    finally:
        script.TARGETS = saved
    assert stale.read_bytes() == DOCS_COPY.read_bytes()


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"] == "3.1.0"
    validate(DOCUMENT)


def test_every_declared_endpoint_is_documented_with_its_form() -> None:
    for path, endpoint in ep.ENDPOINTS.items():
        operation = DOCUMENT["paths"][path]["post"]
        assert operation["tags"] == [endpoint.module]
        content = operation["requestBody"]["content"]
        assert set(content) == {"application/x-www-form-urlencoded", "multipart/form-data"}
        name = content["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
        body = DOCUMENT["components"]["schemas"][name]
        declared = {p.name for p in endpoint.params}
        assert set(body["properties"]) == declared | {"partner_id", "timestamp", "sign"} - (
            set() if endpoint.signed else {"sign"}
        )
        required = {p.name for p in endpoint.params if p.required} | {"partner_id", "timestamp"}
        assert set(body["required"]) == required | ({"sign"} if endpoint.signed else set())
        assert operation["security"] == ([{"sign": []}] if endpoint.signed else [])
        assert operation["x-rate-limit"]["limit"] == 200
        assert operation["x-rate-limit"]["period_seconds"] == 10
        assert operation["responses"]["default"] == {"$ref": "#/components/responses/CatchAll"}


def test_parameter_rules_read_as_declared() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    crop = schemas["PlaybackGetCropListRequest"]["properties"]
    assert crop["page_size"]["minimum"] == 1 and crop["page_size"]["maximum"] == 1000
    assert crop["page_size"]["default"] == 100
    assert crop["product_type"]["enum"] == [1, 2, 3, 4]
    assert schemas["PlaybackUpdateRequest"]["properties"]["name"]["maxLength"] == 100
    batch = schemas["PlaybackGetPlayerTokenBatchRequest"]["properties"]["room_ids"]["pattern"]
    ok = ",".join(["9223372036854775807-1"] * 100)
    for value, matches in (
        ("26010100000001", True),
        ("26010100000021-202601211", True),
        (ok, True),
        (ok + ",1", False),  # 101 ids
        ("9223372036854775808", False),  # past signed 64 bits
        ("0", False),
        ("1-0", False),
        ("1,,2", False),
    ):
        assert bool(re.fullmatch(batch.removeprefix("^").removesuffix("$"), value)) is matches
        if matches:
            ep.parse_room_ids(value)
        else:
            with pytest.raises(ValueError):
                ep.parse_room_ids(value)


def test_data_schemas_come_from_the_models_and_keep_extra_fields() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    info = schemas["PlaybackInfo"]
    assert info["additionalProperties"] is True
    assert {"$ref": "#/components/schemas/WireTimeOut"} in info["properties"]["create_time"][
        "anyOf"
    ]
    assert schemas["CropItem"]["properties"]["is_main"]["enum"] == [0, 1]
    envelope = schemas["PlaybackGetBasicInfoEnvelope"]["oneOf"]
    assert envelope[0]["properties"]["data"] == {"$ref": "#/components/schemas/PlaybackInfo"}
    assert envelope[1] == {"$ref": "#/components/schemas/ErrorEnvelope"}
    codes = schemas["ErrorCode"]["enum"]
    assert {1, 404, 429, 1001, 1002, 2001, 3001, 3002} <= set(codes) and 0 not in codes


def test_sign_scheme_example_is_the_sdk_sign() -> None:
    scheme = DOCUMENT["components"]["securitySchemes"]["sign"]
    example = scheme["x-signing"]["example"]
    canonical = _signing.canonical_string(example["params"], example["partner_key"])
    assert canonical == example["signed_string"]
    assert hashlib.md5(canonical.encode()).hexdigest() == example["sign"]
    assert _signing.sign(example["params"], example["partner_key"]) == example["sign"]
    assert example["sign"] in scheme["description"]


def test_transcode_callback_is_a_webhook_and_getlist_links_its_ids() -> None:
    hook = DOCUMENT["webhooks"]["transcodeCallback"]["post"]
    assert "application/x-www-form-urlencoded" in hook["requestBody"]["content"]
    links = DOCUMENT["paths"][ep.GET_LIST.path]["post"]["responses"]["200"]["links"]
    assert set(links) == {"getBasicInfo", "getCropList", "update", "delete"}
    assert links["delete"]["requestBody"]["version"] == "$response.body#/data/list/0/version"


def test_every_operation_is_tagged() -> None:
    tags = {t["name"] for t in DOCUMENT["tags"]}
    for methods in DOCUMENT["paths"].values():
        for operation in methods.values():
            assert operation["tags"] and set(operation["tags"]) <= tags


# --- the emulator and the document agree ----------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator("sqlite://", EmulatorConfig(rate_limit=None)) as emulator:
        emulator.reset()
        yield emulator


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=EmulatorTransport(emulator), base_url="http://emulator.local"
    ) as client:
        yield client


def _documented() -> set[tuple[str, str]]:
    return {(m.upper(), p) for p, methods in DOCUMENT["paths"].items() for m in methods}


def _registered(emulator: Emulator) -> set[tuple[str, str]]:
    """Every (method, path) the app answers: its Starlette routes (the catch-all aside) and the
    OpenAPI endpoints it dispatches itself."""
    found = {("POST", path) for path in ep.ENDPOINTS}
    routes = [r for r in create_app(emulator).pages.routes if getattr(r, "path", "") != CATCH_ALL]
    return found | set(route_pairs(routes))


def test_every_registered_route_is_documented(emulator: Emulator) -> None:
    assert _registered(emulator) - _documented() == set()


def _catch_all(response: httpx.Response) -> bool:
    if not response.headers.get("content-type", "").startswith("application/json"):
        return False
    body = response.json()
    return isinstance(body, dict) and body.get("code") in (404, 405) and "data" in body


def test_every_documented_route_answers(emulator: Emulator, http: httpx.Client) -> None:
    for method, path in sorted(_documented()):
        response = http.request(method, re.sub(r"\{\w+\}", "1", path))
        # a console page about an account or playback 1 that does not exist is its own 404
        if not path.startswith("/_emulator/console/") or "{" not in path:
            assert response.status_code not in (404, 405), (method, path)
        assert not _catch_all(response), (method, path, response.text)
    assert _documented() - _registered(emulator) == set()


def test_emulator_serves_the_shipped_bytes(http: httpx.Client) -> None:
    response = http.get("/_emulator/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == SHIPPED.read_bytes()


def test_the_emulator_imports_no_sdk_model() -> None:
    code = (
        "import sys, baijiayun.emulator.app as app; "
        "app.create_app(); print(sorted(m for m in sys.modules if m in "
        "('baijiayun.models', 'baijiayun._openapi', 'pydantic')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_cli_prints_and_writes_the_document(tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(cli, ["openapi"])
    assert printed.exit_code == 0
    assert printed.stdout_bytes == SHIPPED.read_bytes()
    target = tmp_path / "api.json"
    written = runner.invoke(cli, ["openapi", "--to", str(target)])
    assert written.exit_code == 0 and target.read_bytes() == SHIPPED.read_bytes()
    assert f"wrote {target}" in written.stderr
    missing = runner.invoke(cli, ["openapi", "--to", str(tmp_path / "no" / "api.json")])
    assert missing.exit_code == 1
    assert "cannot write" in missing.stderr


@pytest.mark.parametrize(
    "path", ["/_emulator/accounts/a%0Ab", "/_emulator/rooms/%0A/delete", "/_emulator/x%0A"]
)
def test_an_admin_path_with_a_newline_gets_the_catch_all_envelope(
    http: httpx.Client, path: str
) -> None:
    # Found by Schemathesis: Starlette's catch-all pattern stops at a newline, and the path got
    # Starlette's bare "Not Found" (HTTP 404, text/plain) instead of the protocol's envelope.
    response = http.post(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == 404 and body["data"] is None
    assert body["msg"].startswith("请求路径不存在: /_emulator/")
