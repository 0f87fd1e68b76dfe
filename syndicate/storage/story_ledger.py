"""One copy of each story per reader: a delivery's entries, decided at its first claim.

Invariants:
- A delivery's entries (`deliveries.article_ids`) are decided once, in the claim that first
  takes the row, and never again: a retry, a takeover by the sweep and a resend all send
  exactly the same articles, in the same language.
- A (reader, story) pair has one row in `mailed_stories`: the delivery that first took the story
  for that reader. A list that does not repeat stories keeps a story only when its own delivery
  owns the pair after the insert, so two lists whose batches are claimed at the same moment never
  both mail it: the primary key decides, not an earlier read.
- A `repeat_stories` list keeps the stories other lists already gave the reader, but not one its
  own recent editions (`RECENT_EDITIONS`) sent them, in any version: a round-up repeats other
  lists, not itself, when a translation arrives a window later. It still records the pairs it
  is first to take, so a list that does not repeat skips them afterwards.
- A reader who no longer receives the list (left it, suppressed) is decided nothing and takes
  no story: the row is skipped, and another list may still give them the story.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from typing import cast as cast_type

from sqlalchemy import BigInteger, ColumnElement, String, any_, bindparam, cast, literal, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from syndicate.digests.states import DeliveryState
from syndicate.domain.stories import Entry, Story, entries_for
from syndicate.storage.columns import UTCDateTime, int_array
from syndicate.storage.digest_models import DeliveryRow, EditionRow, MailedStoryRow, MailingListRow
from syndicate.storage.edition_store import story_of

#: How many of a list's earlier editions a `repeat_stories` list looks back at for its own repeats.
RECENT_EDITIONS = 20

#: (delivery id, subscriber id, subscriber language) of a claimed row with no entries yet.
Undecided = tuple[int, int, str]
Owners = dict[tuple[int, str], tuple[int, int]]


def _among(session: Session, column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """`column IN ids`; on PostgreSQL as `= ANY(array literal)`: one parameter, so the statement
    is the same text for any number of ids and is not parsed again per batch of hundreds of ids."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(cast(literal(int_array(ids), String()), ARRAY(BigInteger)))
    return cast_type(ColumnElement[bool], column.in_(ids))


#: PostgreSQL: the pairs of these readers and stories, one primary-key probe per reader (a
#: LATERAL subquery that `OFFSET 0` keeps from being flattened into a join), whatever the
#: table's statistics say. `subscriber_id = ANY(ids)`, and a plain join on unnest(ids), were
#: planned as scans of the whole table while its statistics were those of a much smaller one
#: or did not know the story, as in the first minutes of a big send: every claim then read
#: every pair.
_PG_OWNERS = text("""
SELECT m.subscriber_id, m.story, m.delivery_id, m.list_id
FROM unnest(CAST(:subs AS bigint[])) AS u(s)
CROSS JOIN LATERAL (
    SELECT * FROM mailed_stories WHERE subscriber_id = u.s AND story = ANY(CAST(:keys AS varchar[]))
    OFFSET 0
) AS m
""")


def _owners(session: Session, subscriber_ids: Sequence[int], keys: Sequence[str]) -> Owners:
    """(subscriber, story) → (delivery id, list id) of the delivery that took the pair."""
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(_PG_OWNERS, {"subs": int_array(subscriber_ids), "keys": list(keys)})
    else:
        rows = session.execute(select(
            MailedStoryRow.subscriber_id, MailedStoryRow.story, MailedStoryRow.delivery_id,
            MailedStoryRow.list_id,
        ).where(MailedStoryRow.subscriber_id.in_(subscriber_ids), MailedStoryRow.story.in_(keys)))
    return {(sub, key): (d, lst) for sub, key, d, lst in rows}


def _sent_by_list(session: Session, list_id: int, edition_id: int, subscriber_ids: Sequence[int],
                  stories: Sequence[Story]) -> set[tuple[int, str]]:
    """(subscriber, story) pairs the list's recent earlier editions sent (or are sending), in any
    version the current stories offer."""
    key_of = {v.article_id: s.key for s in stories for v in s.versions}
    recent = (select(EditionRow.id).where(EditionRow.list_id == list_id, EditionRow.id != edition_id)
              .order_by(EditionRow.id.desc()).limit(RECENT_EDITIONS))
    rows = session.execute(select(DeliveryRow.subscriber_id, DeliveryRow.article_ids).where(
        DeliveryRow.edition_id.in_(recent), DeliveryRow.subscriber_id.in_(subscriber_ids),
        DeliveryRow.state.in_((DeliveryState.SENT, DeliveryState.SENDING)),
        DeliveryRow.article_ids.is_not(None)))
    return {(s, key_of[i]) for s, ids in rows for i in ids or () if i in key_of}


#: PostgreSQL: every pair in one statement (compiled once, one round trip), returning the pairs
#: it inserted. The story of each pair is an index into the claim's few story keys, and the ids
#: travel as array literals (see `int_array`).
_PG_INSERT = text("""
INSERT INTO mailed_stories (subscriber_id, story, delivery_id, list_id, article_id, created_at)
SELECT t.s, (CAST(:keys AS varchar[]))[t.k], t.d, :list, t.a, :at
FROM unnest(CAST(:subs AS bigint[]), CAST(:kidx AS int[]), CAST(:dels AS bigint[]),
            CAST(:arts AS bigint[])) AS t(s, k, d, a)
ON CONFLICT DO NOTHING
RETURNING subscriber_id, story
""").bindparams(bindparam("at", type_=UTCDateTime()))

#: The owner recorded for a pair that another delivery took first (its ids are not needed).
_SOMEONE_ELSE = (-1, -1)


def _insert_ignoring_taken(session: Session, pairs: list[dict[str, Any]], before: Owners, *,
                           now: datetime) -> Owners:
    """Insert (subscriber, story) rows; a pair another delivery took first stays as it is.
    Returns the owners of the pairs afterwards: `before` and the pairs just tried.

    On PostgreSQL one statement for the whole claim: one statement per pair (what SQLAlchemy
    makes of a list of parameters) cost about as much as sending the messages. Its RETURNING
    tells which pairs were ours to insert; the others went to a claim that came first.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        keys = sorted({p["story"] for p in pairs})
        index = {key: n for n, key in enumerate(keys, start=1)}  # PostgreSQL arrays start at 1
        (list_id,) = {p["list_id"] for p in pairs}  # one claim, one list
        returned = session.execute(_PG_INSERT, {
            "subs": int_array(p["subscriber_id"] for p in pairs), "keys": keys,
            "kidx": int_array(index[p["story"]] for p in pairs),
            "dels": int_array(p["delivery_id"] for p in pairs), "list": list_id,
            "arts": int_array(p["article_id"] for p in pairs), "at": now}).all()  # one fetch, not one per row
        inserted = {(sub, key) for sub, key in returned}
        after = dict(before)
        for p in pairs:
            key = (p["subscriber_id"], p["story"])
            after[key] = (p["delivery_id"], p["list_id"]) if key in inserted else _SOMEONE_ELSE
        return after
    if dialect == "sqlite":
        session.execute(sqlite_insert(MailedStoryRow).on_conflict_do_nothing(), pairs)
        return _owners(session, sorted({p["subscriber_id"] for p in pairs}),
                       sorted({p["story"] for p in pairs})) | before
    raise NotImplementedError(f"mailed_stories on {dialect}")  # pragma: no cover - both are above


def decide_entries(
    session: Session, edition_id: int, list_id: int, rows: Sequence[Undecided], *, now: datetime,
) -> dict[int, tuple[int, ...]]:
    """Decide and store the entries of these claimed rows; returns them by delivery id.

    Rows of an edition built before stories get nothing stored (they send the edition's
    articles). The caller commits.
    """
    if not rows:
        return {}
    found = session.execute(  # one round trip for both
        select(EditionRow.stories, MailingListRow.repeat_stories)
        .join(MailingListRow, MailingListRow.id == EditionRow.list_id)
        .where(EditionRow.id == edition_id, MailingListRow.id == list_id)).one_or_none()
    if found is None or not found[0]:
        return {}
    stories: list[Story] = [story_of(s) for s in found[0]]
    repeat = bool(found[1])
    keys = [s.key for s in stories]
    subscriber_ids = [r[1] for r in rows]
    before = _owners(session, subscriber_ids, keys)
    own = _sent_by_list(session, list_id, edition_id, subscriber_ids, stories) if repeat else set()
    picks: dict[int, list[Entry]] = {}
    # Readers of a batch mostly share a language and skip nothing: their entries are one list,
    # picked once and shared (read-only).
    chosen: dict[tuple[str, frozenset[str]], list[Entry]] = {}
    pairs: list[dict[str, Any]] = []
    for delivery_id, subscriber_id, language in rows:
        skip = {key for key in keys if (subscriber_id, key) in own}
        for key in keys:
            owner = before.get((subscriber_id, key))
            if owner is not None and owner[0] != delivery_id and (not repeat or owner[1] == list_id):
                skip.add(key)
        choice = (language, frozenset(skip))
        if choice not in chosen:
            chosen[choice] = entries_for(stories, language, skip=skip)
        picks[delivery_id] = chosen[choice]
        pairs += [{"subscriber_id": subscriber_id, "story": e.story, "delivery_id": delivery_id,
                   "list_id": list_id, "article_id": e.article_id, "created_at": now}
                  for e in picks[delivery_id] if (subscriber_id, e.story) not in before]
    after = before
    if pairs:
        # One order for every inserter: two claims taking the same pairs wait for each other
        # instead of deadlocking (PostgreSQL locks each inserted key until commit).
        pairs.sort(key=lambda p: (p["subscriber_id"], p["story"]))
        after = _insert_ignoring_taken(session, pairs, before, now=now)
    decided: dict[int, tuple[int, ...]] = {}
    for delivery_id, subscriber_id, _ in rows:
        decided[delivery_id] = tuple(
            e.article_id for e in picks[delivery_id]
            if repeat or after.get((subscriber_id, e.story), (delivery_id, list_id))[0] == delivery_id)
    # Readers of a batch mostly get the same entries: one UPDATE per distinct entry list.
    by_entries: dict[tuple[int, ...], list[int]] = {}
    for delivery_id, ids in decided.items():
        by_entries.setdefault(ids, []).append(delivery_id)
    for ids, delivery_ids in by_entries.items():
        session.execute(update(DeliveryRow).where(_among(session, DeliveryRow.id, delivery_ids))
                        .values(article_ids=list(ids)).execution_options(synchronize_session=False))
    return decided
