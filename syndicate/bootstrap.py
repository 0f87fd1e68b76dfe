"""The one place where syndicate is wired together, for the API, the CLI and the worker alike.

`bootstrap()` builds every process-wide object once (engine, Celery app, task queue, HTTP client,
mailer, caches, counters) and binds each event handler to exactly the dependencies it names
(`inject_dependencies`, as in cosmicpython), so feature code never sees the `Container`. Only
entrypoints (web routes, CLI commands, worker tasks) hold a container.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syndicate.errors import ConfigError
from syndicate.settings import Settings, load_settings
from syndicate.storage import db
from syndicate.storage.db import Engine

if TYPE_CHECKING:
    from syndicate.broker.taskqueue import CeleryTaskQueue, SyndicateCelery
    from syndicate.digests.bounces import BounceReports
    from syndicate.digests.optin import OptIn
    from syndicate.digests.ports import DeliveryStore
    from syndicate.digests.service import DigestService
    from syndicate.feeds.service import FeedService
    from syndicate.mail.mailer import Mailer
    from syndicate.partners.registry import PartnerRegistry
    from syndicate.partners.service import PartnerPushes
    from syndicate.partners.transport import PartnerClient
    from syndicate.services.articles import ArticleService
    from syndicate.services.handlers import Handler
    from syndicate.services.messagebus import BoundHandler
    from syndicate.storage.admin_read import SqlAdminReads
    from syndicate.storage.article_list import DriverArticleList
    from syndicate.storage.articles import SqlArticleReader
    from syndicate.storage.db import SessionFactory
    from syndicate.storage.digest_read import DigestReads
    from syndicate.storage.event_log import SqlEventLog
    from syndicate.storage.feed_documents import SqlFeedDocuments
    from syndicate.storage.metrics_read import SqlMetricsReads
    from syndicate.storage.partner_read import SqlPartnerReads
    from syndicate.storage.runtime_stats import SqlTelemetry
    from syndicate.storage.stories import SqlStoryReader
    from syndicate.storage.subscriber_store import SqlDigestUnitOfWork
    from syndicate.storage.uow import SqlUnitOfWork

class Wired:
    """A Container attribute built on first use by the named `_wire_*` function.

    `bootstrap()` wires everything at once (a bad setting fails at start); `bootstrap(eager=False)`
    leaves each feature until a command touches it, so a short command imports only what it uses
    (Celery, premailer, FastAPI…). The value lands in the instance, so later reads, and a test
    replacing it, bypass this descriptor.
    """

    def __init__(self, wire: str) -> None:
        self.wire = wire

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Container | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        obj.wire(self.wire)
        return obj.__dict__[self.name]


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass
class Container:
    """Everything an entrypoint needs; built once per process by bootstrap().

    Services get `clock` (not `now` itself), so a test may replace `container.now` after
    bootstrap and every service sees the new time. Features are `Wired`: built together by
    bootstrap(), or on first use with bootstrap(eager=False).
    """

    settings: Settings
    engine: Engine
    now: Callable[[], datetime] = field(default=utc_now)
    if TYPE_CHECKING:  # the types of the features; at run time each is a `Wired` attribute
        # Sessions (the ORM is imported when the first feature that needs them is built)
        session_factory: SessionFactory = field(init=False)
        # Broker
        celery: SyndicateCelery = field(init=False)
        tasks: CeleryTaskQueue = field(init=False)
        handlers: dict[str, list[BoundHandler]] = field(init=False)
        # Articles
        articles: ArticleService = field(init=False)
        article_reader: SqlArticleReader = field(init=False)
        article_list: DriverArticleList = field(init=False)  # no SQLAlchemy, for `articles list`
        event_log: SqlEventLog = field(init=False)
        stories: SqlStoryReader = field(init=False)
        # Feeds: `feed_service()` writes where FEED_STORE says, `feed_service(DIR)` files into DIR
        feed_service: Callable[..., FeedService] = field(init=False)
        feed_documents: SqlFeedDocuments | None = field(init=False)  # FEED_STORE=database only
        # Partners
        partner_client: PartnerClient = field(init=False)
        partner_pushes: PartnerPushes = field(init=False)
        partner_registry: PartnerRegistry = field(init=False)
        partner_reads: SqlPartnerReads = field(init=False)
        # Digests
        recording_engine: Engine | None = field(init=False)  # the sending loop's ledger writes
        mailer: Mailer = field(init=False)
        digest_uow: Callable[[], SqlDigestUnitOfWork] = field(init=False)
        digests: DigestService = field(init=False)
        optin: OptIn = field(init=False)
        bounce_reports: BounceReports = field(init=False)
        digest_reads: DigestReads = field(init=False)
        # Operators: counters and heartbeats in the database, and the /metrics read model
        telemetry: SqlTelemetry = field(init=False)
        metrics_reads: SqlMetricsReads = field(init=False)
        # The admin dashboard's own queries (list growth, deliveries per day, article search)
        admin_reads: SqlAdminReads = field(init=False)
    else:
        session_factory = Wired("sessions")
        celery = Wired("broker")
        tasks = Wired("broker")
        handlers = Wired("handlers")
        articles = Wired("articles")
        article_reader = Wired("article_reads")
        article_list = Wired("article_list")
        event_log = Wired("event_log")
        stories = Wired("stories")
        feed_service = Wired("feeds")
        feed_documents = Wired("feeds")
        partner_client = Wired("partners")
        partner_pushes = Wired("partners")
        partner_registry = Wired("partners")
        partner_reads = Wired("partners")
        recording_engine = Wired("digests")
        mailer = Wired("digests")
        digest_uow = Wired("digests")
        digests = Wired("digests")
        optin = Wired("digests")
        bounce_reports = Wired("digests")
        digest_reads = Wired("digests")
        telemetry = Wired("telemetry")
        metrics_reads = Wired("telemetry")
        admin_reads = Wired("admin_reads")

    def clock(self) -> datetime:
        """The current time as `now` gives it."""
        return self.now()

    def uow(self) -> SqlUnitOfWork:
        """A new unit of work on articles and the outbox (one transaction)."""
        from syndicate.storage.uow import SqlUnitOfWork

        return SqlUnitOfWork(self.session_factory)

    def deliveries(self) -> DeliveryStore:
        """The delivery ledger as the digest sending engine uses it (one per process)."""
        return self.digests.deliveries

    def dependencies(self) -> dict[str, Any]:
        """What handlers may ask for, by parameter name."""
        return {
            "settings": self.settings,
            "now": self.clock,
            "uow": self.uow,
            "tasks": self.tasks,
            "articles": self.article_reader,
            "partner_pushes": self.partner_pushes,
            "digests": self.digests,
            "telemetry": self.telemetry,
        }

    def wire(self, feature: str) -> None:
        """Build one feature (`WIRING`'s key) unless it is built already."""
        built: set[str] = self.__dict__.setdefault("_wired", set())
        if feature not in built:
            WIRING[feature](self)
            built.add(feature)  # after: a feature that failed to build is tried again

    def wire_all(self) -> None:
        """Build every feature now (what bootstrap() does unless told eager=False)."""
        for feature in WIRING:
            self.wire(feature)

    def close(self) -> None:
        """Release pooled connections (of the features that were built)."""
        built = self.__dict__
        if "partner_client" in built:
            self.partner_client.close()
        self.engine.dispose()
        recording = built.get("recording_engine")
        if recording is not None:
            recording.dispose()


def inject_dependencies(handler: Handler, dependencies: Mapping[str, Any]) -> BoundHandler:
    """Bind the keyword parameters `handler` names (after the event) from `dependencies`.

    Raises ConfigError naming the handler and the parameter when a dependency does not exist, so
    a typo fails at start, not at the first event.
    """
    params = list(inspect.signature(handler).parameters.values())[1:]
    missing = [p.name for p in params if p.name not in dependencies]
    if missing:
        raise ConfigError(f"handler {handler.__qualname__} asks for unknown dependencies {missing}")
    return partial(handler, **{p.name: dependencies[p.name] for p in params})


def bootstrap(
    settings: Settings | None = None, *, migrate: bool = False, check_schema: bool = False,
    eager: bool = True,
) -> Container:
    """Build the container: validate settings, create the engine and the Celery app, bind handlers.

    Nothing connects here except `migrate=True`, which applies pending migrations (the embedded
    `serve` does this; production runs `syndicate db upgrade` as its own step), and
    `check_schema=True`, which raises ConfigError when migrations are pending. With
    `eager=False` each feature is built (and its modules imported) on first use instead.
    """
    settings = settings or load_settings()
    settings.require_secrets()
    engine = db.make_engine(settings.effective_database_url)
    current = (migrate or check_schema) and db.is_current(engine)
    if migrate and not current:
        db.upgrade(engine)
    elif check_schema and not current:
        raise ConfigError(
            f"the database at DATABASE_URL={engine.url.render_as_string(hide_password=True)} is not "
            "at the newest schema; run `syndicate db upgrade` first"
        )
    container = Container(settings=settings, engine=engine)
    if eager:
        container.wire_all()
    return container


def _wire_broker(c: Container) -> None:
    """The Celery app (it finds the container through `celery.container`) and the task queue."""
    from syndicate.broker.taskqueue import CeleryTaskQueue, files_broker_dir, make_celery

    s = c.settings
    celery = make_celery(s)
    celery.container = c
    c.celery = celery
    c.tasks = CeleryTaskQueue(celery, s.celery_queue, s.redis_url,
                              None if s.redis_url else files_broker_dir(s))


def _wire_handlers(c: Container) -> None:
    from syndicate.services.handlers import HANDLERS

    deps = c.dependencies()
    c.handlers = {
        event_type: [inject_dependencies(h, deps) for h in handlers]
        for event_type, handlers in HANDLERS.items()
    }


def _wire_sessions(c: Container) -> None:
    """The ORM's sessions on the engine (every SQL adapter but the plain-SQL article list)."""
    c.session_factory = db.make_session_factory(c.engine)


def _wire_telemetry(c: Container) -> None:
    """First, so every feature may record into it: one Telemetry on `runtime_stats`."""
    from syndicate.storage.metrics_read import SqlMetricsReads
    from syndicate.storage.runtime_stats import SqlTelemetry

    c.telemetry = SqlTelemetry(c.session_factory, c.clock)
    c.metrics_reads = SqlMetricsReads(c.session_factory)


def _wire_articles(c: Container) -> None:
    from syndicate.domain.articles import tag_authority
    from syndicate.services.articles import ArticleLimits, ArticleService

    s = c.settings
    c.articles = ArticleService(
        c.uow, c.tasks, c.clock,
        ArticleLimits(max_body_bytes=s.max_body_bytes, media_base_url=s.public_media_url,
                      media_dir=s.var_dir / "media", tag_authority=tag_authority(s.base_url)),
    )


def _wire_article_reads(c: Container) -> None:
    """The read model of articles (no broker: listing commands need only this)."""
    from syndicate.storage.articles import SqlArticleReader

    c.article_reader = SqlArticleReader(c.session_factory)


def _wire_article_list(c: Container) -> None:
    """The article list of `articles list`, through the database's driver (no SQLAlchemy): the
    command itself builds one without a container (cli/main.py); this one is for tests."""
    from syndicate.storage.article_list import DriverArticleList

    c.article_list = DriverArticleList(c.settings.effective_database_url)


def _wire_event_log(c: Container) -> None:
    """The read model of the outbox's events (the admin's health and article pages)."""
    from syndicate.storage.event_log import SqlEventLog

    c.event_log = SqlEventLog(c.session_factory)


def _wire_stories(c: Container) -> None:
    """The read model of stories: an article with its translations (the public article page)."""
    from syndicate.storage.stories import SqlStoryReader

    c.stories = SqlStoryReader(c.session_factory)


def _wire_feeds(c: Container) -> None:
    """A factory, not one service: `feeds build --out DIR` writes files elsewhere than the store."""
    from syndicate.feeds.folder import FeedFolder
    from syndicate.feeds.outputs import StoredFeeds
    from syndicate.feeds.service import FeedService, feeds_root
    from syndicate.storage.feed_documents import SqlFeedDocuments
    from syndicate.storage.feed_store import SqlFeedUnitOfWork
    from syndicate.storage.locks import AdvisoryLocks

    s = c.settings
    service = partial(FeedService, s, partial(SqlFeedUnitOfWork, c.session_factory), AdvisoryLocks(c.engine),
                      now=c.clock)
    documents = SqlFeedDocuments(c.session_factory) if s.effective_feed_store == "database" else None
    c.feed_documents = documents

    def feed_service(out: Path | None = None) -> FeedService:
        if out is not None or documents is None:
            return service(out if out is not None else feeds_root(s))
        # PUBLIC_DIR, when set, stays an export of the stored documents for nginx or a CDN origin.
        export = FeedFolder(feeds_root(s)) if s.public_dir is not None else None
        return service(StoredFeeds(documents, s.var_dir / "feed-locks", export))

    c.feed_service = feed_service


def _wire_partners(c: Container) -> None:
    """One partner HTTP client (one connection pool per process), pushes, registry, read model."""
    from syndicate.partners.registry import PartnerRegistry
    from syndicate.partners.service import PartnerPushes
    from syndicate.partners.transport import PartnerClient
    from syndicate.storage.partner_push_store import SqlPushStore
    from syndicate.storage.partner_read import SqlPartnerReads
    from syndicate.storage.partner_store import SqlPartnerStore

    s = c.settings
    c.partner_client = PartnerClient(s.partner_timeout_s, allow_private=s.partner_allow_private,
                                     concurrency=s.partner_concurrency)
    c.partner_pushes = PartnerPushes(
        SqlPushStore(c.session_factory), c.partner_client, c.tasks, now=c.clock,
        base_url=s.base_url, timeout_s=s.partner_timeout_s,
        disable_after_days=s.partner_disable_after_days, batch_size=s.partner_concurrency,
        lease_s=s.partner_lease_seconds,
    )
    c.partner_registry = PartnerRegistry(
        SqlPartnerStore(c.session_factory), c.partner_pushes, now=c.clock,
        allow_private=s.partner_allow_private,
        secret_overlap=timedelta(hours=s.partner_secret_overlap_hours),
    )
    c.partner_reads = SqlPartnerReads(c.session_factory)


def _wire_digests(c: Container) -> None:
    """One rate counter (Redis-shared when REDIS_URL is set) for subscribe limits and the send
    pace, one Mailer (DKIM signer + pace) for digests and confirmations, one rendered-edition
    cache, one link signer."""
    from syndicate.digests.bounces import BounceReports
    from syndicate.digests.edition_mail import TemplateCache
    from syndicate.digests.fanout import Fanout
    from syndicate.digests.optin import OptIn
    from syndicate.digests.ratelimit import SendPace, make_counter
    from syndicate.digests.service import DigestService
    from syndicate.digests.tokens import Signer
    from syndicate.mail.mailer import build_mailer
    from syndicate.storage.delivery_store import SqlBounceStore, SqlDeliveryStore
    from syndicate.storage.digest_read import DigestReads
    from syndicate.storage.edition_store import SqlEditionStore
    from syndicate.storage.subscriber_store import SqlDigestUnitOfWork

    s = c.settings
    counter = make_counter(s.redis_url)
    signer = Signer(s.resolved_secret_key)
    c.mailer = build_mailer(s, SendPace(counter, s.mail_send_rate))
    c.digest_uow = partial(SqlDigestUnitOfWork, c.session_factory)
    c.recording_engine = db.make_recording_engine(c.engine)
    ledger = SqlDeliveryStore(c.session_factory, c.recording_engine)
    fanout = Fanout(ledger, c.mailer, TemplateCache(), signer, s, c.clock)
    c.digests = DigestService(ledger, SqlEditionStore(c.session_factory), c.digest_uow, tasks=c.tasks,
                              fanout=fanout, settings=s, now=c.clock, telemetry=c.telemetry)
    c.optin = OptIn(c.digest_uow, c.mailer, counter, signer, s, c.clock)
    c.bounce_reports = BounceReports(SqlBounceStore(c.session_factory), s.resolved_secret_key,
                                     s.mail_domain, c.clock)
    c.digest_reads = DigestReads(c.session_factory)


# Feature wiring by name, in dependency order (what `Wired` attributes and wire_all() call).
def _wire_admin_reads(c: Container) -> None:
    """The admin dashboard's read model."""
    from syndicate.storage.admin_read import SqlAdminReads

    c.admin_reads = SqlAdminReads(c.session_factory)


WIRING: dict[str, Callable[[Container], None]] = {
    "sessions": _wire_sessions,
    "telemetry": _wire_telemetry,
    "broker": _wire_broker,
    "articles": _wire_articles,
    "article_reads": _wire_article_reads,
    "article_list": _wire_article_list,
    "event_log": _wire_event_log,
    "stories": _wire_stories,
    "feeds": _wire_feeds,
    "partners": _wire_partners,
    "digests": _wire_digests,
    "handlers": _wire_handlers,
    "admin_reads": _wire_admin_reads,
}


def prepare_worker_process(container: Container) -> None:
    """In a process about to run a Celery worker: batch scheduling (`batch_scheduling`), and
    drop pooled connections in each forked child."""
    from celery.signals import worker_process_init

    batch_scheduling()

    def after_fork(**_: Any) -> None:
        for engine in (container.engine, container.recording_engine):
            if engine is not None:
                engine.dispose(close=False)

    worker_process_init.connect(after_fork, weak=False)


def batch_scheduling() -> bool:
    """On Linux, put the calling thread, and the threads and processes it starts from now on,
    under the SCHED_BATCH policy (same priority and nice value, no preemption on wake-up);
    True when that was done, False elsewhere or when the system refused (nothing changes then).

    A sending process wakes one connection thread per message recorded (group commit). Under
    the default policy a woken thread may preempt the thread that woke it while that one holds
    the GIL, and then neither runs until the waker is scheduled again (the likely cause of what
    the profile showed: a tenth of the Python time in lock releases). Measured with
    bench/fanout.py -n 30000, 2 worker processes, three alternating pairs: 4,036-4,183 msg/s
    against 3,701-3,860, worker CPU per message 199-203 µs against 214-228.
    """
    import os

    policy = getattr(os, "SCHED_BATCH", None)
    if policy is None:
        return False
    try:
        os.sched_setscheduler(0, policy, os.sched_param(0))
    except OSError:
        return False
    return True
