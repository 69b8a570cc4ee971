"""A small world for export-watch tests: a Japanese recycler with black mass, a Korean and a
Japanese manufacturer, their traders and signatories, and the operator."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from factories import as_actor, make_listing, make_member, make_org
from sqlmodel import Session

from market.models import MovementRecord, SupplyListing
from market.movements import RecordInput, create_record
from participants.actors import Actor
from participants.models import Member, Organization
from quality.catalogue import latest_published, seed_catalogue


@dataclass
class MoveWorld:
    db: Session
    bm_version: int
    cu_version: int
    seller: Organization
    buyer_kr: Organization
    buyer_jp: Organization
    other: Organization
    operator: Organization
    members: dict[str, Member]

    def actor(self, who: str) -> Actor:
        return as_actor(self.db, self.members[who])


def build(db: Session) -> MoveWorld:
    seed_catalogue(db)
    db.commit()
    bm = latest_published(db, "BM-NCM-EU")[1].id
    cu = latest_published(db, "ISRI-BIRCH-CLIFF")[1].id
    seller = make_org(db, kind="recycler", name_en="Kanto Battery Recycling")
    buyer_kr = make_org(db, kind="manufacturer", name_en="Busan Cathode", country="KR")
    buyer_jp = make_org(db, kind="manufacturer", name_en="Osaka Cathode")
    other = make_org(db, kind="recycler", name_en="Other Recycler")
    operator = make_org(db, kind="operator", name_en="Junkan Operator")
    members = {
        "seller trader": make_member(db, seller, roles="trader"),
        "seller signatory": make_member(db, seller, roles="signatory"),
        "seller inspector": make_member(db, seller, roles="inspector"),
        "buyer trader": make_member(db, buyer_kr, roles="trader"),
        "buyer signatory": make_member(db, buyer_kr, roles="signatory"),
        "jp buyer": make_member(db, buyer_jp, roles="trader signatory"),
        "other trader": make_member(db, other, roles="admin trader signatory"),
        "operator": make_member(db, operator, roles="admin"),
    }
    return MoveWorld(db, bm, cu, seller, buyer_kr, buyer_jp, other, operator, members)


def record_input(**fields) -> RecordInput:
    """An export record of black mass, JP → KR, 2027, 600 t (fields override)."""
    values = dict(
        direction="export",
        material="li_ion_black_mass",
        route="basel_act",
        reference="METI-BA-2027-0042",
        authorities="METI; MOE; Korea MOE",
        country_export="JP",
        countries_transit=[],
        country_import="KR",
        valid_from="2027-01-01",
        valid_until="2027-12-31",
        consented_t=Decimal("600"),
    )
    return RecordInput.model_validate(values | fields)


def make_record(w: MoveWorld, who: str = "seller trader", **fields) -> MovementRecord:
    record = create_record(w.db, w.actor(who), record_input(**fields))
    w.db.commit()
    return record


def black_mass_listing(w: MoveWorld, **fields) -> SupplyListing:
    """A draft 100 t/month black-mass listing of the seller delivered CIF Busan (KR)."""
    values = dict(
        status="draft",
        title="NCM black mass",
        material_code="li_ion_black_mass",
        delivery_country="KR",
        incoterm="CIF",
        incoterm_place="Busan",
        available_from=date(2027, 2, 1),
        fixed_price_jpy_per_t=900_000,
    )
    return make_listing(w.db, w.seller, w.bm_version, **(values | fields))
