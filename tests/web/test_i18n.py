"""Every user-facing string is translated; the language follows the member or the switch."""

import re

from babel.messages.pofile import read_po
from factories import login, make_member, make_org

from web.catalogue import CATALOGUE, extract


def test_japanese_catalogue_is_complete_and_keeps_placeholders():
    with CATALOGUE.open("rb") as f:
        catalog = read_po(f, locale="ja")
    translated = {
        (m.context, m.id): m.string for m in catalog if m.id and m.string and "fuzzy" not in m.flags
    }
    missing = [m.id for m in extract() if m.id and (m.context, m.id) not in translated]
    assert missing == []
    for (_context, msgid), msgstr in translated.items():
        if isinstance(msgid, str):
            assert sorted(re.findall(r"%\(\w+\)s", msgid)) == sorted(
                re.findall(r"%\(\w+\)s", msgstr)
            ), msgid


def test_language_switch_changes_the_page_language(client):
    assert "Log in" in client.get("/").get_data(as_text=True)
    client.post("/language", data={"lang": "ja", "next": "/login"})
    page = client.get("/login").get_data(as_text=True)
    assert "ログイン" in page and '<html lang="ja">' in page


def test_members_preferred_language_is_used_and_saved_by_the_switch(client, db):
    member = make_member(db, make_org(db), locale="ja")
    login(client, member.email)
    assert "アカウント" in client.get("/account").get_data(as_text=True)
    client.post("/language", data={"lang": "en"})
    db.refresh(member)
    assert member.locale == "en"


def test_form_validation_messages_are_japanese_for_japanese_users(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ja"
    r = client.post(
        "/signup",
        data={
            "corporate_number": "7000012050003",
            "kind": "recycler",
            "name_ja": "a",
            "name_en": "a",
            "country": "JP",
            "prefecture": "11",
            "name": "a",
            "email": "a@b.jp",
            "password": "long-enough-password",
            "locale": "ja",
        },
    )
    assert "チェックデジットが正しくありません" in r.get_data(as_text=True)


def test_unsafe_next_after_language_switch_goes_home(client):
    r = client.post("/language", data={"lang": "en", "next": "//evil.example"})
    assert r.headers["Location"] == "/"
