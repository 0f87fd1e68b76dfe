"""The sending loop's outcome stream on PostgreSQL (storage/outcome_stream.py): a group written
without waiting lands in the ledger like the blocking writer's, and a group whose connection is
lost comes back unwritten, for the blocking writer to write once."""

from __future__ import annotations

import select
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, text
from sqlalchemy import select as sql_select

from syndicate.digests.ports import Outcome, Recording
from syndicate.digests.states import DeliveryState
from syndicate.storage.digest_models import DeliveryAttemptRow, DeliveryRow
from syndicate.storage.outcome_stream import numbered
from tests.integration.digest_helpers import SmtpSink, add_active, make_list, publish_sample

pytest_plugins = ["tests.integration.conftest_digests"]


def test_placeholders_are_numbered_once_per_name() -> None:
    command, names = numbered("SELECT %(a)s, %(b)s::int[], %(a)s WHERE x = %(c)s")
    assert command == b"SELECT $1, $2::int[], $1 WHERE x = $3" and names == ["a", "b", "c"]


def _wait(stream: Any) -> list[Recording]:
    while True:
        select.select([stream.fileno()], [], [], 10)
        left = stream.done()
        if left is not None:
            return left


def _claimed(c: Any, n: int) -> list[int]:
    lst = make_list(c)
    add_active(c, lst, [f"reader{k}@example.com" for k in range(n)])
    publish_sample(c)
    edition_id = c.digests.send_now("world")
    assert edition_id is not None
    rows = c.deliveries().claim(edition_id, lst.id, 0, 2**62, now=datetime.now(UTC))
    assert len(rows) == n
    return [r.delivery_id for r in rows]


def _states(c: Any) -> tuple[dict[int, str], int]:
    with c.session_factory() as session:
        states = dict(session.execute(sql_select(DeliveryRow.id, DeliveryRow.state)).all())
        attempts = session.scalar(sql_select(func.count()).select_from(DeliveryAttemptRow))
    return {k: str(v) for k, v in states.items()}, int(attempts or 0)


def test_a_group_is_written_without_waiting_and_a_lost_one_comes_back(
    make_container: Callable[..., Any], smtp_sink: SmtpSink, pg_url: str
) -> None:
    c = make_container(smtp_url=smtp_sink.url, database_url=pg_url)
    ids = _claimed(c, 6)
    sent = [(Outcome(i, DeliveryState.SENT, "250 ok"), None) for i in ids[:3]]
    with c.deliveries().writer() as writer:
        stream = writer.stream()
        assert stream is not None
        assert stream.send(sent, now=datetime.now(UTC)) == []
        assert _wait(stream) == []
        states, attempts = _states(c)
        assert [states[i] for i in ids] == ["sent"] * 3 + ["sending"] * 3 and attempts == 3

        # The server drops every connection to the database: the next group comes back whole.
        with c.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        bounced = [(Outcome(ids[3], DeliveryState.BOUNCED, "550 no such user"), None)]
        left = stream.send(bounced, now=datetime.now(UTC)) or _wait(stream)
        assert left == bounced
        assert _states(c) == (states, 3)  # nothing of it was written

        # The stream connects again for the next group; the lost one is the caller's to write.
        rest = [(Outcome(i, DeliveryState.SENT, "250 ok"), None) for i in ids[4:]]
        assert stream.send(rest, now=datetime.now(UTC)) == []
        assert _wait(stream) == []
        assert writer.record_all(left, now=datetime.now(UTC)) == []
    states, attempts = _states(c)
    assert [states[i] for i in ids] == ["sent"] * 3 + ["bounced", "sent", "sent"] and attempts == 6
