"""The one Mailer: every message is signed when DKIM is set, waits for the pace, and is sent once."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from syndicate.errors import ConfigError
from syndicate.mail.dkim import DkimSigner
from syndicate.mail.mailer import IdleConnections, Mailer, build_mailer
from syndicate.mail.message import Recipient, build_template
from syndicate.mail.outbox import OutboxTransport
from syndicate.settings import load_settings
from tests.unit.fakes.mail import FakePace, FakeTransport, fake_mailer


class StampSigner(DkimSigner):
    """Prepends a fixed header instead of a real signature (dkimpy is tested in test_mail_dkim)."""

    def __init__(self) -> None:
        super().__init__("mail", "news.example.com", b"")

    def sign(self, data: bytes) -> bytes:
        return b"DKIM-Signature: v=1; s=mail\r\n" + data


def recipient(email: str) -> Recipient:
    return Recipient(email=email, message_id=f"<1.1.1.x@news.example.com-{email}>", greeting="Hello",
                     unsubscribe_url="https://news.example.com/unsubscribe/t",
                     preferences_url="https://news.example.com/preferences/t")


def test_digests_and_confirmations_are_signed_paced_and_sent_from_mail_from() -> None:
    transport, pace = FakeTransport(), FakePace()
    mailer = fake_mailer(transport, pace=pace, dkim=StampSigner())
    template = build_template(mail_from=mailer.mail_from, subject="Digest", list_id="World <w.example.com>",
                              text="Hello\n", html_body="<p>Hello</p>")
    with mailer.open() as out:
        out.send_template(template, recipient("a@example.org"))
        out.send_simple(to="b@example.org", subject="Confirm", text="Click\n", html_body="<p>Click</p>")
    assert transport.opened == 1 and transport.closed == 1 and pace.waits == 2
    assert [(s, r) for s, r, _ in transport.sent] == [("news@news.example.com", "a@example.org"),
                                                       ("news@news.example.com", "b@example.org")]
    for _, rcpt, data in transport.sent:
        assert data.startswith(b"DKIM-Signature:")
        message = message_from_bytes(data, policy=policy.default)
        assert message["To"] == rcpt and message["From"] == "Newsroom <news@news.example.com>"
    confirm = message_from_bytes(transport.sent[1][2], policy=policy.default)
    assert confirm["Message-ID"].endswith("@news.example.com>") and confirm["Date"]


def test_a_connection_is_closed_when_sending_fails() -> None:
    transport = FakeTransport(breaks_after=0)
    with pytest.raises(ConnectionResetError), fake_mailer(transport).open() as out:
        out.send_simple(to="a@example.org", subject="s", text="t", html_body="<p>t</p>")
    assert transport.closed == 1


def test_the_process_mailer_writes_eml_files_without_smtp_and_checks_dkim_at_start(tmp_path: Path) -> None:
    mailer = build_mailer(load_settings(var_dir=tmp_path), FakePace())
    assert mailer.dkim is None
    with mailer.open() as out:
        assert isinstance(out.transport, OutboxTransport)
        assert out.send_simple(to="a@example.org", subject="s", text="t", html_body="<p>t</p>").ok
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    with pytest.raises(ConfigError, match="DKIM_SELECTOR and DKIM_PRIVATE_KEY_PATH"):
        build_mailer(load_settings(var_dir=tmp_path, dkim_selector="mail"), FakePace())


class _Conn(FakeTransport):
    """A connection that can say whether it may be reused."""

    def __init__(self, open_: bool = True) -> None:
        super().__init__()
        self.open_ = open_

    def reusable(self) -> bool:
        return self.open_ and not self.closed


def test_idle_connections_are_reused_until_too_old_and_closed_when_unfit() -> None:
    now = [0.0]
    idle = IdleConnections(2, max_idle_s=30, clock=lambda: now[0])
    made: list[_Conn] = []

    def connect() -> _Conn:
        made.append(_Conn())
        return made[-1]

    mailer = Mailer(mail_from="N <n@news.example.com>", mail_domain="news.example.com", connect=connect,
                    dkim=None, pace=FakePace(), idle=idle)
    with mailer.open() as out:
        first = out.transport
    with mailer.open() as out:
        assert out.transport is first  # kept open between senders
    now[0] = 31.0
    with mailer.open() as out:
        assert out.transport is not first  # idle too long: closed, a new one opened
    assert first.closed == 1
    broken = mailer.open()
    with pytest.raises(RuntimeError), broken:
        raise RuntimeError("a sender failed")
    assert broken.transport.closed == 1 and idle.take() is not broken.transport  # never handed on


def test_idle_connections_keep_at_most_size_and_only_reusable_ones() -> None:
    idle = IdleConnections(1)
    kept, extra, dropped = _Conn(), _Conn(), _Conn(open_=False)
    for conn in (kept, extra, dropped):
        idle.give(conn)
    assert (kept.closed, extra.closed, dropped.closed) == (0, 1, 1)
    assert idle.take() is kept and idle.take() is None


def test_a_forked_child_starts_without_the_parents_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    idle = IdleConnections(2)
    parent = _Conn()
    idle.give(parent)
    monkeypatch.setattr("syndicate.mail.mailer.os.getpid", lambda: -1)
    assert idle.take() is None and parent.closed == 0  # the parent's socket is not the child's to close
