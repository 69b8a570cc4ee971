"""Outgoing e-mail: SMTP when MAIL_SERVER is set, else .eml files in the outbox folder.

Every e-mail is multipart/alternative: the plain text as written, and an HTML part rendered
from `templates/mail/message.html` (the same text, escaped, with its web addresses as links).
Callers render subject and body in the recipient's language (`flask_babel.force_locale`).
"""

import re
import smtplib
import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from flask import current_app
from flask_babel import get_locale

# A web address: ASCII URL characters, not ending in punctuation of the sentence around it.
LINK = re.compile(r"(https?://[A-Za-z0-9\-._~:/?#\[\]@!$&*+,;=%]*[A-Za-z0-9\-_~/#=&%])")

Segment = tuple[str, str]  # ("text" | "link", the text)


def paragraphs_of(body: str) -> list[list[list[Segment]]]:
    """The plain text as paragraphs (split on blank lines) of lines of text and link pieces."""
    blocks = [b for b in re.split(r"\n\s*\n", body.strip()) if b.strip()]
    return [
        [
            [
                ("link" if i % 2 else "text", piece)
                for i, piece in enumerate(LINK.split(line))
                if piece
            ]
            for line in block.splitlines()
        ]
        for block in blocks
    ]


def render_html(subject: str, body: str) -> str:
    """The HTML part of an e-mail: the plain text escaped, its web addresses as links."""
    template = current_app.jinja_env.get_template("mail/message.html")
    return template.render(
        lang=str(get_locale() or "ja"), subject=subject, paragraphs=paragraphs_of(body)
    )


def compose_mail(to: str, subject: str, body: str) -> EmailMessage:
    """A multipart/alternative message: plain text first, then its HTML rendering."""
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_SENDER"]
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="junkan.jp")
    msg.set_content(body)
    msg.add_alternative(render_html(subject, body), subtype="html")
    return msg


def send_mail(to: str, subject: str, body: str) -> EmailMessage:
    """Send (or write to the outbox) one e-mail; `subject` and `body` are already translated."""
    cfg = current_app.config
    msg = compose_mail(to, subject, body)
    if cfg.get("MAIL_SERVER"):
        with smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=10) as smtp:
            if cfg.get("MAIL_USE_TLS"):
                smtp.starttls()
            if cfg.get("MAIL_USERNAME"):
                smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
            smtp.send_message(msg)
    else:
        outbox = Path(cfg["MAIL_OUTBOX"])
        outbox.mkdir(parents=True, exist_ok=True)
        (outbox / f"{uuid.uuid4().hex}.eml").write_bytes(bytes(msg))
    current_app.logger.info("mail sent to %s: %s", to, subject)
    return msg
