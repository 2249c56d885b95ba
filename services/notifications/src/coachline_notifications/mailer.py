"""Sends e-mail over SMTP: STARTTLS (required unless switched off outside production), then AUTH."""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from coachline_notifications.service import Email
from coachline_notifications.settings import Settings


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tls = ssl.create_default_context(cafile=settings.smtp_ca_file or None)

    def message(self, email: Email) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.smtp_sender
        message["To"] = ", ".join(email.recipients)
        message["Subject"] = email.subject
        message["Date"] = formatdate(usegmt=True)
        # The same id on every attempt: a mail system that got an attempt we could not confirm
        # (and the people reading it) can tell the repeat.
        message["Message-ID"] = f"<{email.id}@notifications.coachline>"
        message.set_content(email.body)
        return message

    async def send(self, email: Email) -> str | None:
        """None when the server accepted the message; otherwise a short reason."""
        settings = self.settings
        try:
            await aiosmtplib.send(
                self.message(email),
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                start_tls=settings.smtp_starttls,
                tls_context=self.tls if settings.smtp_starttls else None,
                username=settings.smtp_username or None,
                password=settings.smtp_password or None,
                timeout=settings.smtp_timeout_s,
            )
        except aiosmtplib.SMTPResponseException as exc:
            return f"SMTP {exc.code}: {exc.message}"[:200]
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return type(exc).__name__
        return None
