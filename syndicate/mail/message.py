"""Building a message once and filling in each recipient's fields into its serialized bytes.

The message is serialized once (CRLF, quoted-printable bodies, lines of at most 76 octets).
Per-recipient fields are placeholders of capital letters that the body encoder keeps on lines of
their own (a soft line break before and after), so each can be replaced by its own
quoted-printable encoding without re-encoding, re-wrapping or re-rendering anything else.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email import policy, quoprimime
from email.message import EmailMessage
from email.utils import formatdate
from functools import lru_cache

from syndicate.errors import InvalidHeader

# Placeholders: letters only (quoted-printable leaves them alone), unlikely in real text.
TO = "ZQXTOQXZ"
MESSAGE_ID = "ZQXMIDQXZ"
LIST_UNSUBSCRIBE = "ZQXLUNSQXZ"
TEXT_FIELD = "ZQXT{}QXZ"
HTML_FIELD = "ZQXH{}QXZ"
BODY_FIELDS = ("GREETING", "UNSUBSCRIBE", "PREFERENCES")
_TOKEN = re.compile(rb"ZQX[A-Z]+QXZ")
_ANY_FIELD = re.compile(r"ZQX[TH]?[A-Z]+QXZ")


def body_placeholders(kind: str) -> dict[str, str]:
    """Placeholders templates print for per-recipient fields: {'greeting': 'ZQXHGREETINGQXZ', ...}."""
    pattern = HTML_FIELD if kind == "html" else TEXT_FIELD
    return {name.lower(): pattern.format(name) for name in BODY_FIELDS}


def check_header(name: str, value: str) -> str:
    """The value unchanged; raises InvalidHeader when it holds CR or LF (header injection)."""
    if "\r" in value or "\n" in value:
        raise InvalidHeader(f"header {name!r} must not contain CR or LF: {value[:80]!r}")
    return value


def qp_encode(text: str) -> bytes:
    """Quoted-printable of `text` (UTF-8), lines of at most 76 octets, LF line ends."""
    # quoprimime works on str of byte values; latin-1 maps UTF-8 bytes 1:1.
    latin = text.replace("\r\n", "\n").encode("utf-8").decode("latin-1")
    return quoprimime.body_encode(latin, maxlinelen=76, eol="\n").encode("ascii")


def encode_body(text: str) -> str:
    """Quoted-printable body in which every placeholder stands alone between soft line breaks."""
    out: list[bytes] = []
    pos = 0
    for match in _ANY_FIELD.finditer(text):
        out.append(qp_encode(text[pos:match.start()]))
        out.append(b"=\n" + match.group().encode() + b"=\n")
        pos = match.end()
    out.append(qp_encode(text[pos:]))
    return b"".join(out).decode("ascii")


@dataclass(frozen=True)
class Recipient:
    """What differs per recipient; URLs and address are plain ASCII."""

    email: str
    message_id: str
    greeting: str
    unsubscribe_url: str
    preferences_url: str


class MessageTemplate:
    """A serialized message with placeholders; `for_recipient` costs a join, not a render."""

    def __init__(self, data: bytes) -> None:
        self.segments: list[bytes] = []
        self.tokens: list[str] = []
        pos = 0
        for match in _TOKEN.finditer(data):
            self.segments.append(data[pos:match.start()])
            self.tokens.append(match.group().decode())
            pos = match.end()
        self.segments.append(data[pos:])
        self.size = len(data)

    def for_recipient(self, rcpt: Recipient) -> bytes:
        """The message for one recipient, CRLF line ends, ready for SMTP."""
        values = recipient_values(rcpt)
        parts = [self.segments[0]]
        for token, segment in zip(self.tokens, self.segments[1:], strict=True):
            parts.append(values[token])
            parts.append(segment)
        return b"".join(parts)


_T_GREETING, _T_UNSUBSCRIBE, _T_PREFERENCES = (TEXT_FIELD.format(name) for name in BODY_FIELDS)
_H_GREETING, _H_UNSUBSCRIBE, _H_PREFERENCES = (HTML_FIELD.format(name) for name in BODY_FIELDS)


def recipient_values(rcpt: Recipient) -> dict[str, bytes]:
    """Each placeholder's replacement bytes: raw in headers, quoted-printable in bodies."""
    check_header("To", rcpt.email)
    check_header("Message-ID", rcpt.message_id)
    check_header("List-Unsubscribe", rcpt.unsubscribe_url)
    greeting_text, greeting_html = _greeting(rcpt.greeting)
    return {
        TO: rcpt.email.encode("ascii"),
        MESSAGE_ID: rcpt.message_id.encode("ascii"),
        LIST_UNSUBSCRIBE: rcpt.unsubscribe_url.encode("ascii"),
        _T_GREETING: greeting_text,
        _H_GREETING: greeting_html,
        _T_UNSUBSCRIBE: _qp_line(rcpt.unsubscribe_url),
        _H_UNSUBSCRIBE: _qp_line(html.escape(rcpt.unsubscribe_url)),
        _T_PREFERENCES: _qp_line(rcpt.preferences_url),
        _H_PREFERENCES: _qp_line(html.escape(rcpt.preferences_url)),
    }


@lru_cache(maxsize=1024)
def _greeting(greeting: str) -> tuple[bytes, bytes]:
    """A greeting's quoted-printable bytes in the text and the HTML part: most readers of a
    language share one ("Hello,"), so it is encoded once, not per message."""
    return _qp_line(greeting), _qp_line(html.escape(greeting))


_QP_UNSAFE = re.compile(r"[^\x21-\x3c\x3e-\x7e ]")


def _qp_line(value: str, width: int = 74) -> bytes:
    """One-line value as quoted-printable; soft breaks keep lines, with the '=' after, within 76."""
    if not _QP_UNSAFE.search(value) and not value.endswith(" "):
        # Fast path (URLs, ASCII names): nothing to escape, only soft line breaks to add.
        return "=\r\n".join([value[i:i + width] for i in range(0, len(value), width)]).encode("ascii")
    return _qp_line_escaped(value, width)


@lru_cache(maxsize=4096)
def _qp_line_escaped(value: str, width: int) -> bytes:
    out: list[bytes] = []
    line = b""
    for byte in value.replace("\r", " ").replace("\n", " ").encode("utf-8"):
        piece = bytes([byte]) if (33 <= byte <= 126 and byte != 61) or byte == 32 else b"=%02X" % byte
        if len(line) + len(piece) > width:
            out.append(line)
            line = b""
        line += piece
    if line.endswith(b" "):
        line = line[:-1] + b"=20"
    out.append(line)
    return b"=\r\n".join(out)


def build_template(
    *,
    mail_from: str,
    subject: str,
    list_id: str,
    text: str,
    html_body: str,
    extra_headers: Mapping[str, str] = {},
) -> MessageTemplate:
    """Build and serialize a text+HTML message once; To, Message-ID and URLs are placeholders."""
    msg = EmailMessage(policy=policy.SMTP)
    for name, value in (("From", mail_from), ("Subject", subject), ("List-Id", list_id),
                        *extra_headers.items()):
        msg[name] = check_header(name, value)
    msg["To"] = TO
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = MESSAGE_ID
    msg["List-Unsubscribe"] = f"<{LIST_UNSUBSCRIBE}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["MIME-Version"] = "1.0"
    msg["Content-Type"] = "multipart/alternative"
    # Text first, then HTML: clients show the last part they understand.
    for subtype, body in (("plain", text), ("html", html_body)):
        part = EmailMessage(policy=policy.SMTP)
        part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
        part["Content-Transfer-Encoding"] = "quoted-printable"
        part.set_payload(encode_body(body))
        msg.attach(part)
    return MessageTemplate(msg.as_bytes(policy=policy.SMTP))


def build_simple(
    *, mail_from: str, to: str, subject: str, text: str, html_body: str, message_id: str
) -> bytes:
    """A one-off text+HTML message (confirmations): same encoding, no placeholders."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = check_header("From", mail_from)
    msg["To"] = check_header("To", to)
    msg["Subject"] = check_header("Subject", subject)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = check_header("Message-ID", message_id)
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html_body, subtype="html", cte="quoted-printable")
    return msg.as_bytes(policy=policy.SMTP)
