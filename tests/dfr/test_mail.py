"""The SMTP client against a real SMTP server on loopback (the sink, standing in for the agency's)."""

from __future__ import annotations

import pytest

from dfr.errors import ServiceUnavailableError
from dfr.mail import Mail, Mailer, MailSink
from dfr.settings import SmtpSettings
from tests.conftest import free_tcp_port


async def test_the_configured_server_receives_a_plain_text_email() -> None:
    server = MailSink()
    await server.start()
    try:
        settings = SmtpSettings(
            host=server.host, port=server.port, starttls=False, **{"from": "rtcc@city.example"}
        )
        await Mailer(settings).send(
            Mail(to="ann@example.org", subject="Hello", body="Line 1\nLine 2")
        )
        (received,) = server.messages()
        assert received.to == ("ann@example.org",)
        assert received.mail_from == "rtcc@city.example"
        assert received.subject == "Hello" and received.body.strip() == "Line 1\nLine 2"
    finally:
        await server.stop()


async def test_no_server_or_one_that_does_not_answer_is_a_clear_503_error() -> None:
    with pytest.raises(ServiceUnavailableError, match="no mail server"):
        await Mailer(SmtpSettings()).send(Mail(to="a@example.org", subject="s", body="b"))
    closed = SmtpSettings(host="127.0.0.1", port=free_tcp_port(), starttls=False, timeout_s=5)
    with pytest.raises(ServiceUnavailableError, match="mail server refused or failed"):
        await Mailer(closed).send(Mail(to="a@example.org", subject="s", body="b"))
