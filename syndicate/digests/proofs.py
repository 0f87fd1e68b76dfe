"""A test send ("proof"): the edition a list would get now, mailed to one address before it goes out.

Nothing is stored: no edition, no delivery row, no subscriber. The proof carries the articles
`create_edition` would pick at this moment, is rendered as the fan-out renders it, and says in its
subject that it is a test; its unsubscribe and preferences links point at the public sign-up page,
so clicking them in a proof changes nobody's subscriptions.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime

from syndicate.digests import subscribers as subs
from syndicate.digests.addresses import normalize_email
from syndicate.digests.editions import MAX_ARTICLES, PERIODS
from syndicate.digests.ports import EditionStore
from syndicate.mail.mailer import Mailer
from syndicate.mail.message import body_placeholders
from syndicate.mail.render import Masthead, render_edition
from syndicate.mail.strings import mail_language, strings_for
from syndicate.services.media import with_available_images
from syndicate.settings import Settings

SUBJECT_PREFIX = "[Test] "


@dataclass(frozen=True)
class ProofResult:
    """What a test send did: the address, the subject, how many articles, the server's reply."""

    email: str
    subject: str
    articles: int
    accepted: bool
    reply: str


def send_proof(
    *, editions: EditionStore, uow: subs.UnitOfWorkFactory, mailer: Mailer, settings: Settings,
    now: datetime, list_slug: str, email: str, language: str,
) -> ProofResult | None:
    """Mail the list's next edition, as it would be built now, to one address; None when the
    edition would be empty. Raises NotFound for the list and InvalidEmail for the address."""
    address = normalize_email(email)
    lst = subs.list_by_slug(uow, list_slug)
    since = editions.previous_until(lst.id, lst.frequency) or now - PERIODS[lst.frequency]
    articles = editions.matching_articles(lst, since=since, until=now, article_ids=None, limit=MAX_ARTICLES)
    if not articles:
        return None
    lang = mail_language(language)
    rendered = render_edition(
        list_name=lst.name, frequency=lst.frequency, articles=with_available_images(articles, settings),
        language=lang, base_url=settings.base_url, max_html_bytes=settings.mail_max_html_bytes,
        masthead=Masthead(settings.site_title, settings.site_logo_url))
    t = strings_for(rendered.language)
    inert = f"{settings.base_url}/subscribe"
    fields = {"greeting": t["hello"], "unsubscribe": inert, "preferences": inert}
    text, document = rendered.text, rendered.html
    for field, placeholder in body_placeholders("text").items():
        text = text.replace(placeholder, fields[field])
    for field, placeholder in body_placeholders("html").items():
        document = document.replace(placeholder, html.escape(fields[field]))
    subject = SUBJECT_PREFIX + rendered.subject
    with mailer.open() as out:
        result = out.send_simple(to=address, subject=subject, text=text, html_body=document)
    return ProofResult(address, subject, len(articles), result.ok, result.describe())
