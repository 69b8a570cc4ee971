"""The resource-security chapter of the demo story: Rhein Recycling verified with its register
number, foreign e-scrap CIF Japanese ports, the smelter's import consent and the contract that
runs under it, an export consent about to expire, the "copper scrap" carrying circuit-board
parameters, and the black-mass draft to Busan whose publishing is refused."""

from datetime import date, timedelta

import pytest
from factories import login
from sqlmodel import Session, select

from contracts.models import ContractTerms, Delivery, OfftakeContract
from demo import load_demo
from demo.resource_security import (
    ANOMALY_TITLE,
    BLACK_MASS_DRAFT_TITLE,
    CONTRACT_MONTHLY_T,
    CONTRACT_TERM_MONTHS,
    LEAD_ACID_CONSENT,
    RHEIN_LISTING_TITLE,
    SIAM_LISTING_TITLE,
    SMELTER_CONSENT,
    black_mass_draft,
)
from market.listings import publish_listing
from market.models import MovementRecord, OfftakeRequest, SupplyListing
from market.movements import MovementRecordMissing
from participants.actors import actor_of
from participants.models import AuditEntry, Member, Organization
from participants.registration import check_registry_id
from quality.models import AssayResult, GradeStandard, StandardVersion
from quality.reference_data import STANDARDS


@pytest.fixture(scope="module")
def engine(demo_app):
    return demo_app.extensions["junkan.engine"]


@pytest.fixture()
def db(engine):
    with Session(engine, expire_on_commit=False) as session:
        yield session


def _org(db: Session, name_en: str) -> Organization:
    return db.exec(select(Organization).where(Organization.name_en == name_en)).one()


def _record(db: Session, reference: str) -> MovementRecord:
    return db.exec(select(MovementRecord).where(MovementRecord.reference == reference)).one()


def _listing(db: Session, title: str) -> SupplyListing:
    return db.exec(select(SupplyListing).where(SupplyListing.title == title)).one()


def test_rhein_is_verified_by_the_operator_with_its_handelsregisternummer(db):
    rhein = _org(db, "Rhein Recycling GmbH")
    assert (rhein.status, rhein.country, rhein.corporate_number) == ("verified", "DE", None)
    assert rhein.registry_id == check_registry_id("DE", rhein.registry_id) == "Köln HRB 48213"
    audit = db.exec(
        select(AuditEntry).where(
            AuditEntry.action == "organization.verified", AuditEntry.target_id == rhein.id
        )
    ).one()
    operator = db.exec(select(Member).where(Member.email == "operator@demo.junkan.jp")).one()
    assert audit.actor_member_id == operator.id


def test_a_thai_recycler_and_rhein_list_pcb_cif_a_japanese_port(db):
    siam = _org(db, "Siam E-Scrap Recycling Co., Ltd.")
    assert (siam.country, siam.registry_id, siam.status) == ("TH", "0205558004221", "verified")
    for title, org, port in (
        (RHEIN_LISTING_TITLE, _org(db, "Rhein Recycling GmbH"), "Kobe"),
        (SIAM_LISTING_TITLE, siam, "Yokohama"),
    ):
        listing = _listing(db, title)
        assert listing.organization_id == org.id
        assert (listing.material_code, listing.incoterm, listing.delivery_country) == (
            "waste_pcb",
            "CIF",
            "JP",
        )
        assert listing.origin_port == port and listing.status == "open"
        record = db.get(MovementRecord, listing.movement_record_id)
        assert record.organization_id == org.id and record.direction == "import"


def test_the_smelters_consent_commits_exactly_the_contracts_term_tonnes(db):
    consent = _record(db, SMELTER_CONSENT)
    smelter = _org(db, "Setonaikai Non-Ferrous Smelting Co., Ltd.")
    assert consent.organization_id == smelter.id and smelter.prefecture == "37"
    assert (consent.direction, consent.route, consent.material_code) == (
        "import",
        "basel_act",
        "waste_pcb",
    )
    assert (consent.country_export, consent.transit, consent.country_import) == (
        "DE",
        ("NL",),
        "JP",
    )
    assert consent.authorities == "METI and MOE (JP); Bezirksregierung Köln (DE)"
    assert consent.consented_kg == 600_000
    assert consent.valid_until == consent.valid_from.replace(year=consent.valid_from.year + 1) - (
        timedelta(days=1)
    )
    contract = db.exec(
        select(OfftakeContract).where(OfftakeContract.movement_record_id == consent.id)
    ).one()
    assert contract.status == "active"
    assert contract.seller_org_id == _org(db, "Rhein Recycling GmbH").id
    assert contract.buyer_org_id == smelter.id
    terms = db.exec(
        select(ContractTerms)
        .where(ContractTerms.contract_id == contract.id)
        .order_by(ContractTerms.version.desc())
    ).first()
    term_kg = terms.monthly_kg * terms.term_months
    assert term_kg == CONTRACT_MONTHLY_T * CONTRACT_TERM_MONTHS * 1000
    assert consent.committed_kg == contract.consent_committed_kg == term_kg
    deliveries = db.exec(select(Delivery).where(Delivery.contract_id == contract.id)).all()
    assert len(deliveries) == 2
    request = db.exec(
        select(OfftakeRequest).where(OfftakeRequest.organization_id == smelter.id)
    ).one()
    assert (request.material_code, request.status, request.movement_record_id) == (
        "waste_pcb",
        "open",
        consent.id,
    )


def test_a_lead_acid_export_consent_expires_within_30_days(db):
    record = _record(db, LEAD_ACID_CONSENT)
    assert (record.direction, record.material_code, record.country_import) == (
        "export",
        "lead_acid_batteries",
        "KR",
    )
    assert date.today() <= record.valid_until <= date.today() + timedelta(days=30)
    others = db.exec(select(MovementRecord).where(MovementRecord.id != record.id)).all()
    assert all(r.valid_until > date.today() + timedelta(days=90) for r in others)


def test_the_copper_scrap_listing_carries_parameters_only_pcb_grades_use(db):
    listing = _listing(db, ANOMALY_TITLE)
    assert listing.material_code == "copper_scrap" and listing.status == "open"
    params = set(
        db.exec(select(AssayResult.parameter).where(AssayResult.assay_id == listing.assay_id))
    )
    pcb_only = {"au_gpt", "ag_gpt", "pd_gpt"}
    assert pcb_only <= params
    used_by = {
        standard.material
        for standard in STANDARDS
        for limit in standard.spec.limits
        if limit.parameter in pcb_only
    }
    assert used_by == {"waste_pcb"}
    seeded = db.exec(
        select(GradeStandard.code)
        .join(StandardVersion, StandardVersion.standard_id == GradeStandard.id)
        .where(GradeStandard.material_code == "waste_pcb")
    ).all()
    assert set(seeded) == {"PCB-HIGH", "PCB-LOW"}


def test_publishing_the_black_mass_draft_to_busan_is_refused_with_what_is_missing(db):
    draft = black_mass_draft(db)
    assert (draft.status, draft.delivery_country, draft.movement_record_id) == ("draft", "KR", None)
    member = db.exec(select(Member).where(Member.email == "blackmass@demo.junkan.jp")).one()
    actor = actor_of(member, db.get(Organization, member.organization_id))
    with pytest.raises(MovementRecordMissing) as err:
        publish_listing(db, actor, draft.id)
    db.rollback()
    assert err.value.status == 409 and err.value.field == "movement_record_id"
    assert "crosses Japan's border" in str(err.value)
    assert "export record (route: basel_act)" in str(err.value)
    assert db.get(SupplyListing, draft.id).status == "draft"


def test_the_newcomer_sees_the_refusal_on_the_page(demo_app, db):
    draft = black_mass_draft(db)
    client = demo_app.test_client()
    login(client, "blackmass@demo.junkan.jp", "junkan-demo")
    page = client.post(f"/listings/{draft.id}/publish", headers={"Accept-Language": "en"})
    text = (
        client.get(page.headers["Location"]).get_data(as_text=True)
        if page.status_code
        in (
            302,
            303,
        )
        else page.get_data(as_text=True)
    )
    # The demo member reads Japanese: the reason, translated, names the countries.
    assert "から" in text and "KR" in text and "日本の国境を越えます" in text
    assert db.get(SupplyListing, draft.id).status == "draft"


def test_the_chapter_is_idempotent(engine):
    with Session(engine, expire_on_commit=False) as session:
        assert load_demo(session, echo=lambda _line: None) is False
        assert len(session.exec(select(MovementRecord)).all()) == 4
        assert (
            len(
                session.exec(
                    select(SupplyListing).where(SupplyListing.title == BLACK_MASS_DRAFT_TITLE)
                ).all()
            )
            == 1
        )
