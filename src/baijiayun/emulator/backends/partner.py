"""Partner accounts: keys (createkey) and the transcode callback URL."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy import bindparam, insert, select, update

from .. import schema as t
from ..db import Database, Prepared
from ..exceptions import AccountNotFound, AlreadyExists, SignatureError
from ..faults import FAULTS_EXIST
from ..rows import Account, Caller

__all__ = ["PartnerBackend"]

_NAMED = t.accounts.c.partner_id == bindparam("partner_id")
_ACCOUNT = select(t.accounts).where(_NAMED)
_READ_ACCOUNT = Prepared(_ACCOUNT)
_READ_CALLER = Prepared(select(FAULTS_EXIST, *t.accounts.c).where(_NAMED))
FIRST_PARTNER_ID = 30000001


class PartnerBackend:
    """Accounts and their keys.

    Nothing is cached in the process: every request reads its account (one primary-key read),
    so a key rotated through any worker or host is the key the next request is checked with.
    """

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self.db = db
        self.clock = clock

    def account(self, partner_id: int) -> Account | None:
        """The account, or None."""
        rows = self.db.fetch(_READ_ACCOUNT, {"partner_id": partner_id})
        return Account(**dict(zip(_READ_ACCOUNT.names, rows[0], strict=True))) if rows else None

    def caller(self, partner_id: int) -> Caller:
        """The account a request names, and whether fault rules exist (one round trip)."""
        rows = self.db.fetch(_READ_CALLER, {"partner_id": partner_id})
        if not rows:
            return Caller(None, True)  # no account: a rare answer, the faults are looked up
        names = _READ_CALLER.names[1:]
        return Caller(Account(**dict(zip(names, rows[0][1:], strict=True))), bool(rows[0][0]))

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
            # locked: two concurrent rotations return the keys in the order they were stored
            row = conn.execute(_ACCOUNT.with_for_update(), {"partner_id": partner_id}).first()
            if row is None:
                raise AccountNotFound(f"账号不存在 partner_id={partner_id}")
            account = Account(**row._mapping)
            if not secrets.compare_digest(account.secret_key.encode(), secret_key.encode()):
                raise SignatureError("secret_key 错误")
            if not regenerate:
                return account.partner_key
            key = secrets.token_urlsafe(48)
            conn.execute(
                update(t.accounts)
                .where(t.accounts.c.partner_id == partner_id)
                .values(partner_key=key)
            )
            return key

    def set_callback_url(self, partner_id: int, url: str) -> None:
        """setTranscodeCallbackUrl."""
        with self.db.tx() as conn:
            conn.execute(
                update(t.accounts)
                .where(t.accounts.c.partner_id == partner_id)
                .values(transcode_callback_url=url)
            )
