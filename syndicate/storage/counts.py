"""Rows per state for a set of owners (editions, partners) in one grouped query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

S = TypeVar("S", bound=str)


def grouped_counts(
    session: Session, owner: InstrumentedAttribute[Any], state: InstrumentedAttribute[Any],
    owner_ids: Sequence[int], states: Sequence[S],
) -> dict[int, dict[S, int]]:
    """Rows per state for each owner, every state present (0 when none); one grouped query.

    The keys are the `states` given (a StrEnum member counts the rows storing its value).
    """
    result: dict[int, dict[S, int]] = {owner_id: dict.fromkeys(states, 0) for owner_id in owner_ids}
    by_value = {str(s): s for s in states}
    if owner_ids:
        stmt = select(owner, state, func.count()).where(owner.in_(owner_ids)).group_by(owner, state)
        for owner_id, value, n in session.execute(stmt):
            result[owner_id][by_value.get(value, value)] = n
    return result
