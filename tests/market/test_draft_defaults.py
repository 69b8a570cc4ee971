"""The contract draft a buyer most likely wants from each candidate listing of its request."""

from datetime import date

from factories import as_actor, make_listing, make_member, make_org, make_request

from market.matching import candidates_for_request, draft_defaults
from quality.catalogue import latest_published, seed_catalogue

TODAY = date(2026, 11, 24)


def test_draft_defaults_are_the_open_need_over_the_overlap_of_the_two_periods(db):
    seed_catalogue(db)
    version = latest_published(db, "HDPE-NAT-A")[1].id
    seller = make_org(db, kind="recycler")
    maker = make_org(db, kind="manufacturer")
    buyer = make_member(db, maker, roles="signatory")
    # The request needs 60 t a month from March 2027 for 6 months; 10 t are already filled.
    request = make_request(db, maker, version, filled_kg=10_000)
    # Plenty, available from January 2027 for 12 months: the request's whole period, 50 t.
    wide = make_listing(db, seller, version, title="Wide")
    # 30 t left, from May 2027 for 2 months: only May and June, at most 30 t.
    narrow = make_listing(
        db,
        seller,
        version,
        title="Narrow",
        committed_kg=70_000,
        available_from=date(2027, 5, 1),
        max_term_months=2,
    )
    found = candidates_for_request(db, as_actor(db, buyer), request.id, today=TODAY)
    assert {c.listing_id for c in found.items} == {wide.id, narrow.id}

    assert draft_defaults(db, request, found.items) == {
        wide.id: {"monthly_t": "50", "start_month": "2027-03", "term_months": "6"},
        narrow.id: {"monthly_t": "30", "start_month": "2027-05", "term_months": "2"},
    }


def test_draft_defaults_of_no_candidates_read_nothing(db):
    seed_catalogue(db)
    version = latest_published(db, "HDPE-NAT-A")[1].id
    request = make_request(db, make_org(db, kind="manufacturer"), version)
    assert draft_defaults(db, request, []) == {}
