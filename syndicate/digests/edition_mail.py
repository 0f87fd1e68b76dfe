"""An edition ready to mail: its content, and one serialized message per variant (language and
entries), rendered once per process (Jinja2 + premailer) and kept for the batches that follow."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from syndicate.digests.ports import ClaimedDelivery, DeliveryStore, EditionContent
from syndicate.digests.tokens import edition_view_url
from syndicate.mail.message import MessageTemplate, build_template
from syndicate.mail.render import Masthead, render_edition
from syndicate.mail.strings import mail_language
from syndicate.services.media import with_available_images
from syndicate.settings import Settings

#: What decides a reader's message: the mail language and the entries (None: the edition's own).
Variant = tuple[str, tuple[int, ...] | None]
#: Rendered variants kept per edition; rows are sent grouped by variant, so each renders once a batch.
MAX_VARIANTS = 256


def variant_of(row: ClaimedDelivery) -> Variant:
    """The variant of a claimed row: readers with equal variants get byte-equal messages
    (but for the per-recipient fields filled into the serialized template)."""
    return mail_language(row.language), row.article_ids


def by_variant(rows: list[ClaimedDelivery]) -> list[ClaimedDelivery]:
    """The rows grouped by variant (stable: by id within a variant), so a variant renders once."""
    first: dict[Variant, int] = {}
    for i, row in enumerate(rows):
        first.setdefault(variant_of(row), i)
    return sorted(rows, key=lambda r: first[variant_of(r)])


@dataclass
class EditionMail:
    """An edition ready to send: its content and one serialized template per variant."""

    content: EditionContent
    templates: OrderedDict[Variant, MessageTemplate] = field(default_factory=OrderedDict)

    @property
    def edition_id(self) -> int:
        """The edition's id."""
        return self.content.edition_id

    @property
    def list_id(self) -> int:
        """The id of the edition's list."""
        return self.content.list_id


class TemplateCache:
    """Rendered editions of one process and database (premailer runs once per language).

    Bootstrap builds one per container; an edition's content never changes once built.
    """

    def __init__(self, size: int = 16) -> None:
        self._items: OrderedDict[int, EditionMail] = OrderedDict()
        self._size = size
        self.renders = 0
        self._lock = threading.Lock()  # a batch's connections render each language once

    def edition(self, store: DeliveryStore, edition_id: int) -> EditionMail:
        """The cached edition, loaded from `store` on first use."""
        item = self._items.get(edition_id)
        if item is None:
            item = EditionMail(store.edition_content(edition_id))
            self._items[edition_id] = item
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return item

    def template(self, settings: Settings, item: EditionMail, language: str,
                 article_ids: tuple[int, ...] | None = None) -> MessageTemplate:
        """The serialized message of an edition in a language with these entries (None: the
        edition's articles), rendered on first use."""
        key: Variant = (mail_language(language), article_ids)
        tpl = item.templates.get(key)
        if tpl is None:
            with self._lock:
                tpl = item.templates.get(key)
                if tpl is None:
                    tpl = render_template(settings, item.content, key[0], article_ids)
                    item.templates[key] = tpl
                    while len(item.templates) > MAX_VARIANTS:
                        item.templates.popitem(last=False)
                    self.renders += 1
        return tpl


def render_template(settings: Settings, content: EditionContent, language: str,
                    article_ids: tuple[int, ...] | None = None) -> MessageTemplate:
    """Render (Jinja2 + premailer) and serialize an edition once for one variant."""
    articles = content.articles_of(article_ids)
    rendered = render_edition(list_name=content.list_name, frequency=content.frequency,
                              articles=with_available_images(articles, settings),
                              language=language, base_url=settings.base_url,
                              max_html_bytes=settings.mail_max_html_bytes,
                              masthead=Masthead(settings.site_title, settings.site_logo_url),
                              view_url=edition_view_url(settings.base_url, settings.resolved_secret_key,
                                                        content.edition_id, language))
    return build_template(
        mail_from=settings.mail_from, subject=rendered.subject,
        list_id=f"{content.list_name} <{content.list_slug}.{settings.mail_domain}>",
        text=rendered.text, html_body=rendered.html,
    )
