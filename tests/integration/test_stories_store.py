"""The story read side in SQL: every article tied by `translation_of`, whatever the order they came in."""

from __future__ import annotations

from typing import Any

from syndicate.storage.stories import SqlStoryReader


def ingest(container: Any, guid: str, language: str, of: str | None = None, **extra: Any) -> Any:
    data = {"guid": guid, "title": f"Story {guid}", "body_text": "Text.", "language": language, **extra}
    if of:
        data["translation_of"] = of
    return container.articles.ingest(data).article


def test_linked_follows_chains_both_ways_and_siblings_of_a_missing_original(container: Any) -> None:
    reader = SqlStoryReader(container.session_factory)
    en = ingest(container, "en", "en")
    ru = ingest(container, "ru", "ru", of="en")
    uk = ingest(container, "uk", "uk", of="ru")
    ingest(container, "other", "en")
    assert {a.guid for a in reader.linked([uk])} == {"en", "ru", "uk"}
    assert {a.guid for a in reader.linked([en])} == {"en", "ru", "uk"}
    # Translations that arrived before their original: siblings through the guid they name.
    de = ingest(container, "de", "de", of="fr-original")
    it = ingest(container, "it", "it", of="fr-original")
    assert {a.guid for a in reader.linked([de])} == {"de", "it"}
    # Once the original arrives it joins them.
    ingest(container, "fr-original", "fr")
    assert {a.guid for a in reader.linked([it])} == {"de", "it", "fr-original"}
    [with_t] = reader.with_translations([ru])
    assert [(t.guid, t.language) for t in with_t.translations] == [("en", "en"), ("uk", "uk")]
    assert reader.with_translations([ingest(container, "alone", "en")])[0].translations == ()
