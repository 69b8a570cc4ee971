"""Pages offer a link or button only to members whom the domain's permission allows the action
(asked through the same Permission objects): nobody is shown a way into a 403."""

from factories import login, make_listing, make_member, make_org

from quality.catalogue import latest_published, seed_catalogue


def _listing(db, org):
    return make_listing(db, org, latest_published(db, "HDPE-NAT-B")[1].id)


def test_the_proposals_link_is_for_verified_organisations_only(client, db):
    unverified = make_member(db, make_org(db, status="unverified"))
    login(client, unverified.email)
    page = client.get("/listings/mine").get_data(as_text=True)
    assert 'href="/proposals"' not in page and 'href="/contracts"' in page
    # opened anyway, the page says what verification needs instead of a bare 403
    assert "Your organisation is not verified yet" in client.get("/proposals").get_data(
        as_text=True
    )
    client.post("/logout")
    login(client, make_member(db, make_org(db)).email)
    assert 'href="/proposals"' in client.get("/listings/mine").get_data(as_text=True)


def test_only_members_who_may_manage_see_the_listing_buttons(client, db):
    seed_catalogue(db)
    recycler = make_org(db, kind="recycler")
    listing = _listing(db, recycler)
    inspector = make_member(db, recycler, roles="inspector")
    login(client, inspector.email)
    page = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert f"/listings/{listing.id}/edit" not in page and "/close" not in page
    assert client.get(f"/listings/{listing.id}/edit").status_code == 403
    client.post("/logout")
    login(client, make_member(db, recycler, roles="trader").email)
    page = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert f"/listings/{listing.id}/edit" in page and f"/listings/{listing.id}/close" in page


def test_only_a_manufacturers_signatory_or_trader_is_offered_a_draft(client, db):
    seed_catalogue(db)
    listing = _listing(db, make_org(db, kind="recycler"))
    maker = make_org(db, kind="manufacturer")
    login(client, make_member(db, maker, roles="inspector").email)
    assert f"/listings/{listing.id}/draft" not in client.get(f"/listings/{listing.id}").get_data(
        as_text=True
    )
    client.post("/logout")
    login(client, make_member(db, maker, roles="trader").email)
    assert f"/listings/{listing.id}/draft" in client.get(f"/listings/{listing.id}").get_data(
        as_text=True
    )
