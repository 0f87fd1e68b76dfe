"""Log output: plain lines for people, or one JSON object per line (LOG_FORMAT=json) for machines."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra=` and is kept.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


#: Libraries' INFO lines that repeat without news: Celery's per-task "received"/"succeeded" and
#: beat's "Sending due task" (three sweeps every few seconds), Alembic's per-connection context
#: lines. Our own lines say what happened once (an article handled, an edition sent, a partner
#: failure, the migrations applied); these loggers keep their warnings and errors.
QUIET_AT_INFO = ("celery.beat", "celery.worker.strategy", "celery.app.trace", "alembic")


class _DropKombuDefaultHost(logging.Filter):
    """The file broker has no host name, and kombu warns about that on every connection."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No hostname was supplied")


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    """Log to stderr at `level`, as plain lines ("text") or JSON lines ("json").

    At INFO and above the loggers of QUIET_AT_INFO show warnings only; DEBUG shows everything.
    """
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for name in QUIET_AT_INFO:
        logging.getLogger(name).setLevel(logging.WARNING if level > logging.DEBUG else logging.NOTSET)
    kombu = logging.getLogger("kombu.connection")
    if not any(isinstance(f, _DropKombuDefaultHost) for f in kombu.filters):
        kombu.addFilter(_DropKombuDefaultHost())
