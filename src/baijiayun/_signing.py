"""BaijiaYun request and callback signatures (docs/protocol.md#signing): pure functions, no I/O."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

__all__ = ["canonical_string", "mask_canonical", "sign", "verify"]

SIGN_FIELD = "sign"
KEY_FIELD = "partner_key"


def canonical_string(params: Mapping[str, str], partner_key: str) -> str:
    """Return the string that is hashed: ``k=v`` pairs sorted by key, then ``&partner_key=…``.

    Every parameter except ``sign`` takes part, empty values included as ``k=``; values are the
    decoded strings exactly as they travel.
    """
    pairs = [f"{key}={params[key]}" for key in sorted(params) if key != SIGN_FIELD]
    pairs.append(f"{KEY_FIELD}={partner_key}")
    return "&".join(pairs)


def sign(params: Mapping[str, str], partner_key: str) -> str:
    """Return the 32-character lowercase md5 sign of ``params`` under ``partner_key``."""
    return hashlib.md5(canonical_string(params, partner_key).encode("utf-8")).hexdigest()


def verify(params: Mapping[str, str], partner_key: str) -> bool:
    """Tell, in constant time, whether ``params['sign']`` is the sign of the other parameters."""
    given = params.get(SIGN_FIELD)
    if not isinstance(given, str):
        return False
    expected = sign(params, partner_key)
    return hmac.compare_digest(expected.encode("ascii"), given.lower().encode("utf-8", "replace"))


def mask_canonical(canonical: str) -> str:
    """Hide the partner_key in a canonical string so it can be shown to a user."""
    head, sep, _key = canonical.rpartition(f"&{KEY_FIELD}=")
    return f"{head}{sep}***" if sep else canonical
