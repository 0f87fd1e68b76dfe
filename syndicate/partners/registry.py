"""Managing partners: register, edit, rotate the secret, enable/disable, replay their deliveries."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from syndicate.domain.languages import parse_language
from syndicate.domain.slugs import SLUG_RULE, parse_slug
from syndicate.errors import InvalidPartner, NotFound
from syndicate.partners.content import matches
from syndicate.partners.guard import check_url
from syndicate.partners.ports import Partner, PartnerInput, PartnerStore, SigningKeys
from syndicate.partners.secrets import new_secret, rotate
from syndicate.partners.service import PartnerPushes

__all__ = ["NewSecret", "PartnerInput", "PartnerRegistry", "Replay"]



@dataclass(frozen=True)
class NewSecret:
    """A rotated secret; the previous one keeps signing alongside until `previous_until`."""

    partner_id: int
    secret: str
    previous_until: datetime


@dataclass(frozen=True)
class Replay:
    """Deliveries queued again; `paused` when the partner is disabled (they go once it is enabled)."""

    ids: list[int]
    paused: bool


class PartnerRegistry:
    """The partner use cases of admins (API, admin pages, CLI), built once by bootstrap."""

    def __init__(
        self, store: PartnerStore, pushes: PartnerPushes, *, now: Callable[[], datetime],
        allow_private: bool, secret_overlap: timedelta,
    ) -> None:
        self.store = store
        self.pushes = pushes
        self.now = now
        self.allow_private = allow_private
        self.secret_overlap = secret_overlap

    def _validate(self, data: PartnerInput) -> PartnerInput:
        if data.categories is not None:
            # Article categories are stored as slugs; filters must compare equal.
            slugs = []
            for raw in data.categories:
                slug = parse_slug(raw)
                if slug is None:
                    raise InvalidPartner("categories", f"{raw!r} is not a category slug ({SLUG_RULE})")
                slugs.append(slug)
            data = dataclasses.replace(data, categories=slugs)
        if data.name is not None:
            if not data.name.strip():
                raise InvalidPartner("name", "must not be empty")
            if len(data.name) > 200:
                raise InvalidPartner("name", f"is {len(data.name)} characters; at most 200")
            data = dataclasses.replace(data, name=data.name.strip())
        if data.url is not None:
            check_url(data.url, allow_private=self.allow_private)
        if data.language:
            language = parse_language(data.language)
            if language is None:
                raise InvalidPartner("language", f"{data.language!r} is not a BCP 47 language tag")
            data = dataclasses.replace(data, language=language)
        if data.rate_limit_per_minute is not None and data.rate_limit_per_minute < 0:
            raise InvalidPartner("rate_limit_per_minute", f"{data.rate_limit_per_minute} is negative")
        return data

    def add(self, data: PartnerInput) -> tuple[Partner, str]:
        """Register a partner (its URL checked by the guard); returns it and its secret, shown once."""
        if data.name is None or data.url is None:
            raise InvalidPartner("name" if data.name is None else "url", "is required")
        secret = new_secret()
        return self.store.add(self._validate(data), SigningKeys(secret), now=self.now()), secret

    def edit(self, partner_id: int, data: PartnerInput, *, active: bool | None = None) -> Partner:
        """Change the given fields (a new URL is checked by the guard), then enable or disable the
        partner when `active` is given (see `set_active`); NotFound when missing."""
        partner = self.store.edit(partner_id, self._validate(data), now=self.now())
        return partner if active is None else self.set_active(partner_id, active)

    def rotate_secret(self, partner_id: int) -> NewSecret:
        """A new secret; the old one keeps signing alongside it until the overlap ends."""
        now = self.now()
        rotation = rotate(self.store.keys(partner_id).secret, now=now, overlap=self.secret_overlap)
        keys = SigningKeys(rotation.secret, rotation.previous_secret, rotation.previous_until)
        self.store.set_keys(partner_id, keys, now=now)
        return NewSecret(partner_id, rotation.secret, rotation.previous_until)

    def _check_filters(self, partner: Partner, article_id: int) -> None:
        article = self.pushes.article(article_id)
        if article is None:
            raise NotFound("article", article_id)
        if matches(partner.categories, partner.language, article):
            return
        wanted = (f"categories {', '.join(partner.categories) or 'any'}, "
                  f"language {partner.language or 'any'}")
        has = f"categories {', '.join(article.categories) or 'none'}, language {article.language}"
        raise InvalidPartner("article", f"article {article_id} ({has}) is outside the filters of "
                                        f"partner {partner.id} ({wanted}); add --force to send it anyway")

    def set_active(self, partner_id: int, active: bool) -> Partner:
        """Enable (its waiting deliveries become due now) or disable a partner."""
        return self.store.set_active(partner_id, active, now=self.now())

    def resend(self, partner_id: int, *, article_id: int | None = None, failed: bool = False,
               force: bool = False) -> Replay:
        """Queue again exactly the deliveries named (the partner's of one article, or its dead ones),
        with their webhook-ids and bodies; enqueued now unless the partner is disabled.

        An article outside the partner's filters (categories, language) is refused with
        InvalidPartner naming both, unless `force`; NotFound for an unknown partner or article.
        """
        if (article_id is None) == (not failed):
            raise InvalidPartner("resend", "name exactly one of --article ID or --failed")
        partner = self.store.get(partner_id)
        if article_id is not None and not force:
            self._check_filters(partner, article_id)
        ids = self.pushes.requeue(partner_id, article_id=article_id, failed=failed)
        if partner.active:
            self.pushes.enqueue(ids)
        return Replay(ids, paused=not partner.active)
