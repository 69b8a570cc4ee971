"""After a listing or request is published: notify matching saved searches, then e-mail them.

One function used by the HTML views and the JSON API alike.
"""

import json

from flask import current_app
from flask_babel import force_locale, gettext
from sqlmodel import Session, col, select

from market.models import Member, OfftakeRequest, SupplyListing
from web.mail import send_mail


def alert_saved_searches(session: Session, item: SupplyListing | OfftakeRequest) -> int:
    """Create the notifications for a just-published item, commit, e-mail each member.

    Returns the number of e-mails sent. The commit comes first so that a mail failure never
    undoes the publication or the notifications.
    """
    from market.alerts import alert_matching_searches

    notes = alert_matching_searches(session, item)
    session.commit()
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
            subject = gettext("Junkan: a new match for your saved search")
            text = gettext(note.message, **params) if params else gettext(note.message)
            body = gettext(
                "%(text)s\n\nOpen it here:\n%(link)s\n\n"
                "You receive this e-mail because you saved a search on Junkan.",
                text=text,
                link=base + (note.link or ""),
            )
        try:
            send_mail(member.email, subject, body)
            sent += 1
        except OSError:
            current_app.logger.exception("alert e-mail to member %s failed", member.id)
    return sent
