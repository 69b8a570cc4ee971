# ruff: noqa: F811  (the parity world fixture imported from the parity tests)
"""Pages whose last step needs a verified organisation show a member of an organisation that
is not verified yet the page with the verification banner (what verification needs and who
does it) instead of a bare 403; the last step itself is still refused by the domain, on the
page (a message above the form, everything typed kept) and in the API alike, writing nothing.
"""

import pytest
from factories import login
from test_parity import OPERATIONS, world  # noqa: F401

from participants.actors import UNVERIFIED_MESSAGE

BANNER = "Your organisation is not verified yet"
WHO = "Who verifies: the marketplace operator."

# operation of the parity table → (the unverified actor, the form page's final step)
FINAL_STEPS = {
    "submit a bid": ("unverified recycler", "Submitting a bid needs a verified organisation."),
    "ask about a tender": (
        "unverified manufacturer",
        "Asking a question needs a verified organisation.",
    ),
    "list a catalogue product": (
        "unverified manufacturer",
        "Listing a product in the catalogue needs a verified organisation.",
    ),
    "record an assay": ("unverified recycler", "Recording an assay needs a verified organisation."),
    "create a movement record": (
        "unverified recycler",
        "Saving a movement record needs a verified organisation.",
    ),
}
BY_NAME = {o.name: o for o in OPERATIONS}


def _client(app, member):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, member.email)
    return client


@pytest.mark.parametrize("name", sorted(FINAL_STEPS))
def test_unverified_member_sees_the_form_with_the_banner_and_the_last_step_is_refused(
    app, world, api_token, name
):
    actor, step = FINAL_STEPS[name]
    operation = BY_NAME[name]
    assert actor not in operation.ok  # the table: the step is refused to this actor
    member = world.members[actor]
    client = _client(app, member)
    doors = operation.prepare(world, actor)
    _method, url, form = doors.page

    page = client.get(url)
    text = page.get_data(as_text=True)
    assert page.status_code == 200, text
    assert BANNER in text and step in text and WHO in text
    main = text[text.index("<main") :]
    assert main.index(BANNER) < main.index('<form method="post"')  # before typing

    refused = client.post(url, data=form)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 403
    assert UNVERIFIED_MESSAGE.split(";")[0] in text  # said above the form …
    assert BANNER in text and '<form method="post"' in text  # … not on an error page
    assert not doors.done()

    method, url, body = operation.prepare(world, actor).api
    r = client.open(url, method=method, json=body, headers=api_token(member.email))
    assert r.status_code == 403 and r.content_type == "application/problem+json"
    assert r.get_json()["detail"].startswith(UNVERIFIED_MESSAGE.split(";")[0])
    assert not doors.done()


def test_the_bid_form_keeps_what_was_typed_when_the_bid_is_refused(app, world):
    actor = "unverified recycler"
    client = _client(app, world.members[actor])
    _method, url, form = BY_NAME["submit a bid"].prepare(world, actor).page
    text = client.post(url, data=form | {"note": "Two lots, pallets returned."}).get_data(
        as_text=True
    )
    assert "Two lots, pallets returned." in text
    assert 'value="9800000"' in text


def test_unverified_member_sees_the_proposals_page_with_the_banner(app, world):
    client = _client(app, world.members["unverified recycler"])
    r = client.get("/proposals")
    text = r.get_data(as_text=True)
    assert r.status_code == 200
    assert BANNER in text
    assert "Receiving and accepting proposals needs a verified organisation." in text


def test_unverified_member_sees_the_standard_proposal_form_and_proposing_is_refused(app, world):
    from sqlmodel import func, select

    from quality.models import GradeStandard

    client = _client(app, world.members["unverified manufacturer"])
    text = client.get("/standards/new").get_data(as_text=True)
    assert BANNER in text and "Proposing a standard needs a verified organisation." in text
    before = world.db.exec(select(func.count()).select_from(GradeStandard)).one()
    r = client.post(
        "/standards/new",
        data={
            "code": "HDPE-TEST-A",
            "name_en": "HDPE test grade",
            "name_ja": "HDPE試験等級",
            "material": "hdpe",
            "rank": "1",
            "decision_rule": "simple",
            "spec": '{"limits": []}',
            "source": "Test",
        },
    )
    text = r.get_data(as_text=True)
    assert r.status_code in (403, 422)
    assert BANNER in text and '<form method="post"' in text
    world.db.expire_all()
    assert world.db.exec(select(func.count()).select_from(GradeStandard)).one() == before


def test_verified_and_suspended_members_see_no_banner_and_suspended_still_get_403(app, world):
    client = _client(app, world.members["seller trader"])
    assert BANNER not in client.get("/movements/new").get_data(as_text=True)
    client = _client(app, world.members["suspended recycler"])
    assert client.get("/movements/new").status_code == 403
    assert client.get("/proposals").status_code == 403


def test_a_member_of_the_wrong_kind_still_gets_403(app, world):
    # An unverified recycler could never list catalogue products: no banner, the refusal.
    client = _client(app, world.members["unverified recycler"])
    assert client.get("/catalogue/products/new").status_code == 403
