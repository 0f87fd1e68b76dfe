"""The words of every email, in English and Russian; other languages fall back to English."""

from __future__ import annotations

from typing import Final

from babel import Locale, UnknownLocaleError

STRINGS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "hello_name": "Hello, {name}!",
        "hello": "Hello!",
        "intro_instant": "A new article was just published.",
        "intro_digest": "Here is what we published since the last issue of {list}.",
        "read_more": "Read the full article",
        "more_articles": "{count} more articles are waiting for you on our website",
        "all_news": "All news",
        "why": "You receive this email because you subscribed to {list} at {site}.",
        "unsubscribe": "Unsubscribe",
        "preferences": "Manage your subscription",
        "subject_digest": "{list}: {count} new articles",
        "subject_digest_one": "{list}: {title}",
        "confirm_subject": "Please confirm your subscription",
        "confirm_intro": "Someone, hopefully you, asked to receive {lists} from {site}.",
        "confirm_button": "Confirm my subscription",
        "confirm_ignore": "If it was not you, ignore this email: nothing will be sent to you.",
        "image": "Image",
        "view_in_browser": "View in your browser",
        "subscribe": "Subscribe",
        "confirm_expires": "This link works until {when}.",
    },
    "ru": {
        "hello_name": "Здравствуйте, {name}!",
        "hello": "Здравствуйте!",
        "intro_instant": "Только что вышла новая статья.",
        "intro_digest": "Вот что мы опубликовали с прошлого выпуска рассылки «{list}».",
        "read_more": "Читать статью полностью",
        "more_articles": "Ещё статей на сайте: {count}",
        "all_news": "Все новости",
        "why": "Вы получили это письмо, потому что подписались на рассылку «{list}» на {site}.",
        "unsubscribe": "Отписаться",
        "preferences": "Настройки подписки",
        "subject_digest": "{list}: новых статей — {count}",
        "subject_digest_one": "{list}: {title}",
        "confirm_subject": "Подтвердите подписку",
        "confirm_intro": "Кто-то, надеемся, вы, попросил присылать {lists} с сайта {site}.",
        "confirm_button": "Подтвердить подписку",
        "confirm_ignore": "Если это были не вы, просто проигнорируйте письмо: мы ничего не пришлём.",
        "image": "Изображение",
        "view_in_browser": "Открыть в браузере",
        "subscribe": "Подписаться",
        "confirm_expires": "Ссылка действует до {when}.",
    },
}

LANGUAGES: Final = tuple(STRINGS)


def language_name(language: str) -> str:
    """The language's own name for itself, capitalized ("Русский", "English"); the tag if unknown."""
    try:
        name = Locale.parse(language.replace("-", "_")).get_display_name(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return language
    return (name[:1].upper() + name[1:]) if name else language


def strings_for(language: str) -> dict[str, str]:
    """The strings of a BCP 47 language tag's primary language, English when we have none."""
    return STRINGS.get(language.split("-")[0].lower(), STRINGS["en"])


def mail_language(language: str) -> str:
    """The language code whose strings are used for `language` ('en' or 'ru')."""
    primary = language.split("-")[0].lower()
    return primary if primary in STRINGS else "en"
