"""Rendering emails from templates/email/: Jinja2, then premailer once per edition and language."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from urllib.parse import urlsplit

import jinja2
from premailer import Premailer

from syndicate.domain.articles import Article
from syndicate.domain.articles import excerpt as article_excerpt
from syndicate.i18n import format_when
from syndicate.mail.message import body_placeholders
from syndicate.mail.strings import mail_language, plural, strings_for
from syndicate.resources import templates_dir

EXCERPT_CHARS = 400
# An instant edition shows the article's whole (already sanitized) body when it fits this size.
FULL_BODY_BYTES = 60_000


@dataclass(frozen=True)
class RenderedEmail:
    """Subject, inlined HTML and plain text of one edition in one language, with placeholders."""

    subject: str
    html: str
    text: str
    language: str
    articles_shown: int


@dataclass(frozen=True)
class EmailArticle:
    """What an email shows of an article."""

    title: str
    url: str
    excerpt: str
    published: str
    authors: str
    image_url: str | None
    image_alt: str
    body_html: str | None


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja2 environment of templates/email (HTML autoescaped, text not)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir() / "email"),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def excerpt(article: Article, limit: int = EXCERPT_CHARS) -> str:
    """The summary, else the body's first `limit` characters cut at a word."""
    return article_excerpt(article.summary, article.body_html, limit)


def mail_date(when: datetime, language: str) -> str:
    """A date and time as a reader of `language` writes it, in UTC ("5 декабря 2026, 18:00 UTC")."""
    return format_when(when, language)


def email_article(article: Article, base_url: str, *, full_body: bool, language: str = "en") -> EmailArticle:
    """The email view of an article."""
    image = article.images[0] if article.images else None
    body = article.body_html if full_body and len(article.body_html) <= FULL_BODY_BYTES else None
    return EmailArticle(
        title=article.title,
        url=article.canonical_url(base_url),
        excerpt=excerpt(article),
        published=mail_date(article.published_at, language),
        authors=", ".join(article.authors),
        image_url=image.url if image else None,
        image_alt=image.alt if image else "",
        body_html=body,
    )


def inline_css(document: str) -> str:
    """premailer: CSS inlined, <style> kept for media queries, nothing loaded from outside."""
    return Premailer(
        document,
        keep_style_tags=True,
        disable_validation=True,
        allow_network=False,
        allow_loading_external_files=False,
        cssutils_logging_level=logging.CRITICAL,
    ).transform()


def site_name(base_url: str) -> str:
    """The site's host name, shown in emails."""
    return urlsplit(base_url).hostname or base_url


@dataclass(frozen=True)
class Masthead:
    """What heads every email: SITE_TITLE, and SITE_LOGO_URL when set (the title is its alt text)."""

    title: str = ""
    logo_url: str = ""


def render_edition(
    *,
    list_name: str,
    frequency: str,
    articles: Sequence[Article],
    language: str,
    base_url: str,
    max_html_bytes: int,
    masthead: Masthead | None = None,
    view_url: str = "",
    web_view: bool = False,
) -> RenderedEmail:
    """Render an edition for one language; shows fewer articles (linking the rest) to fit the size.

    `view_url` links the edition's web page from the mail; `web_view` renders that page itself
    (a plain greeting, no per-recipient links, nothing left to fill in).
    """
    lang = mail_language(language)
    shown = len(articles)
    head = masthead or Masthead()
    while True:
        rendered = _render(list_name, frequency, articles, shown, lang, base_url, head, view_url, web_view)
        if len(rendered.html.encode()) <= max_html_bytes or shown <= 1:
            return rendered
        shown = max(1, shown // 2 if shown > 4 else shown - 1)


def _render(
    list_name: str, frequency: str, articles: Sequence[Article], shown: int, lang: str, base_url: str,
    masthead: Masthead, view_url: str, web_view: bool,
) -> RenderedEmail:
    t = strings_for(lang)
    site = site_name(base_url)
    full = frequency == "instant" and len(articles) == 1
    views = [email_article(a, base_url, full_body=full, language=lang) for a in articles[:shown]]
    if len(articles) == 1:
        subject = t["subject_digest_one"].format(list=list_name, title=articles[0].title)
    else:
        subject = plural(lang, "subject_digest", len(articles), list=list_name)
    more = len(articles) - shown
    context = {
        "lang": lang,
        "t": t,
        "site": site,
        "list_name": list_name,
        "subject": subject,
        "preheader": " · ".join(v.title for v in views[:3]),
        "intro": t["intro_instant"] if frequency == "instant" else t["intro_digest"].format(
            list=list_name),
        "articles": views,
        "more_count": more,
        "more_text": plural(lang, "more_articles", more),
        "more_url": f"{base_url}/news",
        "news_url": f"{base_url}/news",
        "why": t["why"].format(list=list_name, site=site),
        "site_title": masthead.title or site,
        "logo_url": masthead.logo_url,
        "view_url": "" if web_view else view_url,
        "web_view": web_view,
        "greeting": t["hello"],
        "subscribe_url": f"{base_url}/subscribe",
    }
    env = environment()
    document = env.get_template("digest.html").render(ph=body_placeholders("html"), **context)
    text = env.get_template("digest.txt").render(ph=body_placeholders("text"), **context)
    return RenderedEmail(subject=subject, html=inline_css(document), text=text, language=lang,
                         articles_shown=shown)


def render_confirmation(
    *, list_names: Sequence[str], language: str, confirm_url: str, base_url: str,
    masthead: Masthead | None = None, expires_at: datetime | None = None,
) -> tuple[str, str, str]:
    """Subject, HTML and text of the double opt-in confirmation email (saying when the link expires)."""
    lang = mail_language(language)
    t = strings_for(lang)
    head = masthead or Masthead()
    context = {
        "lang": lang,
        "t": t,
        "intro": t["confirm_intro"].format(lists=", ".join(list_names), site=site_name(base_url)),
        "confirm_url": confirm_url,
        "site_title": head.title or site_name(base_url),
        "logo_url": head.logo_url,
        "expires": t["confirm_expires"].format(when=mail_date(expires_at, lang)) if expires_at else "",
    }
    env = environment()
    document = inline_css(env.get_template("confirm.html").render(**context))
    return t["confirm_subject"], document, env.get_template("confirm.txt").render(**context)
