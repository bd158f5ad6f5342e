"""Named errors of the emulated service: each carries the BaijiaYun ``code`` it is answered with."""

from __future__ import annotations

__all__ = [
    "AccountNotFound",
    "AlreadyExists",
    "BadTransition",
    "EmulatorError",
    "InvalidParameter",
    "NotGenerated",
    "PlaybackNotFound",
    "PlayerRefused",
    "RateLimited",
    "RoomDeleted",
    "RoomNotFound",
    "SignatureError",
    "WrongSecret",
]


class EmulatorError(Exception):
    """A business error the emulator answers with: BaijiaYun ``code`` and ``msg``."""

    code = 1
    http_status = 200
    """BaijiaYun answers business errors with HTTP 200; a few (body too large) with their own."""
    detail = ""
    """More than ``msg`` says, for the operator (the console's Calls page), never the caller."""

    def __init__(self, msg: str, code: int | None = None) -> None:
        if code is not None:
            self.code = code
        self.msg = msg
        super().__init__(f"{self.code}: {msg}")


class InvalidParameter(EmulatorError):
    """1001: a parameter is missing or breaks its declared rule (``param`` names it)."""

    code = 1001

    def __init__(self, msg: str, param: str | None = None) -> None:
        self.param = param
        super().__init__(msg)


class AlreadyExists(InvalidParameter):
    """1001: an admin call would create something that exists already."""


class BadTransition(InvalidParameter):
    """1001: a recording cannot move to the asked status."""


class SignatureError(EmulatorError):
    """1002: the sign is missing or wrong, or partner_key was sent."""

    code = 1002


WrongSecret = SignatureError


class AccountNotFound(EmulatorError):
    """2001: no account with this partner_id."""

    code = 2001


class RoomNotFound(EmulatorError):
    """3001: no room with this id for this account."""

    code = 3001


class RoomDeleted(EmulatorError):
    """3002: the room was deleted."""

    code = 3002


class PlaybackNotFound(EmulatorError):
    """1: no playback (or no such version) where the call points."""

    code = 1


class NotGenerated(EmulatorError):
    """1: the playback is not generated (status 100) yet."""

    code = 1


class RateLimited(EmulatorError):
    """429: more calls than the account's rate limit allows."""

    code = 429


class PlayerRefused(Exception):
    """The web player page refuses a token (answered with HTTP 403)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
