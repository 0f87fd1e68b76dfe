"""SMTP transport from SMTP_URL: smtp://, smtps://, smtp+starttls://, with optional user:pass."""

from __future__ import annotations

import contextlib
import select
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from syndicate.errors import ConfigError
from syndicate.mail.smtp_pipeline import SmtpPipeline
from syndicate.mail.transport import ClosesOnExit, SendResult

SCHEMES = {"smtp": 25, "smtps": 465, "smtp+starttls": 587}
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SmtpUrl:
    """A parsed SMTP_URL."""

    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpUrl:
    """Parse SMTP_URL; raises ConfigError naming the value when the scheme or host is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ConfigError(f"SMTP_URL scheme must be one of {', '.join(SCHEMES)}, got {url!r}")
    if not parts.hostname:
        raise ConfigError(f"SMTP_URL has no host: {url!r}")
    return SmtpUrl(
        scheme=parts.scheme,
        host=parts.hostname,
        port=parts.port or SCHEMES[parts.scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _text(reply: bytes | str) -> str:
    return (reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply).replace(
        "\n", " ")


class SmtpTransport(ClosesOnExit):
    """One SMTP connection, opened on the first send, reopened once if the server drops it.

    With RFC 2920 pipelining a message costs one round trip when the caller names the next
    recipient (`then`): the end of a message's data goes out in one write with the next
    message's MAIL, RCPT and DATA. Those commands open a transaction but send nothing: a
    server discards a transaction whose data never ended, so closing the connection instead of
    sending the next message is always safe.
    """

    def __init__(self, url: str, *, pipelining: bool | None = None) -> None:
        """`pipelining`: None uses RFC 2920 pipelining when the server offers it."""
        self.url = parse_smtp_url(url)
        self._conn: smtplib.SMTP | None = None
        self._want_pipelining = pipelining
        self._pipelining = False
        # (sender, recipient) whose MAIL/RCPT/DATA went out ahead; their replies are unread.
        self.ahead: tuple[str, str] | None = None
        self._pipe: SmtpPipeline | None = None

    def _connect(self) -> smtplib.SMTP:
        u = self.url
        conn: smtplib.SMTP
        if u.scheme == "smtps":
            conn = smtplib.SMTP_SSL(u.host, u.port, timeout=TIMEOUT_S,
                                    context=ssl.create_default_context())
        else:
            conn = smtplib.SMTP(u.host, u.port, timeout=TIMEOUT_S)
            if u.scheme == "smtp+starttls":
                conn.starttls(context=ssl.create_default_context())
        if u.username:
            conn.login(u.username, u.password or "")
        conn.ehlo_or_helo_if_needed()
        offered = conn.does_esmtp and conn.has_extn("pipelining")
        self._pipelining = offered if self._want_pipelining is None else self._want_pipelining
        return conn

    def connection(self) -> smtplib.SMTP:
        """The open connection, opened now (blocking) when there is none; raises
        smtplib.SMTPException or OSError when it cannot be opened or logged into."""
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def socket(self) -> socket.socket | None:
        """The open connection's socket, or None."""
        return self._conn.sock if self._conn is not None else None

    def pipeline(self) -> SmtpPipeline | None:
        """This connection for a selector loop (smtp_pipeline.py), opened now when it is not;
        None when it cannot be opened or the server does not offer PIPELINING (then `send`)."""
        try:
            self.connection()
        except (smtplib.SMTPException, OSError):
            self.drop()
            return None
        return self._pipeline() if self._pipelining else None

    def send(self, sender: str, recipient: str, data: bytes, then: str | None = None) -> SendResult:
        """Send to one recipient; 4xx/5xx refusals come back as results, a lost link as 421.

        `then`: the recipient of the next `send` from the same sender, if known; with pipelining
        its envelope is written together with the end of this message.
        """
        if self.ahead is not None and self.ahead != (sender, recipient):
            self.drop()  # an envelope opened for somebody else: closing discards it
        for attempt in (1, 2):
            if self._conn is None:
                try:
                    self._conn = self._connect()
                except (smtplib.SMTPException, OSError) as exc:
                    # Cannot connect or log in: our problem, retried later, never a bounce.
                    return SendResult(421, f"connection failed: {type(exc).__name__}: {exc}", False)
            if self._pipelining:
                return self._send_pipelined(sender, recipient, data, then)  # retries on its own
            try:
                refused = self._conn.sendmail(sender, [recipient], data)
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = exc.recipients.get(recipient, (550, b"recipient refused"))
                return SendResult(code, _text(reply))
            except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                self._reset()
                return SendResult(exc.smtp_code, _text(exc.smtp_error), recipient_fault=False)
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                self.drop()
                if attempt == 2:
                    return SendResult(421, f"connection lost: {type(exc).__name__}: {exc}", False)
                continue
            except smtplib.SMTPResponseException as exc:
                self.drop()
                return SendResult(exc.smtp_code, _text(exc.smtp_error), recipient_fault=False)
            if recipient in refused:
                code, reply = refused[recipient]
                return SendResult(code, _text(reply))
            return SendResult(250, "ok")
        raise AssertionError("unreachable")

    def _send_pipelined(self, sender: str, recipient: str, data: bytes, then: str | None) -> SendResult:
        """The connection's pipeline (smtp_pipeline.py), waited on here for a blocking sender:
        MAIL, RCPT and DATA in one write, the next envelope with this message's data."""
        pipe = self._pipeline()
        result = pipe.begin(sender, recipient, data, then)
        while result is None:
            sock, deadline = self.socket(), pipe.deadline
            assert sock is not None and deadline is not None, "a message under way has both"
            ready, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
            result = pipe.readable() if ready else pipe.expire()
        return result

    def _pipeline(self) -> SmtpPipeline:
        # One per connection object: replies read ahead (an envelope's, with the last message's
        # 250) stay in its buffers for the next message, whoever sends it.
        if self._pipe is None:
            self._pipe = SmtpPipeline(self)
        return self._pipe

    def reusable(self) -> bool:
        """See Transport.reusable: connected, with no envelope opened ahead."""
        return self._conn is not None and self.ahead is None

    def _reset(self) -> None:
        try:
            if self._conn is not None:
                self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self.drop()

    def drop(self) -> None:
        """Close the connection without QUIT (an envelope written ahead is discarded with it)."""
        conn, self._conn = self._conn, None
        self.ahead = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        """QUIT and close the connection, if open (an envelope opened ahead is discarded)."""
        if self.ahead is not None:
            self.drop()  # a QUIT now would be read as message data
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

