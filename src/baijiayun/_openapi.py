"""The OpenAPI 3.1 document: built from ``_endpoints.py``, the SDK's models and the emulator's routes."""

# Generated into ``openapi.json`` (shipped in the package) and ``docs/openapi.json`` by
# ``scripts/openapi.py``; ``make lint`` fails when either is stale. Only that script imports
# this module: the CLI prints the shipped file, and the emulator serves its bytes.

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from . import _endpoints as ep
from . import models
from .callbacks import TranscodeCallback

__all__ = [
    "DATA_MODELS",
    "ERROR_CODES",
    "OPENAPI_VERSION",
    "build_document",
    "dump",
    "operation_id",
    "room_ids_pattern",
    "uint64_pattern",
]

OPENAPI_VERSION = "3.1.0"
Schema = dict[str, Any]

ERROR_CODES: dict[int, str] = {
    1: "an error without a code of its own: read msg (also a playback, session or version that "
    "does not exist, and an unexpected server error, HTTP 500)",
    404: "the path does not exist (the catch-all answer, HTTP 200)",
    405: "the method is neither GET nor POST (emulator, HTTP 200)",
    429: "too many requests: over 200 calls in 10 s for this partner_id (请求过于频繁)",
    1001: "a parameter is missing or invalid (msg names it); also a stale timestamp and a body "
    "over the size limit (HTTP 413)",
    1002: "the sign is wrong or missing, or partner_key was sent (签名错误)",
    2001: "the account (partner_id) does not exist",
    2002: "the account lacks the permission",
    2003: "the account is not opened, or stopped",
    3001: "the room does not exist",
    3002: "the room was deleted",
    4001: "a file upload failed",
}
"""Every non-zero ``code`` of the envelope (protocol page, "Error codes"), with its meaning."""

RATE_LIMIT: dict[str, Any] = {
    "limit": 200,
    "period_seconds": 10,
    "scope": "partner_id, across every /openapi/ endpoint",
    "window": "sliding",
    "answer": {"http_status": 200, "code": 429, "msg": "请求过于频繁", "retry_after": None},
}

# What answers an /openapi/ call's ``data`` on success: a model of the SDK, or a schema here
# where the SDK returns a plain value. The video-data endpoints use the SDK's PlayRecordPage
# when it exists, else the shape docs/protocol.md#decided-viewing-records decides.
_NULL: Schema = {"type": "null", "description": "null: the action returns nothing"}
DATA_MODELS: dict[str, type[BaseModel] | Schema] = {
    ep.GET_BASIC_INFO.path: models.PlaybackInfo,
    ep.GET_LIST.path: models.PlaybackPage,
    ep.GET_PLAYER_TOKEN.path: models.PlayerToken,
    ep.GET_PLAYER_TOKEN_BATCH.path: {
        "type": "object",
        "description": "each requested id ('room_id' or 'room_id-session_id') → its token",
        "additionalProperties": {"type": "string"},
    },
    ep.GET_SESSION_LIST.path: models.SessionList,
    ep.SET_PUBLISH_STATUS.path: models.PublishResult,
    ep.DELETE.path: _NULL,
    ep.UPDATE.path: _NULL,
    ep.GET_CROP_LIST.path: models.CropPage,
    ep.SET_MAIN_VERSION.path: _NULL,
    ep.GET_PLAYBACK_PPT_URL_LIST.path: models.PptDatedFileList,
    ep.GET_PLAYBACK_PPT_URL.path: models.PptFileList,
    ep.REPLACE_PLAYBACK.path: _NULL,
    ep.CREATE_KEY.path: {
        "type": "object",
        "required": ["partner_key"],
        "properties": {"partner_key": {"type": "string", "maxLength": 128}},
        "additionalProperties": True,
    },
    ep.SET_TRANSCODE_CALLBACK_URL.path: {"$ref": "#/components/schemas/CallbackUrl"},
    ep.GET_TRANSCODE_CALLBACK_URL.path: {"$ref": "#/components/schemas/CallbackUrl"},
}
_RECORD: Schema = {
    "title": "PlayRecord",
    "type": "object",
    "description": "一条观看记录 (one play, docs/protocol.md#decided-viewing-records); playback records add room_id, "
    "session_id and version. Times are Beijing time.",
    "required": ["guid"],
    "properties": {
        "guid": {"type": "string", "description": "one play, 32 characters"},
        "uuid": {"type": "string"},
        "video_id": {"type": "integer"},
        "user_name": {"type": ["string", "null"]},
        "user_number": {"type": ["string", "integer", "null"]},
        "play_begin_time": {"$ref": "#/components/schemas/WireTimeOut"},
        "play_end_time": {"$ref": "#/components/schemas/WireTimeOut"},
        "client_type": {"type": "integer", "enum": [0, 1, 2, 3, 4, 5]},
        "play_length": {"type": "integer", "description": "seconds actually watched"},
        "user_ip": {"type": ["string", "null"]},
        "area": {"type": ["string", "null"]},
        "room_id": {"type": "integer"},
        "session_id": {"type": "integer"},
        "version": {"type": "integer"},
    },
    "additionalProperties": True,
}
_RECORD_PAGE: Schema = {
    "title": "PlayRecordPage",
    "type": "object",
    "properties": {
        "total": {"type": "integer"},
        "list": {"type": "array", "items": {"$ref": "#/components/schemas/PlayRecord"}},
    },
    "additionalProperties": True,
}

# Defaults the service applies to an absent optional parameter (the emulator's, as decided).
_DEFAULTS: dict[tuple[str, str], int] = {
    (ep.GET_LIST.path, "crop_video"): 0,
    (ep.GET_CROP_LIST.path, "page"): 1,
    (ep.GET_CROP_LIST.path, "page_size"): 100,
    (ep.CREATE_KEY.path, "regenerate"): 0,
    (ep.REPLACE_PLAYBACK.path, "is_replace_main"): 0,
    **{(e.path, "page"): 1 for e in ep.VIDEO_DATA_ENDPOINTS},
    **{(e.path, "page_size"): 100 for e in ep.VIDEO_DATA_ENDPOINTS},
}

SESSION_REQUIRED_ON_LONG_TERM = frozenset(
    {
        ep.SET_PUBLISH_STATUS.path,
        ep.DELETE.path,
        ep.UPDATE.path,
        ep.GET_CROP_LIST.path,
        ep.SET_MAIN_VERSION.path,
        ep.REPLACE_PLAYBACK.path,
    }
)
"""Calls that name one playback exactly: on a long-term room they need its session_id (1001
otherwise) instead of taking the first session, as reads do."""

_TAG_OF_MODULE = {
    "playback": "playback",
    "partner": "partner",
    "video_account": "video_account",
    "video_data": "video_data",
}
TAGS = [
    {"name": "playback", "description": "回放: the 13 playback methods of the seed's PlayBack."},
    {"name": "partner", "description": "The partner key: get or rotate it with the secret key."},
    {"name": "video_account", "description": "Where transcode callbacks go."},
    {
        "name": "video_data",
        "description": "观看记录: viewing records (docs/protocol.md#viewing-records).",
    },
    {"name": "callbacks", "description": "What BaijiaYun posts to you (webhooks)."},
    {"name": "player", "description": "The web player page and its beacons (emulator)."},
    {"name": "emulator-admin", "description": "The emulator's admin API under /_emulator/."},
    {
        "name": "emulator-console",
        "description": "The emulator's console: HTML pages and form actions for a browser "
        "(login cookie with --admin-token, a CSRF token on every POST).",
    },
]

SIGNING = """\
Every signed call carries `partner_id`, `timestamp` (unix seconds, within 300 s of the server's \
clock) and `sign` as ordinary form fields (or query parameters of a GET). OpenAPI cannot express \
a signature over form fields, so this scheme names `sign` and describes the rule:

1. take every parameter that is sent, except `sign` (empty values included, as `k=`);
2. sort them by name, in byte order;
3. join them as `name=value` pairs with `&`, values raw (not URL-encoded);
4. append `&partner_key=<partner_key>` (the key itself is never sent);
5. `sign` = the md5 of the UTF-8 bytes, 32 lowercase hex digits.

Worked example (getPlayerToken, partner_key `test_partner_key_ABC123+/==`): the parameters \
`partner_id=12345678, room_id=17110879095169, session_id=201711281, expires_in=3600, \
timestamp=1700000000` are signed as

    expires_in=3600&partner_id=12345678&room_id=17110879095169&session_id=201711281&timestamp=1700000000&partner_key=test_partner_key_ABC123+/==

whose md5 is `ad49721f757a46cf68fd19dfa617c36d`. A wrong sign is answered with code 1002."""

SIGNING_EXAMPLE = {
    "partner_key": "test_partner_key_ABC123+/==",
    "params": {
        "partner_id": "12345678",
        "room_id": "17110879095169",
        "session_id": "201711281",
        "expires_in": "3600",
        "timestamp": "1700000000",
    },
    "signed_string": "expires_in=3600&partner_id=12345678&room_id=17110879095169"
    "&session_id=201711281&timestamp=1700000000&partner_key=test_partner_key_ABC123+/==",
    "sign": "ad49721f757a46cf68fd19dfa617c36d",
}

DESCRIPTION = """\
BaijiaYun (百家云) publishes its playback OpenAPI as prose tables only. This document is what the \
`baijiayun` project understands of it, generated from the one declaration its SDK, CLI and \
emulator share: every request is a POST with a form body (`application/x-www-form-urlencoded` or \
`multipart/form-data`; a GET with the same fields in the query is accepted too), signed as the \
`sign` security scheme says.

Every answer is the JSON envelope `{code, msg, data, ts}` with **HTTP 200**, errors included \
(`code` ≠ 0, `data` null; see the `ErrorCode` schema); only a body over the size limit (413) and \
an unexpected server error (500) change the HTTP status, and they too carry the envelope. A path \
that does not exist is answered HTTP 200 with code 404 (the `default` answer of every operation).

Rate limit: 200 calls per 10 s per account across every /openapi/ endpoint (`x-rate-limit`); over \
it, HTTP 200 with code 429 and msg `请求过于频繁`, without Retry-After: wait one full period.

Testing tools that expect an HTTP 4xx for bad input (Schemathesis' negative_data_rejection, \
ignored_auth, use_after_free) do not apply: bad input is an HTTP 200 envelope with code 1001 \
(1002 for a bad sign). The paths under /_emulator/ and /web/playback/ exist on the project's \
emulator only."""


class _WireSchema(GenerateJsonSchema):
    """Pydantic's JSON schema with the wire's spellings: times as BaijiaYun writes them (unix
    seconds or ``YYYY-MM-DD HH:MM:SS``), flags as 0/1."""

    def datetime_schema(self, schema: core_schema.DatetimeSchema) -> JsonSchemaValue:
        """A time on the wire: unix seconds, or ``YYYY-MM-DD HH:MM:SS`` in Beijing time."""
        return {"$ref": "#/components/schemas/WireTimeOut"}

    def bool_schema(self, schema: core_schema.BoolSchema) -> JsonSchemaValue:
        """A flag on the wire: 0 or 1."""
        return {"type": "integer", "enum": [0, 1]}

    def encode_default(self, dft: Any) -> Any:
        """Defaults as the wire writes them (a flag's False is 0)."""
        return int(dft) if isinstance(dft, bool) else super().encode_default(dft)


def _below_or_equal(limit: str) -> str:
    """A regex of the decimal numbers with ``len(limit)`` digits that are at most ``limit``."""
    parts = []
    for i, digit in enumerate(limit):
        if digit == "0":
            continue
        low = "1" if i == 0 else "0"
        if int(digit) - 1 >= int(low):
            upper = str(int(digit) - 1)
            cls = low if upper == low else f"[{low}-{upper}]"
            rest = len(limit) - i - 1
            parts.append(limit[:i] + cls + (f"[0-9]{{{rest}}}" if rest else ""))
    parts.append(limit)
    return "(?:" + "|".join(parts) + ")"


def uint64_pattern() -> str:
    """A regex of the positive integers up to 2**63-1 in plain decimal (no sign, no leading 0)."""
    top = str(ep.INT64_MAX)
    return f"(?:[1-9][0-9]{{0,{len(top) - 2}}}|{_below_or_equal(top)})"


def room_ids_pattern() -> str:
    """The ``room_ids`` rule as a regex: 1 to 100 comma-separated ``room`` or ``room-session``."""
    one = uint64_pattern()
    entry = f"{one}(?:-{one})?"
    return f"^{entry}(?:,{entry}){{0,{ep.MAX_BATCH_IDS - 1}}}$"


def _param_schema(endpoint: ep.Endpoint, param: ep.Param) -> Schema:
    """The JSON schema of one declared form parameter, as its wire rule reads."""
    schema: Schema
    if param.kind == "int":
        schema = {
            "type": "integer",
            "format": "int64",
            "minimum": ep.INT64_MIN if param.minimum is None else param.minimum,
            "maximum": ep.INT64_MAX if param.maximum is None else param.maximum,
        }
        if param.choices is not None:
            schema = {"type": "integer", "enum": list(param.choices)}
    elif param.kind == "date":
        schema = {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
    elif param.kind == "datetime":
        schema = {"$ref": "#/components/schemas/WireTime"}
    elif param.kind == "room_ids":
        schema = {"type": "string", "pattern": room_ids_pattern()}
    elif param.kind == "url":
        schema = {
            "type": "string",
            "maxLength": ep.MAX_URL_LENGTH,
            "pattern": "^https?://[\\x21-\\x7e\\u00a0-\\ud7ff\\ue000-\\uffff]+$",
        }
    else:
        schema = {"type": "string", "minLength": 1, "pattern": "^[^\\x00]*[^\\x00\\s][^\\x00]*$"}
        if param.max_length is not None:
            schema["maxLength"] = param.max_length
    described = {"description": f"{param.help}: {param.describe_rule()}", **schema}
    default = _DEFAULTS.get((endpoint.path, param.name))
    if default is not None:
        described["default"] = default
    return described


def operation_id(endpoint: ep.Endpoint) -> str:
    """The operationId of an endpoint: its module and action, e.g. ``playback.getBasicInfo``."""
    return f"{endpoint.module}.{endpoint.action}"


def _request_schema(endpoint: ep.Endpoint) -> Schema:
    """The form body of an endpoint: the signature fields, then its declared parameters."""
    properties: dict[str, Schema] = {
        "partner_id": {"$ref": "#/components/schemas/PartnerId"},
    }
    required = ["partner_id"]
    if endpoint.signed:
        properties["timestamp"] = {"$ref": "#/components/schemas/Timestamp"}
        properties["sign"] = {"$ref": "#/components/schemas/Sign"}
        required += ["timestamp", "sign"]
    else:
        properties["timestamp"] = {
            "$ref": "#/components/schemas/Timestamp",
            "description": "unix seconds, within 300 s of the server's clock (sent by every "
            "known client; not signed)",
        }
        required.append("timestamp")
    for param in endpoint.params:
        properties[param.name] = _param_schema(endpoint, param)
        if param.required:
            required.append(param.name)
    description = (
        "Unknown fields are ignored (but signed as received). An empty value counts as absent, "
        "except in a free-text field (one with minLength)."
    )
    if endpoint.rules:
        description += " start_time and end_time must be on one Beijing calendar day, " + (
            "start_time <= end_time (查询时间不能跨天): x-same-day."
        )
    if endpoint.path in SESSION_REQUIRED_ON_LONG_TERM:
        description += (
            " On a long-term room the session_id (source_session_id and target_session_id for "
            "replacePlayback) is required: code 1001 naming it otherwise (x-long-term-session)."
        )
    schema: Schema = {
        "type": "object",
        "description": description,
        "required": required,
        "properties": properties,
    }
    if endpoint.path in SESSION_REQUIRED_ON_LONG_TERM:
        schema["x-long-term-session"] = "required"
    if endpoint.rules:
        schema["x-same-day"] = ["start_time", "end_time"]
    return schema


def _envelope(data: Schema) -> Schema:
    """The envelope whose success ``data`` is ``data``; an error's data is null."""
    return {
        "oneOf": [
            {
                "type": "object",
                "title": "Success",
                "required": ["code", "msg", "data", "ts"],
                "properties": {
                    "code": {"const": 0},
                    "msg": {"type": "string"},
                    "data": data,
                    "ts": {"type": "integer"},
                },
            },
            {"$ref": "#/components/schemas/ErrorEnvelope"},
        ]
    }


def _component_name(endpoint: ep.Endpoint) -> str:
    return (
        endpoint.module.title().replace("_", "") + endpoint.action[0].upper() + endpoint.action[1:]
    )


_LINKED: dict[str, tuple[str, ...]] = {
    ep.GET_BASIC_INFO.path: ("room_id", "session_id"),
    ep.GET_CROP_LIST.path: ("room_id", "session_id"),
    ep.UPDATE.path: ("room_id", "session_id"),
    ep.DELETE.path: ("room_id", "session_id", "version"),
}
"""What a getList item feeds into the operations that take one playback (OpenAPI links)."""


def _links() -> dict[str, Any]:
    """getList's links: its first item's ids into getBasicInfo, getCropList, update, delete."""
    links = {}
    for path, fields in _LINKED.items():
        target = ep.ENDPOINTS[path]
        links[target.action] = {
            "operationId": operation_id(target),
            "description": f"the first listed playback's {', '.join(fields)} into {target.action}",
            "requestBody": {f: f"$response.body#/data/list/0/{f}" for f in fields},
        }
    return links


def _openapi_operation(endpoint: ep.Endpoint) -> Schema:
    """One /openapi/ operation: its form body, its envelope, its errors, its limit."""
    ref = {"$ref": f"#/components/schemas/{_component_name(endpoint)}Request"}
    success: Schema = {
        "description": "The envelope: code 0 with data, or an error code with data null",
        "content": {
            "application/json": {
                "schema": {"$ref": f"#/components/schemas/{_component_name(endpoint)}Envelope"}
            }
        },
    }
    if endpoint.path == ep.GET_LIST.path:
        success["links"] = _links()
    rules = "; ".join(f"`{p.name}`: {p.describe_rule()}" for p in endpoint.params)
    operation: Schema = {
        "tags": [_TAG_OF_MODULE[endpoint.module]],
        "operationId": operation_id(endpoint),
        "summary": endpoint.summary,
        "description": (
            f"{endpoint.summary}. Parameters: {rules or 'none besides the signature fields'}. "
            + (
                "Safe to send again."
                if endpoint.retry_safe
                else "Not safe to send again blindly: it changes state."
            )
        ),
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": ref},
                "multipart/form-data": {"schema": ref},
            },
        },
        "responses": {
            "200": success,
            "413": {"$ref": "#/components/responses/TooLarge"},
            "500": {"$ref": "#/components/responses/ServerError"},
            "default": {"$ref": "#/components/responses/CatchAll"},
        },
        "security": [{"sign": []}] if endpoint.signed else [],
        "x-retry-safe": endpoint.retry_safe,
        "x-rate-limit": RATE_LIMIT,
        "x-error-codes": [1001, 1002, 2001, 429, *_BUSINESS_CODES.get(endpoint.module, ())],
    }
    if not endpoint.signed:
        operation["x-error-codes"] = [1001, 1002, 2001, 429]
        operation["description"] += (
            " Not signed: the secret key authenticates it (a wrong one is 1002)."
        )
    return operation


_BUSINESS_CODES = {"playback": (1, 3001, 3002), "video_data": (1, 3001, 3002)}


# --- the emulator's own routes -------------------------------------------------------------

_ADMIN_REQUIRED = {
    "room": ["partner_id"],
    "recording": ["room_id"],
    "advance": ["room_id"],
    "finish": ["room_id"],
    "crop": ["room_id"],
    "ppt": ["room_id"],
    "fault": ["endpoint", "kind"],
}
_ADMIN_SUMMARIES = {
    ("POST", "/_emulator/accounts"): "Create an account (every field optional)",
    ("GET", "/_emulator/accounts/{partner_id}"): "Read an account, keys included (null if none)",
    ("POST", "/_emulator/rooms"): "Create a room of an account",
    ("POST", "/_emulator/rooms/{room_id}/delete"): "Delete a room (its playbacks go with it)",
    ("POST", "/_emulator/recordings"): "Record a playback (it walks its lifecycle)",
    ("POST", "/_emulator/recordings/advance"): "Move a recording one lifecycle step",
    ("POST", "/_emulator/recordings/finish"): "Finish a recording (ready, or failed)",
    ("POST", "/_emulator/crops"): "Crop a new version of a playback",
    ("POST", "/_emulator/ppt"): "Attach a slide PDF to a room",
    ("GET", "/_emulator/rooms/{room_id}/playbacks"): "Every version row of a room",
    ("GET", "/_emulator/callbacks"): "Every callback delivery attempt",
    ("GET", "/_emulator/stats"): "Calls per partner, endpoint and outcome",
    ("POST", "/_emulator/faults"): "Add a fault rule",
    ("GET", "/_emulator/faults"): "The fault rules",
    ("DELETE", "/_emulator/faults"): "Remove every fault rule",
    ("POST", "/_emulator/reset"): "Forget everything",
    ("POST", "/_emulator/views"): "Add play records in bulk (a JSON list of records)",
}
ADMIN_EXTRA: list[tuple[str, str]] = [("POST", "/_emulator/views")]
"""Admin routes another module than ``admin.py`` registers (the play records' bulk add)."""
OPENAPI_JSON_PATH = "/_emulator/openapi.json"
PLAYER_PATH = "/web/playback/index"
BEACON_PATH = "/web/playback/beacon"
VIDEO_PATH = "/web/playback/video.webm"
_CONVERTER = re.compile(r"\{(\w+):\w+\}")


def _admin_field(kind: type, max_length: int, minimum: int, maximum: int) -> Schema:
    if kind is bool:
        return {"type": "boolean"}
    if kind is int:
        return {"type": "integer", "minimum": minimum, "maximum": maximum}
    if kind is float:
        return {"type": "number", "minimum": -1e9, "maximum": 1e9}
    return {"type": "string", "maxLength": max_length, "pattern": "^[^\\x00]*$"}


def _admin_json(schema: Schema) -> Schema:
    return {"application/json": {"schema": schema}}


def _admin_responses(in_path: bool = False) -> dict[str, Any]:
    done: Schema = {
        "description": "Done: the action's result",
        "content": _admin_json({"$ref": "#/components/schemas/AdminOk"}),
    }
    if in_path:
        done = {
            "description": "Done: the action's result. A path segment that is no decimal "
            "number matches no admin route: the catch-all's envelope, code 404",
            "content": _admin_json(
                {
                    "oneOf": [
                        {"$ref": "#/components/schemas/AdminOk"},
                        {"$ref": "#/components/schemas/ErrorEnvelope"},
                    ]
                }
            ),
        }
    return {
        "200": done,
        "400": {
            "description": "A field breaks its rule (`field` names it), or the emulator refused "
            "the action (`code` is the OpenAPI error code it would answer)",
            "content": _admin_json({"$ref": "#/components/schemas/AdminError"}),
        },
        "403": {
            "description": "A served emulator's guard refused the caller (Host, Origin, token)",
            "content": _admin_json({"$ref": "#/components/schemas/AdminError"}),
        },
        "413": {
            "description": "The body is over the size limit",
            "content": _admin_json({"$ref": "#/components/schemas/AdminError"}),
        },
        "500": {
            "description": "An unexpected error (logged)",
            "content": _admin_json({"$ref": "#/components/schemas/AdminError"}),
        },
    }


def admin_operations(
    actions: list[tuple[str, str, str, Any]], fields: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Schema]]:
    """The admin API's paths from the emulator's route table (``admin.ACTIONS``) and its field
    rules (``admin.SCHEMAS``)."""
    paths: dict[str, dict[str, Schema]] = {}
    for method, route, schema_name, _action in actions:
        path = _CONVERTER.sub(r"{\1}", route)
        in_path = set(_CONVERTER.findall(route))
        parameters: list[Schema] = []
        properties: dict[str, Schema] = {}
        for name, rule in fields[schema_name].items():
            schema = _admin_field(rule.kind, rule.max_length, rule.minimum, rule.maximum)
            if name in in_path:
                parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
            elif method == "GET":
                parameters.append({"name": name, "in": "query", "schema": schema})
            else:
                properties[name] = schema
        operation: Schema = {
            "tags": ["emulator-admin"],
            "operationId": "admin."
            + method.lower()
            + re.sub(r"\W+", "_", path[len("/_emulator") :]),
            "summary": _ADMIN_SUMMARIES.get((method, path), f"{method} {path}"),
            "responses": _admin_responses(bool(in_path)),
            "security": [{}, {"adminToken": []}],
        }
        if parameters:
            operation["parameters"] = parameters
        if properties:
            required = _ADMIN_REQUIRED.get(schema_name, [])
            body: Schema = {
                "type": "object",
                "properties": properties,
                "additionalProperties": False,
            }
            if required:
                body["required"] = required
            operation["requestBody"] = {
                "required": bool(required),
                "content": _admin_json(body),
            }
        paths.setdefault(path, {})[method.lower()] = operation
    paths.setdefault("/_emulator/views", {})["post"] = {
        "tags": ["emulator-admin"],
        "operationId": "admin.post_views",
        "summary": _ADMIN_SUMMARIES[("POST", "/_emulator/views")],
        "description": 'A JSON list of records (or `{"records": [...]}`), each with at least '
        "`room_id` and `play_begin_time`; answers `{ok, result: {added, guids}}` or 400 naming "
        "the first bad field as `[i].field`.",
        "requestBody": {
            "required": True,
            "content": _admin_json({"type": "array", "items": {"type": "object"}}),
        },
        "responses": _admin_responses(),
        "security": [{}, {"adminToken": []}],
    }
    paths[OPENAPI_JSON_PATH] = {
        "get": {
            "tags": ["emulator-admin"],
            "operationId": "admin.get_openapi_json",
            "summary": "This document, as shipped in the package",
            "responses": {
                "200": {
                    "description": "The OpenAPI document",
                    "content": _admin_json({"type": "object"}),
                }
            },
        }
    }
    return paths


def _text(description: str, media: str = "text/plain") -> Schema:
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


def player_operations() -> dict[str, dict[str, Schema]]:
    """The web player page, its test video and its beacon (emulator; docs/protocol.md#player-tokens-and-urls, docs/protocol.md#decided-viewing-records)."""
    classid = {"type": "integer", "minimum": 1, "maximum": ep.INT64_MAX}
    session = {"type": "integer", "minimum": 0, "maximum": ep.INT64_MAX}
    token = {"type": "string", "minLength": 1, "maxLength": 128}
    viewer = [
        {"name": "user_number", "in": "query", "schema": {"type": "string", "maxLength": 64}},
        {"name": "user_name", "in": "query", "schema": {"type": "string", "maxLength": 100}},
    ]
    page_params = [
        {"name": "classid", "in": "query", "required": True, "schema": classid},
        {"name": "session_id", "in": "query", "schema": session},
        {"name": "token", "in": "query", "required": True, "schema": token},
        *viewer,
    ]
    beacon_fields: Schema = {
        "type": "object",
        "required": ["classid", "token", "guid", "uuid", "event", "duration"],
        "properties": {
            "classid": classid,
            "session_id": session,
            "token": token,
            "guid": {"type": "string", "maxLength": 32, "description": "one play"},
            "uuid": {"type": "string", "maxLength": 64, "description": "the viewer's client"},
            "event": {
                "type": "string",
                "enum": ["play", "heartbeat", "pause", "seek", "ended", "leave"],
            },
            "duration": {
                "type": "integer",
                "minimum": 0,
                "description": "ms actually played in this play so far (cumulative)",
            },
            "position": {"type": "integer", "minimum": 0, "description": "ms into the video"},
            "user_number": {"type": "string", "maxLength": 64},
            "user_name": {"type": "string", "maxLength": 100},
        },
    }
    beacon_answers = {
        "204": {"description": "Taken"},
        "400": _text("A field breaks its rule"),
        "403": _text("The token does not open that room and session"),
        "413": _text("The body is over the size limit"),
    }
    beacon_doc = (
        "A player beacon (docs/protocol.md#decided-viewing-records): every report_interval seconds while playing and on "
        "each event; `ended` and `leave` end the play. play_length = the highest duration ÷ 1000."
    )
    return {
        PLAYER_PATH: {
            "get": {
                "tags": ["player"],
                "operationId": "player.page",
                "summary": "The web player: plays the playback a valid token opens",
                "parameters": page_params,
                "responses": {
                    "200": _text("The player page", "text/html"),
                    "403": _text("Which parameter is wrong and why", "text/html"),
                },
            }
        },
        BEACON_PATH: {
            "get": {
                "tags": ["player"],
                "operationId": "player.beacon_get",
                "summary": "A play beacon, fields in the query",
                "description": beacon_doc,
                "parameters": [
                    {
                        "name": name,
                        "in": "query",
                        "required": name in beacon_fields["required"],
                        "schema": schema,
                    }
                    for name, schema in beacon_fields["properties"].items()
                ],
                "responses": beacon_answers,
            },
            "post": {
                "tags": ["player"],
                "operationId": "player.beacon_post",
                "summary": "A play beacon, fields in a form body (navigator.sendBeacon)",
                "description": beacon_doc,
                "requestBody": {
                    "required": True,
                    "content": {"application/x-www-form-urlencoded": {"schema": beacon_fields}},
                },
                "responses": beacon_answers,
            },
        },
        VIDEO_PATH: {
            "get": {
                "tags": ["player"],
                "operationId": "player.video",
                "summary": "The test clip every playback plays (WebM, byte ranges)",
                "responses": {
                    "200": {
                        "description": "The clip",
                        "content": {
                            "video/webm": {"schema": {"type": "string", "format": "binary"}}
                        },
                    },
                    "206": {
                        "description": "A byte range of it",
                        "content": {
                            "video/webm": {"schema": {"type": "string", "format": "binary"}}
                        },
                    },
                },
            }
        },
    }


# --- the whole document --------------------------------------------------------------------


def _model_schemas() -> tuple[dict[BaseModel | type[BaseModel], str], dict[str, Schema]]:
    """Each model's JSON schema (wire spellings), refs pointing into components."""
    wanted = [m for m in DATA_MODELS.values() if isinstance(m, type)]
    records = getattr(models, "PlayRecordPage", None)
    if isinstance(records, type) and issubclass(records, BaseModel):
        wanted.append(records)
    wanted.append(TranscodeCallback)
    keys, defs = models_json_schema(
        [(m, "validation") for m in wanted],
        ref_template="#/components/schemas/{model}",
        schema_generator=_WireSchema,
    )
    refs = {m: keys[(m, "validation")]["$ref"] for m in wanted}
    return refs, defs.get("$defs", {})  # type: ignore[return-value]


def _record_page_schema(refs: Mapping[Any, str], components: dict[str, Schema]) -> Schema:
    records = getattr(models, "PlayRecordPage", None)
    if records is not None and records in refs:
        return {"$ref": refs[records]}
    components["PlayRecord"] = _RECORD
    components["PlayRecordPage"] = _RECORD_PAGE
    return {"$ref": "#/components/schemas/PlayRecordPage"}


def _common_schemas() -> dict[str, Schema]:
    wire_time = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"
    codes = sorted(ERROR_CODES)
    return {
        "PartnerId": {
            "type": "integer",
            "format": "int64",
            "minimum": 1,
            "maximum": ep.INT64_MAX,
            "description": "账号 id (the account's partner id)",
        },
        "Timestamp": {
            "type": "integer",
            "format": "int64",
            "minimum": 0,
            "maximum": ep.INT64_MAX,
            "description": "unix seconds, within 300 s of the server's clock (1001 otherwise)",
        },
        "Sign": {
            "type": "string",
            "pattern": "^[0-9a-f]{32}$",
            "description": "md5 of the sorted parameters and the partner key: see the `sign` "
            "security scheme",
        },
        "WireTime": {
            "type": "string",
            "format": "baijiayun-time",
            "pattern": wire_time,
            "description": "a time YYYY-MM-DD HH:MM:SS, Beijing time (UTC+8), nothing around it",
        },
        "WireTimeOut": {
            "anyOf": [
                {"type": "integer", "description": "unix seconds"},
                {"type": "string", "pattern": wire_time, "description": "Beijing time"},
                {"type": "null"},
            ],
            "description": "a time as BaijiaYun writes it: unix seconds (getBasicInfo) or "
            "YYYY-MM-DD HH:MM:SS in Beijing time (lists)",
        },
        "ErrorCode": {
            "type": "integer",
            "enum": codes,
            "description": "A non-zero code: "
            + "; ".join(f"{code} {ERROR_CODES[code]}" for code in codes),
            "x-enum-descriptions": {str(code): ERROR_CODES[code] for code in codes},
        },
        "ErrorEnvelope": {
            "type": "object",
            "title": "Error",
            "required": ["code", "msg", "data", "ts"],
            "properties": {
                "code": {"$ref": "#/components/schemas/ErrorCode"},
                "msg": {"type": "string", "description": "what went wrong (Chinese, then English)"},
                "data": {"type": "null"},
                "ts": {"type": "integer", "description": "the server's unix time"},
            },
        },
        "CallbackUrl": {
            "type": "object",
            "required": ["url"],
            "properties": {"url": {"type": "string", "description": "'' when unset"}},
            "additionalProperties": True,
        },
        "AdminOk": {
            "type": "object",
            "required": ["ok", "result"],
            "properties": {"ok": {"const": True}, "result": {"description": "the action's result"}},
        },
        "AdminError": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {"type": "string"},
                "field": {"type": "string"},
                "code": {"type": "integer"},
            },
        },
    }


def _webhooks(callback_ref: str) -> dict[str, Any]:
    body = {
        "allOf": [
            {"$ref": callback_ref},
            {
                "type": "object",
                "required": ["sign"],
                "properties": {
                    "status": {"type": "integer", "enum": [20, 30, 100]},
                    "sign": {"$ref": "#/components/schemas/Sign"},
                },
            },
        ]
    }
    return {
        "transcodeCallback": {
            "post": {
                "tags": ["callbacks"],
                "operationId": "callbacks.transcode",
                "summary": "点播和回放转码回调: a recording was uploaded (20), failed (30) or is "
                "ready (100)",
                "description": "Posted to the URL set with setTranscodeCallbackUrl, form-encoded "
                "(every value a string), signed like a request with the current partner key; "
                "check the sign and that timestamp is within 300 s, and apply each qid once. "
                'Answer {"code": 0} once handled; any other answer (or HTTP status) is retried '
                "with a growing backoff, at most 5 more times.",
                "requestBody": {
                    "required": True,
                    "content": {"application/x-www-form-urlencoded": {"schema": body}},
                },
                "responses": {
                    "200": {
                        "description": 'Handled: {"code": 0} (else {"code": 1, "msg": …})',
                        "content": _admin_json(
                            {
                                "type": "object",
                                "required": ["code"],
                                "properties": {
                                    "code": {"type": "integer"},
                                    "msg": {"type": "string"},
                                },
                            }
                        ),
                    }
                },
            }
        }
    }


def console_operations(routes: Sequence[tuple[str, str]]) -> dict[str, dict[str, Schema]]:
    """The console's pages (GET, HTML) and form actions (POST), from its route table as
    ``(method, path)`` pairs; path parameters are ``{name}``."""
    paths: dict[str, dict[str, Schema]] = {}
    for method, path in routes:
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"\{(\w+)\}", path)
        ]
        slug = re.sub(r"[^A-Za-z0-9]+", "_", path.removeprefix("/_emulator/console")).strip("_")
        slug = (slug or "index") + ("_dir" if path.endswith("/") else "")
        if method == "GET":
            responses: dict[str, Any] = {
                "200": _text("The page (or the asset)", "text/html"),
                "303": {"description": "Not logged in: to the login form"},
                "403": _text("Host or Origin refused"),
                "404": _text("No such account, playback or file", "text/html"),
            }
        else:
            responses = {
                "303": {"description": "Done: back to the page"},
                "400": _text("A field of the form is wrong", "text/html"),
                "403": _text("Host, Origin or CSRF token refused"),
                "404": _text("No such account, playback or delivery", "text/html"),
            }
        operation: dict[str, Any] = {
            "tags": ["emulator-console"],
            "operationId": f"console.{method.lower()}_{slug}",
            "summary": ("Console page: " if method == "GET" else "Console action: ")
            + (path.removeprefix("/_emulator/console") or "/"),
            "responses": responses,
        }
        if params:
            operation["parameters"] = params
        if method == "POST":
            operation["requestBody"] = {
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {"type": "object", "additionalProperties": {"type": "string"}}
                    }
                }
            }
        paths.setdefault(path, {})[method.lower()] = operation
    return paths


def build_document(
    admin_actions: list[tuple[str, str, str, Any]],
    admin_fields: Mapping[str, Mapping[str, Any]],
    version: str,
    console_routes: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document (a plain dict, ready for :func:`dump`)."""
    refs, components = _model_schemas()
    components.update(_common_schemas())
    records = _record_page_schema(refs, components)
    paths: dict[str, dict[str, Schema]] = {}
    for endpoint in ep.ENDPOINTS.values():
        name = _component_name(endpoint)
        model = DATA_MODELS.get(endpoint.path)
        if model is None:
            data: Schema = records
        elif isinstance(model, dict):
            data = model
        else:
            data = {"$ref": refs[model]}
        components[f"{name}Request"] = _request_schema(endpoint)
        components[f"{name}Envelope"] = _envelope(data)
        paths[endpoint.path] = {"post": _openapi_operation(endpoint)}
    paths.update(admin_operations(admin_actions, admin_fields))
    paths.update(player_operations())
    paths.update(console_operations(list(console_routes)))
    envelope_response = {"content": _admin_json({"$ref": "#/components/schemas/ErrorEnvelope"})}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "BaijiaYun playback OpenAPI (百家云回放), as the baijiayun project understands it",
            "version": version,
            "summary": "Playback, viewing records, partner key; and the project's emulator",
            "description": DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "servers": [
            {
                "url": "https://{private_domain}.at.baijiayun.com",
                "description": "BaijiaYun (the account's private domain)",
                "variables": {"private_domain": {"default": "demo123"}},
            },
            {"url": "http://127.0.0.1:8000", "description": "baijiayun emulator serve"},
        ],
        "tags": TAGS,
        "paths": paths,
        "webhooks": _webhooks(refs[TranscodeCallback]),
        "components": {
            "schemas": dict(sorted(components.items())),
            "responses": {
                "CatchAll": {
                    "description": "Any other path: HTTP 200 with the envelope, code 404 "
                    "(请求路径不存在); a method other than GET or POST: code 405",
                    **envelope_response,
                },
                "TooLarge": {
                    "description": "The body is over the size limit (1 MiB by default): code "
                    "1001, msg 请求体过大",
                    **envelope_response,
                },
                "ServerError": {
                    "description": "An unexpected server error (logged): code 1, 服务器内部错误",
                    **envelope_response,
                },
            },
            "securitySchemes": {
                "sign": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "sign",
                    "description": SIGNING,
                    "x-signing": {
                        "fields": ["partner_id", "timestamp", "sign"],
                        "algorithm": "md5(sorted k=v joined by & + '&partner_key=' + key)",
                        "example": SIGNING_EXAMPLE,
                    },
                },
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The admin token of `baijiayun emulator serve --admin-token` "
                    "(none by default; in-process emulators need none)",
                },
            },
        },
        "x-rate-limit": RATE_LIMIT,
        "x-error-codes": {str(code): text for code, text in sorted(ERROR_CODES.items())},
    }


def dump(document: Mapping[str, Any]) -> bytes:
    """The document as the committed file's bytes: indented JSON, UTF-8, one final newline."""
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()
