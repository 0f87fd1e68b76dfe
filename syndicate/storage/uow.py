"""The SQL unit of work: one session, one transaction, every store on it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from syndicate.storage.articles import SqlArticleStore
from syndicate.storage.db import SessionUnitOfWork
from syndicate.storage.outbox import SqlEventStore


class SqlUnitOfWork(SessionUnitOfWork):
    """UnitOfWork over SQLAlchemy; not re-entrant, make one per use."""

    articles: SqlArticleStore
    events: SqlEventStore

    def _open(self, session: Session) -> None:
        self.articles = SqlArticleStore(session)
        self.events = SqlEventStore(session)
