"""Demo data of the quality module: the catalogue, an rPET consultation, two assays and a
certificate. Idempotent: each part is skipped when it is already there."""

from datetime import date, timedelta
from decimal import Decimal

from sqlmodel import Session, select

from market.models import Member, Organization
from quality.assays import AssayHeader, ResultInput, record_assay, save_inspections
from quality.catalogue import get_standard, latest_published, seed_catalogue, spec_of, spec_to_dict
from quality.certification import certificates_of_assay, issue_certificate
from quality.dbtypes import utcnow
from quality.models import Assay, StandardVersion
from quality.standards import open_consultation, propose_revision, respond

RPET_CHANGE = (
    "Lower the PVC limit from 50 to 40 ppm: bottle-to-bottle lines report yellowing and black "
    "specks at 40–50 ppm."
)


def _member_id(session: Session, org: Organization) -> int | None:
    return session.exec(select(Member.id).where(Member.organization_id == org.id)).first()


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
    version = propose_revision(
        session,
        council.id,
        True,
        "RPET-FLAKE-A",
        v1.decision_rule,
        data,
        "supplier specifications (several) (approx); council draft",
        RPET_CHANGE,
    )
    ends = utcnow() + timedelta(days=30)
    open_consultation(session, version, council.kind, ends)
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
        org = orgs[key]
        respond(
            session, version, org.id, org.kind, True, _member_id(session, org), position, comment
        )


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
    header = AssayHeader(
        lot_ref=lot,
        material_code=material,
        lab_name="日本分析センター (Japan Assay Centre)",
        sampled_on=today - timedelta(days=9),
        reported_on=today - timedelta(days=4),
        lab_accredited=True,
        method=method,
        tonnes=tonnes,
        evidence={"declared": declared, "inspections": inspections or {}},
    )
    rows = [ResultInput(p, v, u) for p, v, u in results]
    return record_assay(session, org.id, header, rows)


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
        save_inspections(
            session,
            copper,
            {
                "no_brass": True,
                "no_excess_oil": True,
                "no_insulation": True,
                "no_burnt_brittle_wire": True,
            },
        )
        standard, version = latest_published(session, "ISRI-BIRCH-CLIFF")
        issue_certificate(
            session, copper, standard, version, yard.id, yard.name_ja, Decimal("24.500")
        )
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
