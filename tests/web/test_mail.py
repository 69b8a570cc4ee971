"""E-mails in the recipient's language with a plain-text and an HTML part; messages said
across a change of language (sign-up, language choice) in the language of the next page."""

import email
from email import policy
from pathlib import Path

import pytest
from factories import login, make_member, make_org
from sqlmodel import select

from market.models import Notification
from participants.models import Member
from web.alerting import send_notice_mails
from web.mail import paragraphs_of
from web.views.contracts import NOTICE_REASON, NOTICE_SUBJECT


def outbox(app) -> list:
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(Path(app.config["MAIL_OUTBOX"]).glob("*.eml"))
    ]


def parts(message) -> tuple[str, str]:
    """The plain text and the HTML of a multipart/alternative e-mail."""
    assert message.get_content_type() == "multipart/alternative"
    types = [p.get_content_type() for p in message.iter_parts()]
    assert types == ["text/plain", "text/html"]
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return plain, html


RESET = {
    "ja": ("循環のパスワード再設定", "1時間以内", 'lang="ja"'),
    "en": ("Reset your Junkan password", "within one hour", 'lang="en"'),
}


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_password_reset_mail_is_in_the_members_language_with_text_and_html(app, client, db, locale):
    member = make_member(db, make_org(db), locale=locale)
    # the browser asks for the other language: the member's own wins
    other = "en" if locale == "ja" else "ja"
    client.post(
        "/password/forgot", data={"email": member.email}, headers={"Accept-Language": other}
    )
    (message,) = outbox(app)
    subject, words, lang = RESET[locale]
    assert message["Subject"] == subject
    plain, html = parts(message)
    assert words in plain and words in html and lang in html
    link = next(w for w in plain.split() if "/password/reset/" in w)
    assert f'<a href="{link}">{link}</a>' in html


@pytest.mark.parametrize(
    ("locale", "subject", "words"),
    [
        ("ja", "循環への招待", "7日以内にパスワードを設定してください"),
        ("en", "You are invited to Junkan", "Choose your password within seven days"),
    ],
)
def test_invitation_mail_is_in_the_language_chosen_for_the_invited_member(
    app, client, db, locale, subject, words
):
    org = make_org(db)
    admin = make_member(db, org, roles="admin", locale="ja")
    login(client, admin.email)
    r = client.post(
        "/organization/members",
        data={
            "invite-name": "Ken <b>",
            "invite-email": "ken@yard.jp",
            "invite-roles": ["inspector"],
            "invite-locale": locale,
        },
    )
    assert r.status_code == 302
    invited = db.exec(select(Member).where(Member.email == "ken@yard.jp")).one()
    assert invited.locale == locale
    (message,) = outbox(app)
    assert message["To"] == "ken@yard.jp" and message["Subject"] == subject
    plain, html = parts(message)
    assert words in plain and words in html
    assert admin.name in plain
    assert (org.name_en if locale == "en" else org.name_ja) in plain  # the name it reads
    link = next(w for w in plain.split() if "/password/reset/" in w)
    assert f'<a href="{link}">' in html


def test_notice_mail_goes_to_each_member_in_its_own_language(app, db):
    org = make_org(db)
    ja = make_member(db, org, locale="ja")
    en = make_member(db, org, locale="en")
    notes = [
        Notification(
            member_id=m.id,
            message="New message on contract %(id)s.",
            params='{"id": 7}',
            link="/contracts/7",
            dedupe_key="mail-test",
        )
        for m in (ja, en)
    ]
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert send_notice_mails(db, notes, NOTICE_SUBJECT, NOTICE_REASON) == 2
    mails = {m["To"]: m for m in outbox(app)}
    assert mails[ja.email]["Subject"] == "Junkan：契約に関するお知らせ"
    assert mails[en.email]["Subject"] == "Junkan: news on one of your contracts"
    ja_plain, ja_html = parts(mails[ja.email])
    en_plain, en_html = parts(mails[en.email])
    assert "契約7に新しいメッセージがあります。" in ja_plain and "こちらから確認できます" in ja_html
    assert "New message on contract 7." in en_plain and "Open it here" in en_html
    link = app.config["BASE_URL"] + "/contracts/7"
    assert f'<a href="{link}">{link}</a>' in ja_html and 'lang="ja"' in ja_html
    assert 'lang="en"' in en_html


def test_html_part_escapes_the_text_and_links_only_web_addresses(app):
    from web.mail import render_html

    with app.test_request_context():
        html = render_html(
            "<Subject>",
            'Hello <script>alert(1)</script> & "you"\n\nSee https://junkan.jp/a?b=1&c=2.',
        )
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<title>&lt;Subject&gt;</title>" in html
    assert '<a href="https://junkan.jp/a?b=1&amp;c=2">https://junkan.jp/a?b=1&amp;c=2</a>.' in html


def test_plain_text_splits_into_paragraphs_lines_and_links():
    assert paragraphs_of("One\ntwo http://x.jp/p。\n\nthree") == [
        [[("text", "One")], [("text", "two "), ("link", "http://x.jp/p"), ("text", "。")]],
        [[("text", "three")]],
    ]


def test_sign_up_welcome_is_in_the_language_of_the_page_that_shows_it(client, db):
    from test_participants import SIGNUP

    # an English browser signs up a Japanese-speaking administrator: the next page is Japanese
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    r = client.post("/signup", data=SIGNUP | {"locale": "ja"}, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert 'lang="ja"' in page
    assert "ようこそ！組織を登録しました。運営者の確認をお待ちください。" in page
    assert "Welcome!" not in page


def test_a_language_change_is_confirmed_in_the_new_language(client, db):
    member = make_member(db, make_org(db), locale="en")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, member.email)
    r = client.post("/account", data={"locale": "ja"}, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert 'lang="ja"' in page and "保存しました。" in page
