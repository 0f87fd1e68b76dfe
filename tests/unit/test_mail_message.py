"""The message is built once and filled per recipient: headers, encodings, line lengths."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from syndicate.errors import InvalidHeader
from syndicate.mail.message import Recipient, body_placeholders, build_template

LONG_URL = "https://news.example.com/unsubscribe/" + "Ab0-_" * 60 + "?x=1&y=2"


def template(text: str = "", html_body: str = "", subject: str = "Weekly: новости") -> object:
    ph_t, ph_h = body_placeholders("text"), body_placeholders("html")
    text = text or f"{ph_t['greeting']}\n\nBody line.\n{'long ' * 300}\nLeave: {ph_t['unsubscribe']}\n"
    html_body = html_body or (
        f"<p>{ph_h['greeting']}</p><p>{'x' * 3000}</p>"
        f"<a href=\"{ph_h['unsubscribe']}\">Unsubscribe</a> <a href=\"{ph_h['preferences']}\">Prefs</a>"
    )
    return build_template(mail_from="Newsroom <news@example.com>", subject=subject,
                          list_id="World <world.example.com>", text=text, html_body=html_body)


def rcpt(name: str = "Ann <&> Ли") -> Recipient:
    return Recipient(email="ann@example.com", message_id="<1.2.1@example.com>",
                     greeting=f"Hello, {name}!", unsubscribe_url=LONG_URL,
                     preferences_url="https://news.example.com/preferences/tok=en")


def parse(data: bytes) -> EmailMessage:
    return message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


def test_recipient_fields_reach_headers_and_both_parts_intact() -> None:
    data = template().for_recipient(rcpt())  # type: ignore[attr-defined]
    msg = parse(data)
    assert msg["To"] == "ann@example.com"
    assert msg["Message-ID"] == "<1.2.1@example.com>"
    assert msg["List-Unsubscribe"] == f"<{LONG_URL}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Id"] == "World <world.example.com>"
    assert msg["Date"] and msg["Subject"] == "Weekly: новости"
    text, html = (p.get_content() for p in msg.iter_parts())
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert "Hello, Ann <&> Ли!" in text and LONG_URL in text
    assert "Hello, Ann &lt;&amp;&gt; Ли!" in html
    assert f'href="{LONG_URL.replace("&", "&amp;")}"' in html
    assert 'href="https://news.example.com/preferences/tok=en"' in html
    assert "ZQX" not in text + html


def test_wire_format_is_crlf_with_short_lines() -> None:
    data = template().for_recipient(rcpt())  # type: ignore[attr-defined]
    assert b"\n" not in data.replace(b"\r\n", b"")
    lines = data.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    body = data.split(b"\r\n\r\n", 1)[1]  # headers may run longer (List-Unsubscribe URL)
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    assert all(b < 128 for b in data)


def test_two_recipients_get_their_own_values_from_one_template() -> None:
    tpl = template()
    a = parse(tpl.for_recipient(rcpt("Ann")))  # type: ignore[attr-defined]
    b = parse(tpl.for_recipient(Recipient(  # type: ignore[attr-defined]
        email="bob@example.org", message_id="<1.3.1@example.com>", greeting="Hi, Bob!",
        unsubscribe_url="https://n.example/u/b", preferences_url="https://n.example/p/b")))
    assert a["To"] != b["To"] and a["Message-ID"] != b["Message-ID"]
    assert "Hi, Bob!" in b.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Ann" not in b.as_string()


@pytest.mark.parametrize("bad", ["Hi\r\nBcc: victim@example.com", "Hi\nX: y"])
def test_header_values_with_line_breaks_are_refused(bad: str) -> None:
    with pytest.raises(InvalidHeader, match="Subject"):
        template(subject=bad)
    with pytest.raises(InvalidHeader, match="To"):
        template().for_recipient(Recipient(  # type: ignore[attr-defined]
            email="a@example.com\r\nBcc: x@example.com", message_id="<1@x>", greeting="",
            unsubscribe_url="https://x/u", preferences_url="https://x/p"))
