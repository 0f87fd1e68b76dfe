"""Server-side record of admin sessions: created at sign-in, revoked at sign-out."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from syndicate.storage.models import AdminSessionRow


def _hash(session_id: str) -> str:
    # Only a hash is stored: reading the table does not yield a usable cookie.
    return hashlib.sha256(session_id.encode()).hexdigest()


class AdminSessionStore:
    """Admin sessions by id; each method is one short transaction."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    def create(self, session_id: str, *, now: datetime, expires_at: datetime) -> None:
        """Record a new session; sessions expired before `now` are deleted on the way."""
        with self._sessions() as s:
            s.execute(delete(AdminSessionRow).where(AdminSessionRow.expires_at < now))
            s.add(AdminSessionRow(id_hash=_hash(session_id), created_at=now, expires_at=expires_at))
            s.commit()

    def is_active(self, session_id: str, *, now: datetime) -> bool:
        """True when the session exists, is not revoked and has not expired."""
        with self._sessions() as s:
            row = s.get(AdminSessionRow, _hash(session_id))
            return row is not None and row.revoked_at is None and row.expires_at > now

    def revoke(self, session_id: str, *, now: datetime) -> None:
        """End the session for good (idempotent)."""
        with self._sessions() as s:
            s.execute(update(AdminSessionRow).where(AdminSessionRow.id_hash == _hash(session_id),
                                                    AdminSessionRow.revoked_at.is_(None))
                      .values(revoked_at=now))
            s.commit()
