"""A pipelined SMTP connection driven from a selector, against a real aiosmtpd server on loopback:
the same fate per recipient as SmtpTransport.send, a dropped connection sent once more, and the
connection handed back to smtplib in step."""

from __future__ import annotations

import selectors
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syndicate.mail.smtp import SmtpTransport
from syndicate.mail.smtp_pipeline import SmtpPipeline
from syndicate.mail.transport import SendResult
from tests.conftest import free_port
from tests.integration.digest_helpers import SmtpSink, serving

MESSAGE = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody\r\n"


class _Sink(SmtpSink):
    """Refuses data holding `reject-me`; drops the connection once on data holding `drop-me`."""

    dropped = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if b"reject-me" in envelope.original_content:
            return "554 5.6.0 content refused"
        if b"drop-me" in envelope.original_content and not self.dropped:
            self.dropped += 1
            server.transport.close()  # gone before the 250: the message was not taken
            return "451 never read"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def sink() -> Iterator[_Sink]:
    with serving(_Sink(port=free_port())) as s:
        yield s


def _begun(smtp: SmtpTransport, selector: selectors.BaseSelector) -> SmtpPipeline:
    """A pipeline of `smtp` with one message begun and not yet answered."""
    pipe = smtp.pipeline()
    assert pipe is not None
    pipe.watch(selector, None)
    assert pipe.begin("s@example.com", "a@example.com", MESSAGE, None) is None
    return pipe


def _drive(pipe: SmtpPipeline, selector: selectors.BaseSelector, rcpt: str, data: bytes,
           then: str | None) -> SendResult:
    """One message through the pipeline, waiting on the selector as the fan-out's loop does."""
    result = pipe.begin("s@example.com", rcpt, data, then)
    while result is None:
        events = selector.select(5)
        assert events, "no reply within 5 s"
        result = pipe.readable()
    return result


def _send_all(transport: SmtpTransport, messages: list[tuple[str, bytes]]) -> list[SendResult]:
    pipe = transport.pipeline()
    assert pipe is not None, "the sink offers PIPELINING"
    with selectors.DefaultSelector() as selector:
        pipe.watch(selector, None)
        results = [_drive(pipe, selector, rcpt, data, following[0] if following else None)
                   for (rcpt, data), following in zip(messages, [*messages[1:], None], strict=True)]
        pipe.release()
    return results


def test_each_recipient_gets_the_fate_smtp_transport_gives_it(sink: _Sink) -> None:
    sink.replies = {"later@example.com": ["451 4.7.1 try later"], "gone@example.com": ["550 5.1.1 no"]}
    order = ["a@example.com", "later@example.com", "gone@example.com", "b@example.com"]
    with SmtpTransport(sink.url) as smtp:
        results = _send_all(smtp, [(r, MESSAGE + r.encode() + b"\r\n.dot\r\n") for r in order])
    assert [r.code for r in results] == [250, 451, 550, 250]
    assert results[2].bounce and results[1].temporary and not results[1].bounce
    assert results[2].describe() == "550 5.1.1 no"
    assert [(rcpts, data.rsplit(b"\r\n", 3)[-3]) for rcpts, data in sink.received] == [
        (["a@example.com"], b"a@example.com"), (["b@example.com"], b"b@example.com")]
    assert all(data.endswith(b"\r\n.dot\r\n") for _, data in sink.received)  # dot-stuffed on the wire


def test_refused_data_with_an_envelope_ahead_keeps_the_next_message_intact(sink: _Sink) -> None:
    with SmtpTransport(sink.url) as smtp:
        first, second = _send_all(smtp, [("a@example.com", MESSAGE + b"reject-me\r\n"),
                                         ("b@example.com", MESSAGE)])
    assert first.code == 554 and not first.bounce
    assert second.ok and sink.received == [(["b@example.com"], MESSAGE)]


def test_a_connection_dropped_mid_message_sends_it_once_more_on_a_new_one(sink: _Sink) -> None:
    with SmtpTransport(sink.url) as smtp:
        results = _send_all(smtp, [("a@example.com", MESSAGE + b"drop-me\r\n"),
                                   ("b@example.com", MESSAGE)])
    assert [r.code for r in results] == [250, 250] and sink.dropped == 1
    assert sink.recipients() == ["a@example.com", "b@example.com"]  # each exactly once


def test_the_connection_goes_back_to_smtplib_in_step(sink: _Sink) -> None:
    with SmtpTransport(sink.url) as smtp:
        assert all(r.ok for r in _send_all(smtp, [("a@example.com", MESSAGE), ("b@example.com", MESSAGE)]))
        assert smtp.reusable()
        assert smtp.send("s@example.com", "c@example.com", MESSAGE).ok  # smtplib reads its own reply
        assert all(r.ok for r in _send_all(smtp, [("d@example.com", MESSAGE)]))
    assert sink.recipients() == ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]


def test_released_mid_message_the_connection_is_dropped_and_delivers_nothing(sink: _Sink) -> None:
    with SmtpTransport(sink.url) as smtp, selectors.DefaultSelector() as selector:
        pipe = _begun(smtp, selector)
        pipe.release()  # before the server answered: the envelope never got its data
        assert not smtp.reusable()
    assert sink.received == []


def test_an_overdue_reply_counts_as_a_lost_connection(sink: _Sink) -> None:
    with SmtpTransport(sink.url) as smtp, selectors.DefaultSelector() as selector:
        pipe = _begun(smtp, selector)
        assert pipe.deadline is not None
        assert pipe.expire() is None  # sent once more, on a new connection
        result = pipe.expire()
    assert result is not None and result.temporary and "no reply within" in result.reply


def test_an_unreachable_server_is_a_temporary_failure_and_no_pipeline() -> None:
    smtp = SmtpTransport(f"smtp://127.0.0.1:{free_port()}")
    assert smtp.pipeline() is None  # the fan-out then sends through `send`, which reports a 421


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (openssl, as the DKIM tests use)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.mark.parametrize("scheme", ["smtps", "smtp+starttls"])
def test_tls_connections_carry_messages_larger_than_a_tls_record(
        certificate: tuple[Path, Path], scheme: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the transport verifies as in production
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    tls: dict[str, Any] = ({"ssl_context": server_tls} if scheme == "smtps"
                           else {"tls_context": server_tls, "require_starttls": True})
    # 40 KB each: every message spans several TLS records, and replies arrive while data goes out.
    messages = [(f"r{n}@example.com", MESSAGE + (b"y" * 998 + b"\r\n") * 40 + f"{n}\r\n".encode())
                for n in range(12)]
    port = free_port()
    with serving(_Sink(port=port), **tls) as sink, SmtpTransport(f"{scheme}://127.0.0.1:{port}") as smtp:
        results = _send_all(smtp, messages)
        assert isinstance(smtp.socket(), ssl.SSLSocket)
    assert all(r.ok for r in results)
    assert sorted(data for _, data in sink.received) == sorted(data for _, data in messages)
