"""Optional DKIM signing (dkimpy) of each outgoing message, covering both unsubscribe headers."""

from __future__ import annotations

from email.utils import parseaddr

from syndicate.errors import ConfigError
from syndicate.settings import Settings

# dkimpy's default list omits List-Unsubscribe-Post; RFC 8058 needs both signed.
SIGNED_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id", b"list-id", b"list-unsubscribe",
                  b"list-unsubscribe-post", b"mime-version", b"content-type")


class DkimSigner:
    """Prepends a DKIM-Signature (relaxed/simple, rsa-sha256) to serialized messages."""

    def __init__(self, selector: str, domain: str, private_key: bytes) -> None:
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("ascii")
        self.key = private_key

    def sign(self, data: bytes) -> bytes:
        """The message with its DKIM-Signature header first."""
        import dkim

        signature: bytes = dkim.sign(data, self.selector, self.domain, self.key,
                                     include_headers=list(SIGNED_HEADERS), linesep=b"\r\n")
        return signature + data


def dkim_signer(settings: Settings) -> DkimSigner | None:
    """A signer when DKIM_SELECTOR and DKIM_PRIVATE_KEY_PATH are set, else None.

    The signing domain is MAIL_FROM's domain. Raises ConfigError naming the setting at fault.
    """
    if not settings.dkim_selector and not settings.dkim_private_key_path:
        return None
    if not settings.dkim_selector or not settings.dkim_private_key_path:
        raise ConfigError("DKIM_SELECTOR and DKIM_PRIVATE_KEY_PATH must be set together")
    try:
        import dkim  # noqa: F401
    except ImportError:
        raise ConfigError("DKIM_SELECTOR is set but dkimpy is not installed") from None
    try:
        key = settings.dkim_private_key_path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"DKIM_PRIVATE_KEY_PATH {str(settings.dkim_private_key_path)!r}: {exc}") from None
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2]
    if not domain:
        raise ConfigError(f"MAIL_FROM {settings.mail_from!r} has no domain to sign for")
    return DkimSigner(settings.dkim_selector, domain, key)
