"""Movement records (export/import consents of critical scrap): bad input is refused with
nothing written, only the organisation's traders and administrators manage them, publishing a
critical listing across the border needs a valid one (409 saying what is missing)."""

from datetime import date
from decimal import Decimal

import pytest
from movement_factories import black_mass_listing, build, make_record, record_input
from pydantic import ValidationError
from sqlmodel import func, select

from market.listings import ListingPatch, publish_listing, update_listing
from market.models import MovementRecord, SupplyListing
from market.movements import (
    MovementRecordMissing,
    commit_consent,
    read_record,
    records_query,
    release_consent,
    update_record,
    withdraw_record,
)
from participants.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


@pytest.fixture()
def w(db):
    return build(db)


def _records(w) -> int:
    w.db.expire_all()
    return w.db.exec(select(func.count()).select_from(MovementRecord)).one()


def test_a_trader_records_an_export_consent_with_its_tonnes_in_kg(w):
    record = make_record(w, countries_transit=["cn"])
    assert (record.direction, record.country_export, record.country_import) == (
        "export",
        "JP",
        "KR",
    )
    assert record.consented_kg == 600_000 and record.committed_kg == 0
    assert record.transit == ("CN",)
    assert record.organization_id == w.seller.id


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"consented_t": Decimal("0")}, "consented_t"),
        ({"valid_until": "2026-12-31"}, "valid_until"),
        ({"route": "not_waste"}, "route"),  # black mass: Basel Act only
        ({"material": "hdpe"}, "material"),  # not critical
        ({"country_export": "KR", "country_import": "JP"}, "country_export"),  # export not from JP
        ({"country_import": "JP"}, "country_import"),
        ({"countries_transit": ["KR"]}, "countries_transit"),
    ],
)
def test_bad_records_are_refused_naming_the_field_and_nothing_is_written(w, fields, field):
    before = _records(w)
    with pytest.raises(ValidationFailed) as err:
        make_record(w, **fields)
    w.db.rollback()
    assert err.value.field == field
    assert _records(w) == before


def test_an_unknown_country_code_is_refused_before_anything_is_written(w):
    with pytest.raises(ValidationError) as err:
        record_input(country_import="XX")
    assert err.value.errors()[0]["loc"] == ("country_import",)
    with pytest.raises(ValidationError):
        record_input(countries_transit=["XX"])
    with pytest.raises(ValidationError):  # negative tonnes: refused by the input model
        record_input(consented_t=Decimal("-5"))


def test_the_not_waste_route_needs_a_certificate(w):
    with pytest.raises(ValidationFailed) as err:
        make_record(w, material="copper_scrap", route="not_waste")
    assert err.value.field == "certificate_id"
    w.db.rollback()
    assert _records(w) == 0


def test_only_traders_and_administrators_of_recyclers_and_manufacturers_manage_records(w):
    with pytest.raises(PermissionDenied):
        make_record(w, who="seller inspector")
    with pytest.raises(PermissionDenied):
        make_record(w, who="operator")
    record = make_record(w)
    with pytest.raises(NotFound):
        update_record(w.db, w.actor("other trader"), record.id, record_input(reference="X"))
    with pytest.raises(NotFound):
        withdraw_record(w.db, w.actor("other trader"), record.id)


def test_another_organisations_record_is_not_found_and_the_operator_reads_all(w):
    record = make_record(w)
    mine = make_record(w, who="other trader", reference="OTHER-1")
    with pytest.raises(NotFound):
        read_record(w.db, w.actor("other trader"), record.id)
    assert read_record(w.db, w.actor("seller inspector"), record.id).id == record.id
    assert read_record(w.db, w.actor("operator"), record.id).id == record.id
    seen = [r.id for r in w.db.exec(records_query(w.actor("other trader")))]
    assert seen == [mine.id]
    everything = [r.id for r in w.db.exec(records_query(w.actor("operator")))]
    assert sorted(everything) == sorted([record.id, mine.id])


def test_consent_commits_never_exceed_the_consent_nor_outlive_its_validity(w):
    record = make_record(w)
    commit_consent(w.db, record.id, 400_000, date(2027, 2, 1), date(2027, 7, 31))
    with pytest.raises(Conflict):
        commit_consent(w.db, record.id, 200_001, date(2027, 2, 1), date(2027, 7, 31))
    with pytest.raises(Conflict):  # beyond the validity
        commit_consent(w.db, record.id, 1_000, date(2027, 6, 1), date(2028, 1, 31))
    commit_consent(w.db, record.id, 200_000, date(2027, 2, 1), date(2027, 7, 31))
    w.db.commit()
    assert w.db.get(MovementRecord, record.id).committed_kg == 600_000
    release_consent(w.db, record.id, 100_000)
    assert w.db.get(MovementRecord, record.id).committed_kg == 500_000


def test_a_record_with_commitments_keeps_its_countries_tonnes_and_validity(w):
    record = make_record(w)
    commit_consent(w.db, record.id, 300_000, date(2027, 2, 1), date(2027, 7, 31))
    w.db.commit()
    actor = w.actor("seller trader")
    with pytest.raises(Conflict):
        update_record(w.db, actor, record.id, record_input(consented_t=Decimal("299")))
    with pytest.raises(Conflict):
        update_record(w.db, actor, record.id, record_input(country_import="CN"))
    with pytest.raises(Conflict):
        update_record(w.db, actor, record.id, record_input(valid_until="2027-10-31"))
    with pytest.raises(Conflict):
        withdraw_record(w.db, actor, record.id)
    w.db.rollback()
    renewed = update_record(w.db, actor, record.id, record_input(valid_until="2028-06-30"))
    assert renewed.valid_until == date(2028, 6, 30)


def test_a_withdrawn_record_cannot_be_changed(w):
    record = make_record(w)
    withdraw_record(w.db, w.actor("seller trader"), record.id)
    w.db.commit()
    with pytest.raises(Conflict):
        update_record(w.db, w.actor("seller trader"), record.id, record_input())


def test_black_mass_to_a_foreign_port_without_a_record_is_refused_with_the_reason(w):
    listing = black_mass_listing(w)
    with pytest.raises(MovementRecordMissing) as err:
        publish_listing(w.db, w.actor("seller trader"), listing.id, date(2027, 1, 10))
    assert err.value.status == 409
    assert err.value.params["origin"] == "JP" and err.value.params["destination"] == "KR"
    assert "needs a valid export record (route: basel_act)" in str(err.value)
    w.db.rollback()
    assert w.db.get(SupplyListing, listing.id).status == "draft"


def test_with_a_valid_record_the_black_mass_listing_is_published(w):
    record = make_record(w)
    listing = black_mass_listing(w, movement_record_id=record.id)
    publish_listing(w.db, w.actor("seller trader"), listing.id, date(2027, 1, 10))
    w.db.commit()
    assert w.db.get(SupplyListing, listing.id).status == "open"


def test_a_record_that_does_not_fit_says_every_thing_that_is_missing(w):
    record = make_record(w, country_import="CN", valid_from="2027-06-01")
    listing = black_mass_listing(w, movement_record_id=record.id)
    with pytest.raises(MovementRecordMissing) as err:
        publish_listing(w.db, w.actor("seller trader"), listing.id, date(2027, 1, 10))
    messages = [m for m, _ in err.value.all]
    assert any("covers" in m for m in messages) and any("valid from" in m for m in messages)


def test_the_same_listing_delivered_in_japan_needs_no_record(w):
    listing = black_mass_listing(w, delivery_country="JP", incoterm_place="Yokohama")
    publish_listing(w.db, w.actor("seller trader"), listing.id, date(2027, 1, 10))
    assert listing.status == "open"


def test_an_open_listing_cannot_be_moved_abroad_without_a_record(w):
    listing = black_mass_listing(w, delivery_country="JP")
    publish_listing(w.db, w.actor("seller trader"), listing.id, date(2027, 1, 10))
    w.db.commit()
    with pytest.raises(MovementRecordMissing):
        update_listing(
            w.db, w.actor("seller trader"), listing.id, ListingPatch(delivery_country="KR")
        )
    w.db.rollback()
    assert w.db.get(SupplyListing, listing.id).delivery_country == "JP"


def test_a_listing_may_not_name_another_organisations_record(w):
    theirs = make_record(w, who="other trader")
    listing = black_mass_listing(w)
    with pytest.raises(ValidationFailed) as err:
        update_listing(
            w.db, w.actor("seller trader"), listing.id, ListingPatch(movement_record_id=theirs.id)
        )
    assert err.value.field == "movement_record_id"
