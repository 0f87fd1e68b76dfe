"""Subscribers: adding, CSV import, confirmation, unsubscribe, preferences, suppression (the list
use cases are in `digests/lists.py`, re-exported here for their callers).

Use cases on a `DigestUnitOfWork` (digests/ports.py); each commits its own work. The rules:
- a confirmed add activates the subscriber and its subscriptions; an unconfirmed one leaves new
  subscriptions pending and never demotes an active one;
- suppressed addresses (bounced, complained, suppressed by an admin) stay suppressed whatever an
  import or a form asks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from syndicate.digests.addresses import normalize_email
from syndicate.digests.lists import MAX_DESCRIPTION as MAX_DESCRIPTION
from syndicate.digests.lists import ListFields as ListFields
from syndicate.digests.lists import all_lists as all_lists
from syndicate.digests.lists import archive_list as archive_list
from syndicate.digests.lists import check_frequency as check_frequency
from syndicate.digests.lists import check_list_fields as check_list_fields
from syndicate.digests.lists import create_list as create_list
from syndicate.digests.lists import edit_list as edit_list
from syndicate.digests.lists import list_by_id as list_by_id
from syndicate.digests.lists import list_by_slug as list_by_slug
from syndicate.digests.lists import public_lists as public_lists
from syndicate.digests.lists import sending_lists as sending_lists
from syndicate.digests.lists import set_repeat_stories as set_repeat_stories
from syndicate.digests.ports import (
    DigestUnitOfWork,
    MailingList,
    Subscriber,
    Subscription,
)
from syndicate.digests.states import (
    SUPPRESSED,
    Frequency,
    SubscriberStatus,
    SubscriptionStatus,
)
from syndicate.domain.languages import parse_language
from syndicate.errors import InvalidDigestInput, NotFound
from syndicate.mail.strings import mail_language

UnitOfWorkFactory = Callable[[], DigestUnitOfWork]
MAX_REASON = 300


def members(uow: UnitOfWorkFactory, slug: str) -> tuple[MailingList, list[tuple[Subscriber, Subscription]]]:
    """A list (by slug; NotFound) and its subscribers with their subscription, by subscriber id."""
    with uow() as work:
        found = work.lists.by_slug(slug)
        if found is None:
            raise NotFound("list", slug)
        return found, work.subscribers.members(found.id)


def awaiting_confirmation(uow: UnitOfWorkFactory, slug: str) -> tuple[MailingList, list[int]]:
    """A list (by slug; NotFound) and the ids of its readers still owed a confirmation link: their
    subscription is pending and the address is not suppressed."""
    lst, rows = members(uow, slug)
    return lst, [sub.id for sub, subscription in rows
                 if subscription.status == SubscriptionStatus.PENDING and sub.status not in SUPPRESSED]


def add_subscriber(
    work: DigestUnitOfWork, *, email: str, name: str, language: str, lists: Sequence[MailingList],
    confirmed: bool, now: datetime,
) -> tuple[Subscriber, bool]:
    """Find or create the subscriber and subscribe it to `lists` (the caller commits); (it, created).

    A confirmed add activates the subscriber (unless suppressed) and its subscriptions; an
    unconfirmed one leaves them pending, and an active subscription stays active. A new
    subscriber's language is stored canonical ('EN_us' → 'en-US'); one that is not a language
    tag becomes 'en' (the CSV importer reports such rows instead).
    """
    address = normalize_email(email)
    subscriber = work.subscribers.by_email(address)
    created = subscriber is None
    if subscriber is None:
        subscriber = work.subscribers.add(email=address, name=name.strip()[:200],
                                          language=parse_language(language) or mail_language(language),
                                          now=now)
    if confirmed and subscriber.status in (SubscriberStatus.PENDING, SubscriberStatus.UNSUBSCRIBED):
        subscriber = replace(subscriber, status=SubscriberStatus.ACTIVE, confirmed_at=now)
        work.subscribers.save(subscriber)
    wanted = SubscriptionStatus.ACTIVE if confirmed else SubscriptionStatus.PENDING
    mine = work.subscribers.subscriptions(subscriber.id)
    for lst in lists:
        current = mine.get(lst.id)
        if current is None:
            work.subscribers.save_subscription(Subscription(subscriber.id, lst.id, wanted), now=now)
        elif current.status != SubscriptionStatus.ACTIVE:
            work.subscribers.save_subscription(replace(current, status=wanted), now=now)
    return subscriber, created


def _language(raw: str) -> str:
    tag = parse_language(raw.strip() or "en")
    if tag is None:
        raise InvalidDigestInput(f"language: {raw!r} is not a language tag such as en or ru-RU")
    return tag


def _lists_by_id(work: DigestUnitOfWork, list_ids: Sequence[int]) -> list[MailingList]:
    found = []
    for list_id in dict.fromkeys(list_ids):
        lst = work.lists.get(list_id)
        if lst is None:
            raise NotFound("list", list_id)
        found.append(lst)
    return found


def add_one(
    uow: UnitOfWorkFactory, *, email: str, name: str, language: str, list_ids: Sequence[int],
    confirmed: bool, now: datetime,
) -> tuple[Subscriber, bool]:
    """An admin adds one reader to lists (see `add_subscriber`); returns it and whether it still
    owes a confirmation (unconfirmed and not suppressed). Raises InvalidEmail, InvalidDigestInput
    for a bad language and NotFound for an unknown list."""
    tag = _language(language)
    with uow() as work:
        lists = _lists_by_id(work, list_ids)
        subscriber, _ = add_subscriber(work, email=email, name=name, language=tag, lists=lists,
                                       confirmed=confirmed, now=now)
        work.commit()
    return subscriber, not confirmed and subscriber.status not in SUPPRESSED and bool(lists)


def edit_subscriber(
    uow: UnitOfWorkFactory, subscriber_id: int, *, name: str, language: str, list_ids: Sequence[int],
    now: datetime,
) -> Subscriber:
    """An admin sets a reader's name, language and lists: it joins the lists named (active when
    the reader is, else pending) and leaves the others. Raises NotFound, InvalidDigestInput."""
    tag = _language(language)
    with uow() as work:
        subscriber = work.subscribers.get(subscriber_id)
        if subscriber is None:
            raise NotFound("subscriber", subscriber_id)
        wanted = {lst.id for lst in _lists_by_id(work, list_ids)}
        joined = (SubscriptionStatus.ACTIVE if subscriber.status == SubscriberStatus.ACTIVE
                  else SubscriptionStatus.PENDING)
        mine = work.subscribers.subscriptions(subscriber_id)
        for list_id in wanted:
            current = mine.get(list_id)
            if current is None or current.status == SubscriptionStatus.UNSUBSCRIBED:
                work.subscribers.save_subscription(Subscription(subscriber_id, list_id, joined), now=now)
        left = [list_id for list_id, sub in mine.items()
                if list_id not in wanted and sub.status != SubscriptionStatus.UNSUBSCRIBED]
        if left:
            work.subscribers.set_subscription_status(subscriber_id, left, SubscriptionStatus.UNSUBSCRIBED)
        subscriber = replace(subscriber, name=" ".join(name.split())[:200], language=tag)
        work.subscribers.save(subscriber)
        work.commit()
    return subscriber


@dataclass(frozen=True)
class Added:
    """What `add_subscribers` did for one address: the reader, whether it is new, and the status
    of its subscription to the list afterwards."""

    subscriber: Subscriber
    created: bool
    subscription: SubscriptionStatus


def add_subscribers(
    work: DigestUnitOfWork, readers: Sequence[tuple[str, str, str]], *, lst: MailingList,
    confirmed: bool, now: datetime,
) -> list[Added]:
    """`add_subscriber` for many (email, name, language) and one list, in a few statements (the
    caller commits); one result per reader, in order. The addresses must be normalized and
    distinct when lower-cased (the CSV importer reports repeats instead)."""
    known = work.subscribers.by_emails([email for email, _, _ in readers])
    fresh = [(email, name.strip()[:200], parse_language(language) or mail_language(language))
             for email, name, language in readers if email.lower() not in known]
    # A new reader is inserted as add_subscriber leaves it: active when confirmed, else pending.
    status = SubscriberStatus.ACTIVE if confirmed else SubscriberStatus.PENDING
    created = {s.email.lower(): s for s in work.subscribers.add_many(
        fresh, status=status, confirmed_at=now if confirmed else None, now=now)}
    if confirmed:
        for key, reader in known.items():
            if reader.status in (SubscriberStatus.PENDING, SubscriberStatus.UNSUBSCRIBED):
                known[key] = replace(reader, status=SubscriberStatus.ACTIVE, confirmed_at=now)
                work.subscribers.save(known[key])
    wanted = SubscriptionStatus.ACTIVE if confirmed else SubscriptionStatus.PENDING
    current = work.subscribers.subscriptions_to(lst.id, [s.id for s in known.values()])
    work.subscribers.add_subscriptions(
        [Subscription(s.id, lst.id, wanted) for s in [*created.values(), *known.values()]
         if s.id not in current], now=now)
    for subscription in current.values():
        if subscription.status != SubscriptionStatus.ACTIVE:
            work.subscribers.save_subscription(replace(subscription, status=wanted), now=now)
    results = []
    for email, _, _ in readers:
        key = email.lower()
        reader = created.get(key) or known[key]
        before = current.get(reader.id)
        active = before is not None and before.status == SubscriptionStatus.ACTIVE
        results.append(Added(reader, key in created, SubscriptionStatus.ACTIVE if active else wanted))
    return results


@dataclass
class ImportReport:
    """What a CSV import did: counts, and one message per bad line."""

    imported: int = 0
    existing: int = 0
    errors: list[str] = field(default_factory=list)
    #: Subscribers whose subscription to the list is pending after an unconfirmed import (new or
    #: not yet confirmed), minus suppressed addresses: they are owed a confirmation mail.
    to_confirm: list[int] = field(default_factory=list)
    #: Lines that were not errors but did something the file does not say (an address folded
    #: into an existing reader whose address differs only in case).
    notes: list[str] = field(default_factory=list)


def confirm(work: DigestUnitOfWork, subscriber_id: int, list_ids: Sequence[int], now: datetime) -> None:
    """Activate a pending subscriber and the subscriptions it asked for (the caller commits); idempotent."""
    subscriber = work.subscribers.get(subscriber_id)
    if subscriber is None:
        raise NotFound("subscriber", subscriber_id)
    if subscriber.status in (SubscriberStatus.PENDING, SubscriberStatus.UNSUBSCRIBED):
        work.subscribers.save(replace(subscriber, status=SubscriberStatus.ACTIVE, confirmed_at=now))
    work.subscribers.set_subscription_status(subscriber_id, list_ids, SubscriptionStatus.ACTIVE)


def unsubscribe(work: DigestUnitOfWork, subscriber_id: int, list_ids: Sequence[int]) -> None:
    """Leave the given lists (all lists when none is given; the caller commits); idempotent.

    With no active subscription left the subscriber itself becomes unsubscribed.
    """
    subscriber = work.subscribers.get(subscriber_id)
    if subscriber is None:
        raise NotFound("subscriber", subscriber_id)
    work.subscribers.set_subscription_status(subscriber_id, list(list_ids) or None,
                                             SubscriptionStatus.UNSUBSCRIBED)
    left = any(s.status == SubscriptionStatus.ACTIVE
               for s in work.subscribers.subscriptions(subscriber_id).values())
    if not left and subscriber.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
        work.subscribers.save(replace(subscriber, status=SubscriberStatus.UNSUBSCRIBED))


def set_preferences(
    uow: UnitOfWorkFactory, subscriber_id: int, *, language: str, choices: dict[int, str | None],
    now: datetime,
) -> None:
    """Apply the preferences form: language, and for each list id subscribed or not + frequency.

    `choices` maps every list the subscriber chose to a frequency (None: the list's own); lists
    absent are left. A frequency is stored only where the list allows its own choice.
    """
    with uow() as work:
        subscriber = work.subscribers.get(subscriber_id)
        if subscriber is None:
            raise NotFound("subscriber", subscriber_id)
        subscriber = replace(subscriber, language=mail_language(language))
        mine = work.subscribers.subscriptions(subscriber_id)
        for lst in work.lists.all():
            current = mine.get(lst.id)
            if lst.id in choices and not _may_see(lst, current):
                raise InvalidDigestInput(
                    f"field 'lists': list {lst.id} is private; an admin adds its readers")
            if lst.id not in choices:
                if current is not None:
                    work.subscribers.save_subscription(
                        replace(current, status=SubscriptionStatus.UNSUBSCRIBED), now=now)
                continue
            raw = choices[lst.id]
            frequency = check_frequency(raw) if raw and lst.custom_frequency else None
            work.subscribers.save_subscription(
                Subscription(subscriber_id, lst.id, SubscriptionStatus.ACTIVE, frequency), now=now)
        if choices and subscriber.status == SubscriberStatus.UNSUBSCRIBED:
            subscriber = replace(subscriber, status=SubscriberStatus.ACTIVE)
        elif not choices and subscriber.status == SubscriberStatus.ACTIVE:
            subscriber = replace(subscriber, status=SubscriberStatus.UNSUBSCRIBED)
        work.subscribers.save(subscriber)
        work.commit()


def _may_see(lst: MailingList, current: Subscription | None) -> bool:
    """A reader sees (and may join) public lists, and private lists it is on or was on."""
    return lst.is_public or current is not None


@dataclass(frozen=True)
class ListChoice:
    """One list on the preferences page: subscribed or not, and the frequency chosen."""

    id: int
    name: str
    frequency: Frequency
    custom: bool
    subscribed: bool
    chosen: Frequency
    description: str = ""


@dataclass(frozen=True)
class Preferences:
    """What the preferences page shows a subscriber."""

    email: str
    language: str
    lists: list[ListChoice]


def preferences(uow: UnitOfWorkFactory, subscriber_id: int) -> Preferences:
    """The subscriber's address, language and the lists it is on or may join; raises NotFound."""
    with uow() as work:
        subscriber = work.subscribers.get(subscriber_id)
        if subscriber is None:
            raise NotFound("subscriber", subscriber_id)
        mine = work.subscribers.subscriptions(subscriber_id)
        choices = [
            ListChoice(lst.id, lst.name, lst.frequency, lst.custom_frequency,
                       lst.id in mine and mine[lst.id].status == SubscriptionStatus.ACTIVE,
                       (mine[lst.id].frequency if lst.id in mine else None) or lst.frequency,
                       lst.description)
            for lst in work.lists.all() if _may_see(lst, mine.get(lst.id))
        ]
    return Preferences(subscriber.email, subscriber.language, choices)


#: Subscriber statuses that stop all mail, whatever the subscription to a list says.
_STOPS_ALL: tuple[SubscriberStatus, ...] = (*SUPPRESSED, SubscriberStatus.UNSUBSCRIBED)


def reader_status(subscriber: Subscriber, subscription: Subscription) -> str:
    """The status a reader of a list really has: the subscriber's when it stops all mail
    (unsubscribed, bounced, complained, suppressed), else the subscription's."""
    if subscriber.status in _STOPS_ALL:
        return str(subscriber.status)
    return str(subscription.status)


def suppress_reason(by: str, reason: str | None) -> str:
    """The `status_reason` of an admin's suppression: 'suppressed by WHO' and ': WHY' when given."""
    why = " ".join((reason or "").split())[:MAX_REASON]
    return f"suppressed by {by}: {why}" if why else f"suppressed by {by}"


def suppress(uow: UnitOfWorkFactory, subscriber_id: int, *, now: datetime, by: str = "admin",
             reason: str | None = None) -> Subscriber:
    """Stop all mail to the subscriber (status `suppressed`, who and why in `status_reason`); its
    queued deliveries are skipped with that reason.

    Raises NotFound naming the id.
    """
    note = suppress_reason(by, reason)
    with uow() as work:
        subscriber = work.subscribers.get(subscriber_id)
        if subscriber is None:
            raise NotFound("subscriber", subscriber_id)
        subscriber = replace(subscriber, status=SubscriberStatus.SUPPRESSED, status_reason=note)
        work.subscribers.save(subscriber)
        work.subscribers.skip_queued_deliveries(subscriber_id, reply=note, now=now)
        work.commit()
    return subscriber
