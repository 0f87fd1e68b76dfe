"""LOG_FORMAT=json: one JSON object per line, extras and exceptions included."""

from __future__ import annotations

import json
import logging

import pytest

from syndicate.logs import JsonFormatter, configure_logging


def test_one_json_object_per_record() -> None:
    record = logging.LogRecord("syndicate.events", logging.WARNING, __file__, 1,
                               "event %s failed", (7,), None)
    record.edition_id = 12  # what `extra={"edition_id": 12}` sets
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "syndicate.events"
    assert entry["message"] == "event 7 failed" and entry["edition_id"] == 12
    assert entry["time"].endswith("+00:00")


def test_exceptions_stay_on_one_line() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["exception"]


def test_configure_json_logging(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json")
    try:
        logging.getLogger("syndicate.test").info("hello %s", "world")
        err = capsys.readouterr().err.strip().splitlines()
        assert json.loads(err[-1])["message"] == "hello world"
    finally:
        configure_logging("text")


def test_libraries_repeating_lines_are_quiet_at_info_and_back_at_debug() -> None:
    try:
        configure_logging("text")
        quiet = ("celery.beat", "celery.app.trace", "celery.worker.strategy", "alembic.runtime.migration")
        for name in quiet:
            logger = logging.getLogger(name)
            assert not logger.isEnabledFor(logging.INFO), name
            assert logger.isEnabledFor(logging.WARNING), name
        assert logging.getLogger("syndicate.events").isEnabledFor(logging.INFO)
        kombu = logging.LogRecord("kombu.connection", logging.WARNING, __file__, 1,
                                  "No hostname was supplied. Reverting to default 'localhost'", None, None)
        assert not logging.getLogger("kombu.connection").filter(kombu)
        configure_logging("text", logging.DEBUG)
        assert logging.getLogger("celery.app.trace").isEnabledFor(logging.INFO)
    finally:
        configure_logging("text")
