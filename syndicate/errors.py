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


class DatabaseUnavailable(SyndicateError):
    """The database did not answer (down, restarting, unreachable); nothing was changed by the
    statement that failed, and the command may be run again once it is back."""

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        #: What the driver said (e.g. "connection refused"), for a caller that words its own line.
        self.detail = detail or message
        super().__init__(message)

    @classmethod
    def unreachable(cls, detail: str) -> DatabaseUnavailable:
        """The error for a driver's message `detail` (its first line, at most 300 characters)."""
        detail = detail.strip().splitlines()[0][:300] if detail.strip() else "no answer"
        return cls(f"the database is unreachable ({detail}); try again once it is back", detail=detail)


class InvalidEmail(SyndicateError):
    """An email address failed validation; names the value."""


class InvalidHeader(SyndicateError):
    """A mail header value would break the header block (CR or LF); names the header."""


class InvalidToken(SyndicateError):
    """A signed link token is malformed, forged or expired."""


class RateLimited(SyndicateError):
    """Too many requests for one key in the current window."""


class InvalidDigestInput(SyndicateError):
    """A list, subscriber or resend request is invalid; names the field and value."""


class PartnerUrlRefused(SyndicateError):
    """A partner URL is not http(s), does not resolve, or resolves to an address we never call."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"partner url {url!r} refused: {reason}")


class InvalidPartner(SyndicateError):
    """Partner input failed validation; names the field and the value."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"partner field '{field}': {message}")


class FeedNotFound(SyndicateError):
    """No such feed: an unknown path, category or language under /feeds/ (HTTP 404)."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"feed {path!r} does not exist")


class WebSubPingFailed(SyndicateError):
    """A WebSub hub did not accept a publish ping (retried with backoff by the task)."""

    def __init__(self, hub: str, feed_url: str, reason: str) -> None:
        self.hub = hub
        self.feed_url = feed_url
        super().__init__(f"WebSub hub {hub!r} refused ping for {feed_url!r}: {reason}")


class JobCancelled(SyndicateError):
    """A background job stopped at a safe point because the server is shutting down."""


#: What each named error means at the edges: (HTTP status, CLI exit code). Edges look an error up
#: by its class and then its bases (`http_status`, `exit_code`), so a new subclass inherits the
#: codes of the error it refines. Bad input is exit 2 on the CLI; a service that is down, 1.
ERROR_CODES: dict[type[SyndicateError], tuple[int, int]] = {
    SyndicateError: (500, 1),
    ConfigError: (500, 2),
    InvalidArticle: (422, 2),
    ArticleTooLarge: (413, 2),
    UnsupportedInput: (415, 2),
    NotFound: (404, 2),
    FeedNotFound: (404, 2),
    BrokerUnavailable: (503, 1),
    DatabaseUnavailable: (503, 1),
    InvalidEmail: (422, 2),
    InvalidHeader: (422, 2),
    InvalidToken: (400, 2),
    RateLimited: (429, 2),
    InvalidDigestInput: (422, 2),
    PartnerUrlRefused: (422, 2),
    InvalidPartner: (422, 2),
    WebSubPingFailed: (502, 1),
    JobCancelled: (503, 1),
}


def _codes(exc: SyndicateError) -> tuple[int, int]:
    for cls in type(exc).__mro__:
        if cls in ERROR_CODES:
            return ERROR_CODES[cls]
    return ERROR_CODES[SyndicateError]


def http_status(exc: SyndicateError) -> int:
    """The HTTP status an API answers with for this error."""
    return _codes(exc)[0]


def exit_code(exc: SyndicateError) -> int:
    """The exit code the CLI ends with for this error."""
    return _codes(exc)[1]
