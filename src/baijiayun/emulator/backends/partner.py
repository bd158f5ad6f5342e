"""Partner accounts: keys (createkey), the transcode callback URL, and a per-process cache."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy import bindparam, insert, select, update

from .. import schema as t
from ..db import Database
from ..exceptions import AccountNotFound, AlreadyExists, SignatureError
from ..rows import Account

__all__ = ["PartnerBackend"]

_ACCOUNT = select(t.accounts).where(t.accounts.c.partner_id == bindparam("partner_id"))
FIRST_PARTNER_ID = 30000001


class PartnerBackend:
    """Accounts and their keys; every request reads one, so reads are cached until a write."""

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self.db = db
        self.clock = clock
        self._cache: dict[int, Account] = {}

    def forget(self) -> None:
        """Drop the account cache (after a reset)."""
        self._cache.clear()

    def cached(self, partner_id: int) -> Account | None:
        """The account if this process has it cached (no I/O), else None."""
        return self._cache.get(partner_id)

    def account(self, partner_id: int) -> Account | None:
        """The account, or None."""
        cached = self._cache.get(partner_id)
        if cached is not None:
            return cached
        with self.db.read() as conn:
            row = conn.execute(_ACCOUNT, {"partner_id": partner_id}).first()
        if row is None:
            return None
        found = Account(**row._mapping)
        self._cache[partner_id] = found
        return found

    def require(self, partner_id: int) -> Account:
        """The account, or AccountNotFound."""
        found = self.account(partner_id)
        if found is None:
            raise AccountNotFound(f"账号不存在 partner_id={partner_id}")
        return found

    def create_account(
        self,
        partner_id: int | None = None,
        partner_key: str | None = None,
        secret_key: str | None = None,
        private_domain: str | None = None,
    ) -> Account:
        """Create an account; missing credentials are generated."""
        with self.db.tx() as conn:
            if partner_id is None:
                partner_id = self.db.next_value(conn, "partner", FIRST_PARTNER_ID)
            elif conn.execute(_ACCOUNT, {"partner_id": partner_id}).first() is not None:
                raise AlreadyExists(f"account {partner_id} already exists", "partner_id")
            account = Account(
                partner_id=partner_id,
                partner_key=partner_key or secrets.token_urlsafe(48),
                secret_key=secret_key or secrets.token_hex(16),
                private_domain=private_domain or f"e{partner_id}",
                transcode_callback_url="",
                created_at=int(self.clock()),
            )
            conn.execute(insert(t.accounts).values(**account.__dict__))
        return account

    def rotate_key(self, partner_id: int, secret_key: str, regenerate: bool) -> str:
        """createkey: return (or with ``regenerate`` replace) the partner_key."""
        with self.db.tx() as conn:
            row = conn.execute(_ACCOUNT, {"partner_id": partner_id}).first()
            if row is None:
                raise AccountNotFound(f"账号不存在 partner_id={partner_id}")
            account = Account(**row._mapping)
            if not secrets.compare_digest(account.secret_key.encode(), secret_key.encode()):
                raise SignatureError("secret_key 错误")
            if not regenerate:
                return account.partner_key
            key = secrets.token_urlsafe(48)
            self._cache.pop(partner_id, None)
            conn.execute(
                update(t.accounts)
                .where(t.accounts.c.partner_id == partner_id)
                .values(partner_key=key)
            )
            return key

    def set_callback_url(self, partner_id: int, url: str) -> None:
        """setTranscodeCallbackUrl."""
        with self.db.tx() as conn:
            self._cache.pop(partner_id, None)
            conn.execute(
                update(t.accounts)
                .where(t.accounts.c.partner_id == partner_id)
                .values(transcode_callback_url=url)
            )
