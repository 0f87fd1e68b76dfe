"""The SMTP transport against a real aiosmtpd server: replies per recipient, auth, .eml outbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from syndicate.errors import ConfigError
from syndicate.mail.outbox import OutboxTransport
from syndicate.mail.smtp import SmtpTransport, parse_smtp_url
from syndicate.mail.smtp_pipeline import dot_stuffed
from tests.conftest import free_port
from tests.integration.digest_helpers import SmtpSink

MESSAGE = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody\r\n"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    s = SmtpSink(port=free_port())

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = data.login == b"user" and data.password == b"p@ss word"
        return AuthResult(success=ok, handled=False)

    controller = Controller(s, hostname="127.0.0.1", port=s.port, authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    yield s
    controller.stop()


@pytest.mark.parametrize("pipelining", [False, True])
def test_one_connection_reports_each_recipients_fate(sink: SmtpSink, pipelining: bool) -> None:
    sink.replies = {"later@example.com": ["451 4.7.1 try later"], "gone@example.com": ["550 5.1.1 no"]}
    dotted = MESSAGE + b".leading dot line\r\n"
    with SmtpTransport(sink.url, pipelining=pipelining) as smtp:
        results = {r: smtp.send("a@example.com", r, dotted)
                   for r in ("ok@example.com", "later@example.com", "gone@example.com", "ok2@example.com")}
    assert results["ok@example.com"].ok and results["ok2@example.com"].ok
    assert results["later@example.com"].temporary and results["later@example.com"].code == 451
    gone = results["gone@example.com"]
    assert gone.code == 550 and not gone.temporary and gone.describe() == "550 5.1.1 no"
    assert sink.recipients() == ["ok@example.com", "ok2@example.com"]
    assert all(data.endswith(b"\r\n.leading dot line\r\n") for _, data in sink.received)


@pytest.mark.parametrize(("data", "stuffed"), [
    (b".first\r\nsecond\r\n", b"..first\r\nsecond\r\n"),
    (b"a\r\n.\r\nb\r\n", b"a\r\n..\r\nb\r\n"),  # a lone dot would end the message
    (b"a\r\n..b\r\nc.d\r\n", b"a\r\n...b\r\nc.d\r\n"),
    (b"bare\n.lf\n", b"bare\n..lf\n"),
    (b"a.b\r\nc. d.\r\n", b"a.b\r\nc. d.\r\n"),  # dots, none starting a line: unchanged
    (b"", b""),
])
def test_lines_starting_with_a_dot_get_a_second_one(data: bytes, stuffed: bytes) -> None:
    assert dot_stuffed(data) == stuffed


def test_a_lone_dot_line_reaches_the_server_intact(sink: SmtpSink) -> None:
    with SmtpTransport(sink.url, pipelining=True) as smtp:
        assert smtp.send("a@example.com", "b@example.com", MESSAGE + b".\r\n.x\r\n").ok
    assert sink.received[0][1].endswith(b"body\r\n.\r\n.x\r\n")


def test_next_envelope_travels_with_the_data_and_each_message_reaches_only_its_recipient(
        sink: SmtpSink) -> None:
    sink.replies = {"later@example.com": ["451 4.7.1 try later"]}
    order = ["a@example.com", "later@example.com", "b@example.com", "c@example.com"]
    with SmtpTransport(sink.url, pipelining=True) as smtp:
        results = [smtp.send("s@example.com", rcpt, MESSAGE + rcpt.encode() + b"\r\n", then)
                   for rcpt, then in zip(order, [*order[1:], None], strict=True)]
    assert [r.code for r in results] == [250, 451, 250, 250]
    assert [(rcpts, data.rsplit(b"\r\n", 2)[-2]) for rcpts, data in sink.received] == [
        (["a@example.com"], b"a@example.com"), (["b@example.com"], b"b@example.com"),
        (["c@example.com"], b"c@example.com")]


def test_an_envelope_opened_ahead_and_never_used_delivers_nothing(sink: SmtpSink) -> None:
    with SmtpTransport(sink.url, pipelining=True) as smtp:
        assert smtp.send("s@example.com", "a@example.com", MESSAGE, then="x@example.com").ok
        # The caller changed its mind: another recipient comes next, then the connection closes
        # with an envelope open for y@ (its QUIT must not become that message's data).
        assert smtp.send("s@example.com", "b@example.com", MESSAGE, then="y@example.com").ok
    assert sink.recipients() == ["a@example.com", "b@example.com"]
    assert all(data == MESSAGE for _, data in sink.received)


class _RefusingSink(SmtpSink):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if b"reject-me" in envelope.original_content:
            return "554 5.6.0 content refused"
        return await super().handle_DATA(server, session, envelope)


def test_refused_data_with_an_envelope_ahead_keeps_the_next_message_intact() -> None:
    refusing = _RefusingSink(port=free_port())
    controller = Controller(refusing, hostname="127.0.0.1", port=refusing.port)
    controller.start()
    try:
        with SmtpTransport(refusing.url, pipelining=True) as smtp:
            first = smtp.send("s@example.com", "a@example.com", MESSAGE + b"reject-me\r\n",
                              then="b@example.com")
            second = smtp.send("s@example.com", "b@example.com", MESSAGE)
    finally:
        controller.stop()
    assert first.code == 554 and not first.bounce
    assert second.ok and refusing.received == [(["b@example.com"], MESSAGE)]


def test_credentials_from_the_url_are_used(sink: SmtpSink) -> None:
    url = f"smtp://user:p%40ss%20word@127.0.0.1:{sink.port}"
    with SmtpTransport(url) as smtp:
        assert smtp.send("a@example.com", "b@example.com", MESSAGE).ok
    with SmtpTransport(f"smtp://user:wrong@127.0.0.1:{sink.port}") as smtp:
        result = smtp.send("a@example.com", "b@example.com", MESSAGE)
    assert result.temporary and not result.bounce and "535" in result.reply  # never a bounce


def test_unreachable_server_is_a_temporary_failure() -> None:
    with SmtpTransport(f"smtp://127.0.0.1:{free_port()}") as smtp:
        result = smtp.send("a@example.com", "b@example.com", MESSAGE)
    assert result.temporary and "connection failed" in result.reply


def test_smtp_url_forms() -> None:
    assert parse_smtp_url("smtps://mail.example.com").port == 465
    assert parse_smtp_url("smtp+starttls://u:p@mail.example.com").port == 587
    assert parse_smtp_url("smtp://mail.example.com:2525").username is None
    with pytest.raises(ConfigError, match="SMTP_URL scheme"):
        parse_smtp_url("http://mail.example.com")


def test_outbox_writes_one_eml_per_message(tmp_path: Path) -> None:
    with OutboxTransport(tmp_path / "outbox") as box:
        assert box.send("a@example.com", "b@example.com", MESSAGE).ok
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1 and files[0].read_bytes().endswith(MESSAGE)
