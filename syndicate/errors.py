"""Named errors of syndicate. Edges (HTTP, CLI) translate them to status codes and exit codes."""

from __future__ import annotations


class SyndicateError(Exception):
    """Base of every error syndicate raises on purpose."""


class ConfigError(SyndicateError):
    """A setting is missing or invalid; the process must not start."""


class InvalidArticle(SyndicateError):
    """Article input failed validation; names the source, the field and the value."""

    def __init__(self, field: str, message: str, *, source: str | None = None) -> None:
        self.field = field
        self.message = message
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}field '{field}': {message}")

    def with_source(self, source: str) -> InvalidArticle:
        """The same error, naming the file or request it came from."""
        return type(self)(self.field, self.message, source=source)


class ArticleTooLarge(InvalidArticle):
    """The article body is over the configured size limit (HTTP 413)."""


class UnsupportedInput(InvalidArticle):
    """The file type or encoding cannot be imported."""


class NotFound(SyndicateError):
    """The named object does not exist."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


class BrokerUnavailable(SyndicateError):
    """The task broker did not accept a message; the outbox keeps it for later."""
