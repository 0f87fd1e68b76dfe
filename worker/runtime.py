"""How a task reaches the dependencies of its process: through the app bootstrap built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from celery import Task

from syndicate.broker.taskqueue import SyndicateCelery
from syndicate.errors import ConfigError

if TYPE_CHECKING:
    from syndicate.bootstrap import Container


def container_of(task: Task) -> Container:
    """The container of the app running `task`; ConfigError when bootstrap did not build that app."""
    app = task.app
    container = app.container if isinstance(app, SyndicateCelery) else None
    if container is None:
        raise ConfigError("the Celery app was not built by syndicate.bootstrap; run `syndicate worker`")
    return container
