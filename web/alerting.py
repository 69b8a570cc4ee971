"""E-mails for the notifications a publication raised (after the caller has committed).

The domain (`market.listings.publish_listing` / `publish_request`) creates the in-app
notifications in the caller's transaction; the view commits, then calls `send_alert_mails`.
This module never commits, and a mail that fails is logged: it never undoes the publication.
"""

import json

from flask import current_app
from flask_babel import force_locale, gettext
from sqlmodel import Session, col, select

from market.models import Notification
from participants.errors import N_
from participants.models import Member
from web.mail import send_mail


def send_alert_mails(session: Session, notes: list[Notification]) -> int:
    """E-mail each member alerted by a saved search, in its language; returns how many."""
    return send_notice_mails(
        session,
        notes,
        N_("Junkan: a new match for your saved search"),
        N_("You receive this e-mail because you saved a search on Junkan."),
    )


def send_seller_message_mails(session: Session, notes: list[Notification]) -> int:
    """E-mail the seller's members a buyer's message about their listing (page and API)."""
    return send_notice_mails(
        session,
        notes,
        N_("Junkan: a message about your listing"),
        N_("You receive this e-mail because a buyer wrote about your listing on Junkan."),
    )


def send_notice_mails(
    session: Session, notes: list[Notification], subject: str, reason: str
) -> int:
    """E-mail each notified member in its language (subject and reason are msgids); returns
    the number of e-mails sent. Never commits; a failed mail is logged and skipped."""
    if not notes:
        return 0
    members = {
        m.id: m
        for m in session.exec(
            select(Member).where(col(Member.id).in_({n.member_id for n in notes}))
        ).all()
    }
    base = current_app.config.get("BASE_URL", "")
    sent = 0
    for note in notes:
        member = members.get(note.member_id)
        if member is None or not member.active:
            continue
        params = json.loads(note.params or "{}")
        with force_locale(member.locale or "ja"):
            text = gettext(note.message, **params) if params else gettext(note.message)
            body = gettext(
                "%(text)s\n\nOpen it here:\n%(link)s\n\n%(reason)s",
                text=text,
                link=base + (note.link or ""),
                reason=gettext(reason),
            )
            title = gettext(subject)
            try:  # inside the member's language: the HTML part is rendered there too
                send_mail(member.email, title, body)
                sent += 1
            except Exception:  # noqa: BLE001 - the publication is committed; a mail may fail alone
                current_app.logger.exception("alert e-mail to member %s failed", member.id)
    return sent
