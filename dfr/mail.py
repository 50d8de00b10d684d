"""Email: an SMTP client to the configured server, and a local SMTP sink for `dfr demo` and tests.

The client is the standard library's smtplib, run in a worker thread (never on the event loop).
The sink is aiosmtpd's server on this service's own event loop, on a free loopback port; the
messages it holds are shown at `/demo/mail` (admin and tester only, rendered as text).
"""

from __future__ import annotations

import asyncio
import smtplib
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd import smtp as aiosmtpd_smtp
from fastapi import FastAPI
from fastapi.responses import FileResponse

from dfr.console import STATIC_DIR
from dfr.errors import ServiceUnavailableError
from dfr.models import utcnow
from dfr.settings import SmtpSettings

#: The sink keeps the newest messages only (a demo runs for hours).
SINK_KEEP = 500


@dataclass(frozen=True, slots=True)
class Mail:
    """One plain-text email."""

    to: str
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    """One email as the sink received it."""

    id: int
    at: datetime
    mail_from: str
    to: tuple[str, ...]
    subject: str
    body: str


class MailSink:
    """A local SMTP server keeping what it receives, for the demo's mail page and tests."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._messages: deque[ReceivedMail] = deque(maxlen=SINK_KEEP)
        self._next_id = 1

    async def start(self) -> None:
        """Listen on a free loopback port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: aiosmtpd_smtp.SMTP(self, hostname="dfr-mail-sink"), self.host, 0
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """aiosmtpd's hook: keep the message."""
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.original_content or b"")
        body = parsed.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        self._messages.append(
            ReceivedMail(
                id=self._next_id,
                at=utcnow(),
                mail_from=str(envelope.mail_from),
                to=tuple(str(r) for r in envelope.rcpt_tos),
                subject=str(parsed.get("Subject", "")),
                body=str(text).replace("\r\n", "\n"),  # SMTP's line ends, as text
            )
        )
        self._next_id += 1
        return "250 Message accepted for delivery"

    def messages(self) -> list[ReceivedMail]:
        """What the sink holds, newest first."""
        return list(reversed(self._messages))


class Mailer:
    """Sends plain-text email through an SMTP server (the configured one, or the sink)."""

    def __init__(self, settings: SmtpSettings, sink: MailSink | None = None) -> None:
        self._settings = settings
        self._sink = sink

    @property
    def configured(self) -> bool:
        """Whether there is a server to send through."""
        return self._sink is not None or bool(self._settings.host)

    async def send(self, mail: Mail) -> None:
        """Send `mail` (ServiceUnavailableError when no server is configured or it refuses)."""
        if not self.configured:
            raise ServiceUnavailableError("no mail server is configured (DFR_SMTP__HOST)")
        try:
            await asyncio.to_thread(self._send_blocking, mail)
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise ServiceUnavailableError(f"the mail server refused or failed: {exc}") from exc

    def _send_blocking(self, mail: Mail) -> None:
        s = self._settings
        message = EmailMessage()
        message["From"] = s.from_address
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        if self._sink is not None:
            with smtplib.SMTP(self._sink.host, self._sink.port, timeout=s.timeout_s) as smtp:
                smtp.send_message(message)
            return
        assert s.host is not None
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout_s) as smtp:
            if s.starttls:
                smtp.starttls()
            if s.username:
                password = s.password.get_secret_value() if s.password else ""
                smtp.login(s.username, password)
            smtp.send_message(message)


def mount_mail_page(app: FastAPI) -> None:
    """Serve the demo mailbox page at `/demo/mail` (its data needs an admin or tester token)."""

    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "mail.html", headers={"Cache-Control": "no-cache"})

    app.add_api_route("/demo/mail", page, methods=["GET"], include_in_schema=False)
