"""The SQL unit of work: one session, one transaction, every store on it."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from syndicate.storage.articles import SqlArticleStore
from syndicate.storage.outbox import SqlEventStore


class SqlUnitOfWork:
    """UnitOfWork over SQLAlchemy; not re-entrant, make one per use."""

    articles: SqlArticleStore
    events: SqlEventStore
    session: Session

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory

    def __enter__(self) -> SqlUnitOfWork:
        self.session = self._factory()
        self.articles = SqlArticleStore(self.session)
        self.events = SqlEventStore(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        """Commit the transaction."""
        self.session.commit()
