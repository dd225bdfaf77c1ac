"""Outgoing email over SMTP with the standard library (smtplib + email).

Configured by MAIL_SERVER, MAIL_PORT, MAIL_USERNAME, MAIL_PASSWORD, MAIL_USE_TLS,
MAIL_FROM and MAIL_TIMEOUT (see ``app/config.py``). Without MAIL_SERVER sending is
off and ``send_mail`` refuses. Callers audit the sending in their own transaction
and commit only after ``send_mail`` returns.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app


class MailError(RuntimeError):
    """The message could not be handed to the SMTP server."""


def configured() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


def _sender() -> str:
    config = current_app.config
    return config.get("MAIL_FROM") or config.get("MAIL_USERNAME") or "stillpoint@localhost"


def build_message(
    to: str, subject: str, body: str, attachments: Iterable[tuple[str, bytes, str]] = ()
) -> EmailMessage:
    """A plain-text message with ``attachments`` as (filename, data, mimetype)."""
    message = EmailMessage()
    message["From"] = _sender()
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=_sender().rpartition("@")[2].strip(">") or None)
    message.set_content(body)
    for filename, data, mimetype in attachments:
        maintype, _, subtype = mimetype.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


def send_mail(
    to: str, subject: str, body: str, attachments: Iterable[tuple[str, bytes, str]] = ()
) -> str:
    """Send one message; return its Message-ID. Raises MailError on any SMTP failure."""
    if not configured():
        raise MailError("email is not configured (MAIL_SERVER is unset)")
    config = current_app.config
    message = build_message(to, subject, body, attachments)
    try:
        with smtplib.SMTP(
            config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=config["MAIL_TIMEOUT"]
        ) as smtp:
            if config["MAIL_USE_TLS"]:
                smtp.starttls(context=ssl.create_default_context())
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"the mail server refused or could not be reached: {exc}") from exc
    return message["Message-ID"]
