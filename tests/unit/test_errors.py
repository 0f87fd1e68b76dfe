"""The one table of what named errors mean at the edges (HTTP status, CLI exit code)."""

from __future__ import annotations

import inspect

import pytest

from syndicate import errors
from syndicate.errors import ERROR_CODES, SyndicateError, exit_code, http_status


def test_every_named_error_has_its_codes() -> None:
    # A new error must be placed in the table on purpose, not fall through to a 500.
    named = {cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, SyndicateError)}
    assert named - set(ERROR_CODES) == set()


@pytest.mark.parametrize(("exc", "status", "code"), [
    (errors.NotFound("edition", 7), 404, 2),
    (errors.FeedNotFound("category/x"), 404, 2),
    (errors.InvalidArticle("title", "is empty"), 422, 2),
    (errors.ArticleTooLarge("body_html", "is too big"), 413, 2),
    (errors.RateLimited("slow down"), 429, 2),
    (errors.BrokerUnavailable("redis down"), 503, 1),
    (errors.InvalidPartner("url", "bad"), 422, 2),
])
def test_codes(exc: SyndicateError, status: int, code: int) -> None:
    assert (http_status(exc), exit_code(exc)) == (status, code)


def test_a_subclass_inherits_the_codes_of_its_base() -> None:
    class Narrower(errors.NotFound):
        pass

    assert http_status(Narrower("article", 1)) == 404
