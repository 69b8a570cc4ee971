"""The invite form offers the admin's page language as the invitation's language."""

import re

import pytest
from factories import login, make_member, make_org


def _chosen_language(page: str) -> list[str]:
    select = re.search(r'<select[^>]*id="invite-locale".*?</select>', page, re.S).group(0)
    return re.findall(r'<option[^>]*\bselected\b[^>]*value="(\w+)"', select) or re.findall(
        r'<option[^>]*value="(\w+)"[^>]*\bselected\b', select
    )


@pytest.mark.parametrize("page_language", ["en", "ja"])
def test_the_invitation_language_defaults_to_the_admins_page_language(client, db, page_language):
    admin = make_member(db, make_org(db), roles="admin", locale=page_language)
    login(client, admin.email)
    page = client.get("/organization/").get_data(as_text=True)
    assert f'<html lang="{page_language}"' in page
    assert _chosen_language(page) == [page_language]


def test_the_page_language_switched_for_the_session_is_the_default_too(client, db):
    admin = make_member(db, make_org(db), roles="admin", locale="ja")
    login(client, admin.email)
    with client.session_transaction() as session:
        session["lang"] = "en"
    assert _chosen_language(client.get("/organization/").get_data(as_text=True)) == ["en"]
