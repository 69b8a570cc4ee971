"""Demo data of the quality module: the catalogue, an rPET consultation, two assays and a
certificate. Idempotent: each part is skipped when it is already there."""

from datetime import date, timedelta
from decimal import Decimal

from sqlmodel import Session, select

from participants.actors import Actor, Permission, actor_of
from participants.models import Member, Organization
from quality.assays import (
    RECORD_ASSAYS,
    AssayInput,
    InspectionAnswers,
    record_assay,
    save_inspections,
)
from quality.catalogue import get_standard, latest_published, seed_catalogue, spec_of, spec_to_dict
from quality.certification import (
    ISSUE_CERTIFICATES,
    CertificateRequest,
    certificates_of_assay,
    issue_certificate,
)
from quality.models import Assay, StandardVersion
from quality.standards import (
    ADMINISTER_STANDARDS,
    RESPOND_TO_CONSULTATIONS,
    ConsultationOpening,
    ResponseInput,
    StandardRevision,
    open_consultation,
    propose_revision,
    respond,
)

RPET_CHANGE = (
    "Lower the PVC limit from 50 to 40 ppm: bottle-to-bottle lines report yellowing and black "
    "specks at 40–50 ppm."
)


def _acting(session: Session, org: Organization, needs: Permission) -> Actor:
    """The organisation's first member allowed to do it: the demo acts as that member."""
    members = session.exec(
        select(Member).where(Member.organization_id == org.id).order_by(Member.id)
    ).all()
    return next(a for a in (actor_of(m, org) for m in members) if needs.allows(a))


def _rpet_consultation(session: Session, orgs: dict[str, Organization]) -> None:
    standard = get_standard(session, "RPET-FLAKE-A")
    if session.exec(
        select(StandardVersion.id).where(
            StandardVersion.standard_id == standard.id, StandardVersion.number == 2
        )
    ).first():
        return
    council = orgs["standards_council"]
    _, v1 = latest_published(session, "RPET-FLAKE-A")
    data = spec_to_dict(spec_of(v1, standard))
    for limit in data["limits"]:
        if limit["parameter"] == "pvc_ppm":
            limit["max"] = "40"
    revision = StandardRevision(
        decision_rule=v1.decision_rule,
        spec=data,
        source="supplier specifications (several) (approx); council draft",
        change_note=RPET_CHANGE,
    )
    council_admin = _acting(session, council, ADMINISTER_STANDARDS)
    version = propose_revision(session, council_admin, "RPET-FLAKE-A", revision)
    ends_on = date.today() + timedelta(days=30)
    open_consultation(session, council_admin, version, ConsultationOpening(ends_on=ends_on))
    answers = [
        (
            "shonan_plastics",
            "object",
            "Cost: reaching 40 ppm needs a second sorting pass, about ¥8,000/t more for recyclers.",
        ),
        (
            "hokuriku_bottle",
            "endorse",
            "Quality: fewer black specks and less yellowing in bottle-to-bottle preforms.",
        ),
        (
            "yokohama_city",
            "comment",
            "Please publish the expected effect on the city's collected PET bale prices.",
        ),
    ]
    for key, position, comment in answers:
        answer = ResponseInput(position=position, comment=comment)
        respond(session, _acting(session, orgs[key], RESPOND_TO_CONSULTATIONS), version, answer)


def _assay(
    session: Session,
    org: Organization,
    lot: str,
    material: str,
    results: list[tuple[str, str, str]],
    method: str,
    tonnes: str,
    declared: dict[str, str],
    inspections: dict[str, bool] | None = None,
) -> Assay:
    existing = session.exec(
        select(Assay).where(Assay.organization_id == org.id, Assay.lot_ref == lot)
    ).first()
    if existing:
        return existing
    today = date.today()
    data = AssayInput(
        lot_ref=lot,
        material=material,
        lab_name="日本分析センター (Japan Assay Centre)",
        sampled_on=today - timedelta(days=9),
        reported_on=today - timedelta(days=4),
        lab_accredited=True,
        method=method,
        tonnes=tonnes,
        evidence={"declared": declared, "inspections": inspections or {}},
        results=[{"parameter": p, "value": v, "uncertainty": u} for p, v, u in results],
    )
    return record_assay(session, _acting(session, org, RECORD_ASSAYS), data)


def load_quality_demo(session: Session, orgs_by_key: dict[str, Organization]) -> None:
    """Seed the catalogue and the quality part of the demo story (flush, no commit)."""
    seed_catalogue(session)
    _rpet_consultation(session, orgs_by_key)
    yard = orgs_by_key["saitama_copper"]
    copper = _assay(
        session,
        yard,
        "KWG-2026-10-A",
        "copper_scrap",
        [("cu_pct", "96.1", "0.2")],
        "JIS H 1051",
        "24.500",
        {"composition": "No.2 copper wire, Cu ≈ 96 %"},
    )
    if not certificates_of_assay(session, copper):
        assayer = _acting(session, yard, RECORD_ASSAYS)
        checks = ("no_brass", "no_excess_oil", "no_insulation", "no_burnt_brittle_wire")
        answers = InspectionAnswers(inspections=dict.fromkeys(checks, True))
        save_inspections(session, assayer, copper.id, answers)
        request = CertificateRequest(
            assay_id=copper.id, standard="ISRI-BIRCH-CLIFF", tonnes=Decimal("24.500")
        )
        issue_certificate(session, _acting(session, yard, ISSUE_CERTIFICATES), request)
    battery = orgs_by_key["kyushu_battery"]
    _assay(
        session,
        battery,
        "KBR-BM-2026-041",
        "li_ion_black_mass",
        [
            ("ni_pct", "19.8", "0.6"),
            ("co_pct", "7.2", "0.3"),
            ("li_pct", "3.6", "0.15"),
            ("cu_pct", "2.6", "0.1"),
            ("al_pct", "1.4", "0.1"),
        ],
        "ICP-OES after aqua regia digestion",
        "18.200",
        {"composition": "NCM 523/622 black mass"},
        {"dried": True},
    )
    session.flush()
