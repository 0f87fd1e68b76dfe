"""The Celery application object; configured by syndicate.bootstrap, never at import."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from celery import Celery
from celery.signals import worker_process_init

if TYPE_CHECKING:
    from syndicate.bootstrap import Container

app = Celery(
    "syndicate",
    include=["worker.tasks", "worker.feeds_tasks", "worker.partners_tasks", "worker.digest_tasks"],
)

_container: Container | None = None


def use_container(container: Container) -> None:
    """Make the tasks of this process use `container` (the CLI sets it before starting)."""
    global _container
    _container = container


def container() -> Container:
    """The container tasks run with; built from the environment on first use."""
    global _container
    if _container is None:
        from syndicate.bootstrap import bootstrap

        _container = bootstrap()
    return _container


@app.on_configure.connect
def _configure_from_environment(sender: Celery, **_: Any) -> None:
    # Lets `celery -A worker.app worker` work too: settings come from the environment. Celery
    # fires this lazily, when the app is first used; by then bootstrap() may have configured the
    # app from other settings, and those must win.
    if _container is not None:
        return
    from syndicate.broker import configure_celery
    from syndicate.settings import load_settings

    configure_celery(sender, load_settings())


@worker_process_init.connect
def _after_fork(**_: Any) -> None:
    # Pooled connections must not be shared across a fork.
    if _container is not None:
        _container.engine.dispose(close=False)
