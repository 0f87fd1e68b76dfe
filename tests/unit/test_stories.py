"""The story rule: which articles make one story, and which version a reader gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syndicate.domain.articles import Article
from syndicate.domain.stories import Story, Version, entries_for, stories_of, story_key, translations

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def article(id: int, guid: str, language: str = "en", *, of: str | None = None, minutes_ago: int = 10,
            unpublished: bool = False) -> Article:
    when = NOW - timedelta(minutes=minutes_ago)
    return Article(id=id, guid=guid, slug=f"s{id}", title=f"t{id}", body_html="<p>b</p>", published_at=when,
                   updated_at=when, language=language, translation_of=of,
                   unpublished_at=NOW if unpublished else None)


def test_a_translation_of_a_translation_belongs_to_the_original() -> None:
    original_of = {"en": None, "ru": "en", "uk": "ru"}
    assert story_key("uk", original_of) == "en"
    assert story_key("ru", original_of) == "en"
    assert story_key("en", original_of) == "en"


def test_a_translation_whose_original_is_not_stored_is_keyed_by_the_guid_it_names() -> None:
    # Imported before its original: the key is already the one the original will have.
    assert story_key("ru", {"ru": "en"}) == "en"
    assert story_key("ru", {"ru": "en", "en": None}) == "en"


def test_a_cycle_is_one_story_named_by_its_smallest_guid() -> None:
    original_of = {"b": "c", "c": "a", "a": "b", "d": "b"}
    assert {story_key(g, original_of) for g in original_of} == {"a"}


def test_an_original_and_its_translation_make_one_story_with_the_original_first() -> None:
    en = article(1, "g-en", "en", minutes_ago=9)
    ru = article(2, "g-ru", "ru", of="g-en", minutes_ago=4)
    other = article(3, "g-x", "en", minutes_ago=2)
    stories = stories_of([other, ru, en], [en, ru], until=NOW)
    assert stories == [Story("g-x", (Version(3, "en"),)),
                       Story("g-en", (Version(1, "en"), Version(2, "ru")))]


def test_versions_not_yet_published_or_outside_the_lists_language_are_not_offered() -> None:
    en = article(1, "g-en", "en")
    ru = article(2, "g-ru", "ru-RU", of="g-en")
    later = article(3, "g-de", "de", of="g-en", minutes_ago=-30)
    gone = article(4, "g-fr", "fr", of="g-en", unpublished=True)
    [story] = stories_of([en], [ru, later, gone], until=NOW)
    assert [v.article_id for v in story.versions] == [1, 2]
    [russian] = stories_of([ru], [en], list_language="ru", until=NOW)
    assert russian.versions == (Version(2, "ru-RU"),)


def test_a_reader_gets_their_language_then_its_primary_subtag_then_the_default() -> None:
    story = Story("k", (Version(1, "en"), Version(2, "ru-RU"), Version(3, "pt")))
    assert story.pick("ru-RU").article_id == 2
    assert story.pick("ru").article_id == 2
    assert story.pick("pt-BR").article_id == 3
    assert story.pick("de").article_id == 1


def test_entries_are_one_per_story_in_edition_order_without_the_skipped_ones() -> None:
    stories = [Story("a", (Version(1, "en"), Version(2, "ru"))), Story("b", (Version(3, "en"),))]
    assert [e.article_id for e in entries_for(stories, "ru")] == [2, 3]
    assert [e.article_id for e in entries_for(stories, "ru", skip={"a"})] == [3]


def test_translations_list_the_other_published_versions_by_language() -> None:
    en = article(1, "g-en", "en")
    ru = article(2, "g-ru", "ru", of="g-en")
    uk = article(3, "g-uk", "uk", of="g-ru")
    hidden = article(4, "g-de", "de", of="g-en", unpublished=True)
    found = translations([ru], [en, uk, hidden], until=NOW)
    assert [(t.article_id, t.language) for t in found[2]] == [(1, "en"), (3, "uk")]
    assert translations([article(9, "alone")], [], until=NOW) == {9: ()}
