"""Schemathesis against the emulator: the document it loads, the signing hook and our envelope check.

Shared by tests/test_schemathesis.py (a small run) and benchmarks/schemathesis_report.py (a large one).

Checks: Schemathesis' not_a_server_error, status_code_conformance, content_type_conformance,
response_schema_conformance, response_headers_conformance and positive_data_acceptance, plus
``envelope_codes`` (ours): a request whose wire form breaks the document gets code 1001 (1002
for a bad sign). negative_data_rejection, ignored_auth and use_after_free are left off: they
expect HTTP 4xx, and the protocol answers bad input, bad signs and missing rows with an HTTP
200 envelope (docs/protocol.md#decisions).
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from baijiayun import _endpoints as ep
from baijiayun.emulator import Emulator
from baijiayun.emulator.app import create_app

__all__ = [
    "BUILTIN_CHECKS",
    "FUZZED_ADMIN_EXCLUDED",
    "envelope_codes",
    "fuzzed",
    "load_schema",
    "sign_hook",
]

FUZZED_ADMIN_EXCLUDED = ("/_emulator/reset", "/_emulator/faults", "/_emulator/console")
"""Routes under /_emulator/ the fuzzer leaves alone: reset and faults wipe or break the emulator
under test; the console is HTML for a browser (its forms are tested in test_console.py), not the
admin API."""

BUILTIN_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    positive_data_acceptance,
]

_SIGN = re.compile(r"[0-9a-f]{32}")
_WIRE_TIME = "%Y-%m-%d %H:%M:%S"
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_INTEGER = re.compile(r"-?[0-9]+")


def fuzzed(path: str) -> bool:
    """Whether Schemathesis attacks this path: every /openapi/ endpoint the emulator answers and
    the admin API but for reset and faults."""
    if path.startswith("/openapi/"):
        return True
    return path.startswith("/_emulator/") and not path.startswith(FUZZED_ADMIN_EXCLUDED)


def _config() -> SchemathesisConfig:
    # The admin API answers 400 (with the OpenAPI code) when the world refuses well-formed
    # input (a room of an account that does not exist): accepted, and our check looks closer.
    return SchemathesisConfig.from_dict(
        {
            "generation": {"mode": "all"},
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2XX", "400"]}},
        }
    )


def _wire_time(value: dt.datetime) -> str:
    return value.strftime(_WIRE_TIME)


schemathesis.openapi.format(
    "baijiayun-time",
    st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(9999, 12, 31)).map(
        _wire_time
    ),
)


def load_schema(emulator: Emulator) -> Any:
    """The emulator's own document, loaded from ``GET /_emulator/openapi.json`` over ASGI."""
    app = create_app(emulator)
    return schemathesis.openapi.from_asgi("/_emulator/openapi.json", app, config=_config())


def _text(value: Any) -> str:
    """A generated value as a form carries it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)


def _md5(params: Mapping[str, str], key: str) -> str:
    text = "&".join(f"{k}={params[k]}" for k in sorted(params)) + f"&partner_key={key}"
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def sign_case(
    case: Any, emulator: Emulator, partner_id: int, clock: Callable[[], float] = time.time
) -> None:
    """Make an /openapi/ case a call of the account: flatten the body to the strings a form
    carries, drop extra field names a multipart header cannot carry as they are, put in the
    account's partner_id and a fresh timestamp, and sign it with the account's current key (a
    negative case keeps a sign it generated that is no 32-digit hex, and so gets 1002). A
    positive call of createkey sends the real secret key; a positive time window is kept on one
    day."""
    endpoint = ep.ENDPOINTS.get(case.operation.path)
    if endpoint is None or not isinstance(case.body, dict):
        return
    declared = {p.name for p in endpoint.params} | {"partner_id", "timestamp", "sign"}
    body = {k: _text(v) for k, v in case.body.items() if k in declared or _SAFE_NAME.fullmatch(k)}
    query = {k: _text(v) for k, v in (case.query or {}).items()}
    if query:
        case.query = query
    account = emulator.account(partner_id)
    assert account is not None
    body["partner_id"] = str(partner_id)
    body["timestamp"] = str(int(clock()))
    positive = case.meta is None or case.meta.generation.mode == GenerationMode.POSITIVE
    if endpoint.rules and positive and "start_time" in body:
        body["end_time"] = body["start_time"]
    if endpoint is ep.CREATE_KEY and positive:
        body["secret_key"] = account["secret_key"]
    if endpoint.signed:
        keep = not positive and not _SIGN.fullmatch(body.get("sign", ""))
        if not keep:
            signed = {**query, **body}  # the emulator merges the query and the body
            signed.pop("sign", None)
            body["sign"] = _md5(signed, account["partner_key"])
    case.body = body


def sign_hook(
    schema: Any, emulator: Emulator, partner_id: int, clock: Callable[[], float] = time.time
) -> None:
    """Register :func:`sign_case` as ``schema``'s ``map_case`` hook."""

    @schema.hook("map_case")  # type: ignore[untyped-decorator]
    def sign(context: Any, case: Any) -> Any:
        sign_case(case, emulator, partner_id, clock)
        return case


LINKED = (
    "playback.getList",
    "playback.getBasicInfo",
    "playback.getCropList",
    "playback.update",
    "playback.delete",
)
"""The operations the document links: a getList item's ids feed the other four."""


def state_machine(
    schema: Any,
    emulator: Emulator,
    partner_id: int,
    check: Callable[[CheckContext, Any, Any], bool | None],
    steps: list[tuple[str, dict[str, str], Any]],
) -> Any:
    """Schemathesis' stateful test over :data:`LINKED`, each step signed, fully checked and
    recorded in ``steps`` as (operationId, form, answer)."""
    machine = schema.include(operation_id=list(LINKED)).as_state_machine()

    class Signed(machine):  # type: ignore[misc, valid-type]
        def before_call(self, case: Any) -> None:
            if case.operation.path == ep.GET_LIST.path and isinstance(case.body, dict):
                case.body["page"] = 1  # scenarios start from the first page, where rows are
                case.body.pop("room_id", None)
            sign_case(case, emulator, partner_id)

        def after_call(self, response: Any, case: Any) -> None:
            operation = case.operation.definition.raw["operationId"]
            steps.append((operation, dict(case.body), response.json()))

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=BUILTIN_CHECKS, additional_checks=[check])

    return Signed


def _wire_params(response: Any) -> dict[str, str]:
    """What the emulator received: the query, then the urlencoded or multipart body."""
    request = response.request
    params = dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/x-www-form-urlencoded"):
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif kind.startswith("multipart/form-data"):
        head = f"Content-Type: {kind}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            params[str(name)] = payload.decode("utf-8", "replace")
    return params


def _ecma(pattern: str) -> str:
    """An ECMA-262 pattern for Python's ``re.search``: ``$`` ends the text, not a last line."""
    return (
        pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith("\\$") else pattern
    )


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if isinstance(instance, str) and not re.search(_ecma(pattern), instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_FORMATS = jsonschema.FormatChecker(["date"])


@_FORMATS.checks("baijiayun-time", raises=ValueError)
def _is_wire_time(value: object) -> bool:
    if isinstance(value, str):
        dt.datetime.strptime(value, _WIRE_TIME)
    return True


_Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _pattern})


def _resolve(document: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def breaks_document(document: Mapping[str, Any], path: str, params: Mapping[str, str]) -> bool:
    """Whether wire ``params`` break the form body the document gives ``path``: each value read
    as its property's type says (an integer property takes ASCII digits; an empty value counts
    as absent but in free text, a property with minLength), then checked against the schema and x-same-day."""
    operation = document["paths"][path]["post"]
    media = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]
    body = _resolve(document, media["schema"])
    typed: dict[str, Any] = {}
    for name, raw in params.items():
        spec = body["properties"].get(name)
        if spec is None:
            continue
        resolved = _resolve(document, spec)
        if raw == "" and "minLength" not in resolved:
            continue  # empty counts as absent, but in free text
        if resolved.get("type") == "integer":
            typed[name] = int(raw) if _INTEGER.fullmatch(raw) else raw
        else:
            typed[name] = raw
    resolver_schema = {**body, "components": document["components"]}
    validator = _Validator(resolver_schema, format_checker=_FORMATS)
    if next(validator.iter_errors(typed), None) is not None:
        return True
    first, second = body.get("x-same-day", [None, None])
    if first in typed and second in typed:
        start = dt.datetime.strptime(typed[first], _WIRE_TIME)
        end = dt.datetime.strptime(typed[second], _WIRE_TIME)
        return start.date() != end.date() or start > end
    return False


def _long_term_session(document: Mapping[str, Any], path: str) -> bool:
    media = document["paths"][path]["post"]["requestBody"]["content"]
    body = _resolve(document, media["application/x-www-form-urlencoded"]["schema"])
    return body.get("x-long-term-session") == "required"


_ALLOWED_CODES = {"playback": {0, 1, 3001, 3002}, "video_data": {0, 1, 3001, 3002}}


def envelope_codes(
    document: Mapping[str, Any], emulator: Emulator, partner_id: int
) -> Callable[[CheckContext, Any, Any], bool | None]:
    """Our check: an /openapi/ answer is the envelope; a request breaking the document gets 1001,
    a bad sign 1002; a well-formed one gets 0 or a business code of its module, never those."""

    def envelope_codes(ctx: CheckContext, response: Any, case: Any) -> bool | None:
        endpoint = ep.ENDPOINTS.get(case.operation.path)
        if endpoint is None:
            return None
        body = response.json()
        assert isinstance(body, dict) and set(body) == {"code", "msg", "data", "ts"}, body
        code = body["code"]
        params = _wire_params(response)
        bad_sign = "partner_key" in params or not _SIGN.fullmatch(params.get("sign", ""))
        if not isinstance(case.body, dict):  # no form at all (the hook left it as generated)
            expected: set[int] = {1001, 1002}
        elif endpoint.signed and bad_sign:
            expected = {1002}
        elif breaks_document(document, endpoint.path, params):
            expected = {1001}
        elif endpoint is ep.CREATE_KEY:
            account = emulator.account(partner_id)
            assert account is not None
            expected = {0} if params.get("secret_key") == account["secret_key"] else {1002}
        else:
            expected = _ALLOWED_CODES.get(endpoint.module, {0})
            if _long_term_session(document, endpoint.path) and "session_id is required for " + (
                "long-term room"
            ) in str(body["msg"]):
                expected = {1001}  # the document's x-long-term-session rule
        assert code in expected, (
            f"code {code} ({body['msg']!r}) for {endpoint.path}; expected one of "
            f"{sorted(expected)} for the wire form {params!r}"
        )
        return True

    return envelope_codes


def fuzz(
    operation: Any,
    check: Callable[[CheckContext, Any, Any], bool | None],
    max_examples: int,
    *,
    derandomize: bool = False,
) -> int:
    """Run Schemathesis on one operation (valid and invalid data alike) with every check;
    raise on the first failure (shrunk by Hypothesis). The number of test cases sent.
    ``derandomize``: the same cases every run (the suite's), else new ones (the report's)."""
    from hypothesis import HealthCheck, given, settings

    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    sent = 0

    @given(case=st.one_of(*strategies))
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=derandomize,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        case.call_and_validate(checks=BUILTIN_CHECKS, additional_checks=[check])

    run()
    return sent
