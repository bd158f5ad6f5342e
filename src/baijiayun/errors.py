"""The error tree: every failure the SDK raises derives from :class:`BaiJiaYunError`.

::

    BaiJiaYunError                      root of every error this package raises to a caller
    ├── InvalidArgumentError (ValueError)   an argument refused before anything was sent
    ├── APIConnectionError              no answer: not reached, or the connection broke
    │   │                                 (.request_sent; .outcome_unknown: a delete or
    │   │                                 replace_playback that may have been applied)
    │   └── APITimeoutError             the call's deadline passed (in any phase)
    ├── APIStatusError                  a non-2xx HTTP status (.status_code, .retry_after)
    ├── ResponseDecodeError             not the {code, msg, data} envelope, or data misshapen
    ├── APIError                        the service answered code != 0 (.code, .meaning, .msg)
    │   ├── ParameterError              1001
    │   ├── SignatureError              1002
    │   ├── AccountNotFoundError        2001
    │   ├── PermissionDeniedError       2002
    │   ├── AccountDisabledError        2003
    │   ├── RoomNotFoundError           3001
    │   ├── RoomDeletedError            3002
    │   ├── PathNotFoundError           404
    │   └── RateLimitError              429, or code 1 about 频繁/limit
    ├── DryRunRequest                   dry_run=True: the request that was not sent
    ├── SharedStateError                Redis or a governor's SQLite file unusable; nothing sent
    ├── CallbackVerificationError       a callback with missing fields, stale or badly signed
    ├── BulkInputError (ValueError)     baijiayun.bulk: bad input rows, all listed; nothing sent
    ├── BulkJournalError                baijiayun.bulk: the journal belongs to another account
    │                                     or run
    ├── MirrorLockedError               baijiayun.mirror: another sync holds the account's lock
    └── SchemaVersionError              baijiayun.mirror: the database is from a newer release

Outside that tree, never raised to an SDK caller: the emulator's errors, each answered as the
envelope (or HTTP status) the real service would send::

    EmulatorError                       a business error: BaijiaYun code and msg
    ├── InvalidParameter                1001 (.param names it)
    │   ├── AlreadyExists               1001: an admin call would create what exists
    │   └── BadTransition               1001: a recording cannot move to the asked status
    ├── BodyTooLarge                    HTTP 413, 1001
    ├── SignatureError                  1002
    ├── AccountNotFound                 2001
    ├── RoomNotFound                    3001
    ├── RoomDeleted                     3002
    ├── PlaybackNotFound                1: no such playback or version
    ├── NotGenerated                    1: the playback is not generated yet
    └── RateLimited                     429

and, on their own: ``PlayerRefused`` (the emulator's player page answers 403), ``FieldError``
(``ValueError``: an admin field, answered 400), ``ExposedWithoutToken`` (``ValueError``: an
emulator bound beyond loopback without an admin token, refused at start-up), the CLI's
``MissingExtra`` (a ``click.ClickException``, exit 2), ``RuleError`` (``ValueError``: parameters that
break a rule between them, in ``_endpoints``), and signals caught where they are raised:
``SyncStopped`` (a mirror run asked to stop), ``ClientGone`` (an emulator
client gone mid-body), ``Dropped`` (an injected ``drop`` fault cutting a reply), ``Refused`` (a
console request answered with its status and reason), ``_OutOfRange`` (a number in a reply no
field can hold: a ``ResponseDecodeError``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CODE_MEANINGS",
    "RATE_LIMIT_CODE",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AccountDisabledError",
    "AccountNotFoundError",
    "BaiJiaYunError",
    "CallbackVerificationError",
    "DryRunRequest",
    "InvalidArgumentError",
    "ParameterError",
    "PathNotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseDecodeError",
    "RoomDeletedError",
    "RoomNotFoundError",
    "SignatureError",
    "error_for_code",
]

RATE_LIMIT_CODE = 429
"""Body code the emulator (and this SDK) use for rate limiting (docs/protocol.md#decisions)."""

CODE_MEANINGS: dict[int, str] = {
    1: "generic error, see msg (通用错误)",
    404: "request path does not exist (请求路径不存在)",
    1001: "parameter error (参数错误)",
    1002: "signature error (签名错误)",
    2001: "account does not exist (账号不存在)",
    2002: "account permission error (账号权限错误)",
    2003: "live account not opened or service stopped (直播账号未开通或已停用)",
    3001: "room id does not exist (房间号不存在)",
    3002: "room has been deleted (房间已删除)",
    4001: "file upload failed (文件上传失败)",
    RATE_LIMIT_CODE: "too many requests: over 200 calls per 10 s (请求过于频繁)",
}


class BaiJiaYunError(Exception):
    """Root of every error this package raises."""


class InvalidArgumentError(BaiJiaYunError, ValueError):
    """An argument was refused before anything was sent; the message names it."""

    def __init__(self, argument: str, problem: str) -> None:
        self.argument = argument
        self.problem = problem
        super().__init__(f"invalid argument {argument!r}: {problem}")


class APIConnectionError(BaiJiaYunError):
    """The service could not be reached, or the connection broke before an answer came.

    ``request_sent``: the request may have reached the service. ``outcome_unknown``: it did so for
    a call that changes state and is not re-sent automatically (``delete``, ``replace_playback``),
    so it may have been applied — read the state back before sending it again.
    """

    outcome_unknown: bool = False

    def __init__(self, endpoint: str, message: str, *, request_sent: bool = False) -> None:
        self.endpoint = endpoint
        self.request_sent = request_sent
        super().__init__(f"{endpoint}: {message}")


class APITimeoutError(APIConnectionError):
    """The request timed out; it may have reached the server."""


class APIStatusError(BaiJiaYunError):
    """The server answered with a non-2xx HTTP status."""

    def __init__(
        self, endpoint: str, status_code: int, body: str, retry_after: float | None = None
    ) -> None:
        self.endpoint = endpoint
        self.status_code = status_code
        self.body = body
        self.retry_after = retry_after
        super().__init__(f"{endpoint}: HTTP {status_code}: {body[:200]}")


class ResponseDecodeError(BaiJiaYunError):
    """The body was not the JSON envelope ``{code, msg, data}`` or data had the wrong shape."""

    def __init__(self, endpoint: str, problem: str, body: str = "") -> None:
        self.endpoint = endpoint
        self.body = body
        super().__init__(f"{endpoint}: undecodable response: {problem}")


class APIError(BaiJiaYunError):
    """BaijiaYun answered with a non-zero ``code``."""

    def __init__(
        self, endpoint: str, code: int, msg: str, retry_after: float | None = None
    ) -> None:
        self.endpoint = endpoint
        self.code = code
        self.msg = msg
        self.meaning = CODE_MEANINGS.get(code, "unknown error code")
        self.retry_after = retry_after
        super().__init__(f"{endpoint}: code {code} ({self.meaning}): {msg}")


class ParameterError(APIError):
    """Code 1001: a parameter was missing or invalid."""


class SignatureError(APIError):
    """Code 1002: the sign did not match (wrong partner_key, or a rotated key)."""


class AccountNotFoundError(APIError):
    """Code 2001: the partner_id is unknown."""


class PermissionDeniedError(APIError):
    """Code 2002: the account lacks the permission for this feature."""


class AccountDisabledError(APIError):
    """Code 2003: the live account is not opened or was stopped."""


class RoomNotFoundError(APIError):
    """Code 3001: the room id does not exist."""


class RoomDeletedError(APIError):
    """Code 3002: the room has been deleted."""


class PathNotFoundError(APIError):
    """Code 404: the request path does not exist."""


class RateLimitError(APIError):
    """The account went over its call limit (200 per 10 s); safe to retry later."""


class DryRunRequest(BaiJiaYunError):
    """Raised instead of sending when a client runs with ``dry_run=True``.

    ``request`` is the :class:`httpx.Request` that would have been sent (signed as for a real call;
    the sign is a placeholder when the partner_key is not known yet) and ``form`` its form fields
    with ``sign``, ``partner_key`` and ``secret_key`` masked as ``"***"``.
    """

    def __init__(self, request: httpx.Request, form: dict[str, str]) -> None:
        self.request = request
        self.form = form
        super().__init__(f"dry run: {request.method} {request.url} (nothing sent)")


class SharedStateError(BaiJiaYunError):
    """Redis or a governor's file, shared between processes, could not be used; nothing was sent."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        super().__init__(f"{where}: {message}")


class CallbackVerificationError(BaiJiaYunError):
    """A callback failed verification: missing fields, stale timestamp or a wrong sign."""


_CODE_CLASSES: dict[int, type[APIError]] = {
    1001: ParameterError,
    1002: SignatureError,
    2001: AccountNotFoundError,
    2002: PermissionDeniedError,
    2003: AccountDisabledError,
    3001: RoomNotFoundError,
    3002: RoomDeletedError,
    404: PathNotFoundError,
    RATE_LIMIT_CODE: RateLimitError,
}


def _is_rate_limit_message(msg: str) -> bool:
    lowered = msg.lower()
    return "频繁" in msg or "limit" in lowered


def error_for_code(endpoint: str, code: int, msg: str) -> APIError:
    """Build the exception for a non-zero body ``code`` (code 1 about 频繁/limit is a rate limit)."""
    if code == 1 and _is_rate_limit_message(msg):
        return RateLimitError(endpoint, code, msg)
    return _CODE_CLASSES.get(code, APIError)(endpoint, code, msg)
