"""Open Contracting Data Standard 1.1.5: releases of tenders, awards and contracts, and the
release packages that publish them.

Each published step of a tender calls `record_release(session, tender, tag)` (tags: tender on
publication, tenderUpdate on an amendment or when the tender ends unsuccessful,
tenderCancellation, award, contract). The release is built from the rows as they are at that
moment and stored as JSON text in `OcdsRelease.release_json`, never changed afterwards: a
package serves the stored text byte for byte, so what was published stays what was published.

What a release says, and what it never says:
- the buyer (the agency) with the roles buyer and procuringEntity; the tender in English with
  Japanese through OCDS's translation pattern (`title_ja`, `description_ja`, …); its items
  classified by the category's scheme (UNSPSC or CPV); the budget as `tender.value`; the rated
  award criteria and their weights; the periods; the recycled-content goals through the
  sustainability extension (`tender.hasSustainability`, `tender.sustainability`);
- bids are sealed (`market.tender_states.sealed`): until the tender period ends no release
  names a bidder or counts the bids. After it, the tenderers (`tender.tenderers`, parties with
  the role tenderer) and `numberOfTenderers` appear; bid prices and claims never do (the core
  schema has no place for them and the award says what is public: its supplier and value);
- awards and contracts once they exist. Amounts are integer yen, tax excluded.

The ocid is `OCID_PREFIX` + "-" + our process id. OCID_PREFIX must be the prefix the Open
Contracting Partnership registers for the publisher ("ocds-" + 6 characters, free, asked for
at https://standard.open-contracting.org/latest/en/guidance/publish/ — the OCP keeps the
register so that no two publishers' ocids collide). "ocds-jk0001" is a placeholder of that
shape for this demonstration; a deployment must register its own prefix and set it here before
its first release, since stored releases keep the prefix they were published with.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import event
from sqlalchemy.orm import object_session
from sqlmodel import Session, col, func, select

from market.models import (
    Award,
    AwardStatus,
    Bid,
    BidStatus,
    Enquiry,
    OcdsRelease,
    ProcurementCategory,
    ProcurementContract,
    Tender,
    TenderItem,
    TenderStatus,
)
from market.tender_states import sealed
from participants.columns import utcnow
from participants.errors import N_, NotFound
from participants.geography import BY_CODE
from participants.models import Organization, OrgKind

OCID_PREFIX = "ocds-jk0001"  # placeholder of the registered shape: "ocds-" + 6 characters
OCDS_VERSION = "1.1"  # the package's `version`: major.minor of OCDS 1.1.5
LANGUAGE = "en"  # default language of the data; Japanese in the `_ja` fields
CURRENCY = "JPY"
SUSTAINABILITY_EXTENSION = (
    "https://raw.githubusercontent.com/open-contracting-extensions/"
    "ocds_sustainability_extension/master/extension.json"
)
EXTENSIONS = [SUSTAINABILITY_EXTENSION]
TAGS = ("tender", "tenderUpdate", "tenderCancellation", "award", "awardCancellation", "contract")
TOKYO = ZoneInfo("Asia/Tokyo")

# Our tender states → OCDS tender status (closed codelist): evaluation and the standstill
# period after an award are still an active process.
TENDER_STATUS = {
    TenderStatus.PLANNING: "planning",
    TenderStatus.ACTIVE: "active",
    TenderStatus.EVALUATION: "active",
    TenderStatus.AWARDED: "active",
    TenderStatus.COMPLETE: "complete",
    TenderStatus.CANCELLED: "cancelled",
    TenderStatus.UNSUCCESSFUL: "unsuccessful",
}
AWARD_STATUS = {
    AwardStatus.PENDING: "pending",
    AwardStatus.ACTIVE: "active",
    AwardStatus.CANCELLED: "cancelled",
    "unsuccessful": "unsuccessful",
}
# Bids that are tenders of the process once opened: withdrawn bids are not, nor bids left
# unconfirmed after an amendment of the tender.
NOT_TENDERED = (BidStatus.WITHDRAWN, BidStatus.NEEDS_CONFIRMATION)
# Units of measure: UN/CEFACT Recommendation 20 codes (the scheme OCDS recommends).
UNCEFACT_UNITS = {
    "piece": "H87",
    "pieces": "H87",
    "set": "SET",
    "pair": "PR",
    "kg": "KGM",
    "t": "TNE",
    "tonne": "TNE",
    "m": "MTR",
    "m2": "MTK",
    "box": "BX",
    "pack": "PK",
    "roll": "RO",
}
COUNTRY_NAMES = {"JP": ("Japan", "日本")}
IDENTIFIER_SCHEME = "JP-JCN"  # org-id.guide: Japan's corporate number (National Tax Agency)


def ocid(tender_id: int) -> str:
    """The Open Contracting ID of a tender's contracting process."""
    return f"{OCID_PREFIX}-tender-{tender_id}"


def ocds_datetime(moment: datetime) -> str:
    """An aware datetime as OCDS writes it: ISO 8601 in UTC, to the second ("…Z")."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _end_of_day(day) -> str:
    """The last second of a Tokyo day (a delivery date) as an OCDS datetime."""
    return ocds_datetime(datetime.combine(day, time(23, 59, 59), tzinfo=TOKYO))


def _pct(value: Decimal | None) -> str:
    return format(Decimal(value).normalize(), "f") if value is not None else "0"


# ---------------------------------------------------------------------------------------------
# The rows of one step


@dataclass(frozen=True)
class ReleaseFacts:
    """What a release is built from: the rows as they are at the step (read once)."""

    tender: Tender
    category: ProcurementCategory
    buyer: Organization
    items: list[TenderItem]
    has_enquiries: bool
    opened: bool  # the tender period has ended: tenderers are public
    tenderers: list[Organization]
    awards: list[Award]
    contracts: list[ProcurementContract]
    organizations: dict[int, Organization]


def read_facts(session: Session, tender: Tender, now: datetime) -> ReleaseFacts:
    """The rows of a tender a release needs; bidders only once the tender period has ended.
    Pending changes are flushed first, so the release says what the database will hold."""
    session.flush()
    items = list(
        session.exec(
            select(TenderItem)
            .where(TenderItem.tender_id == tender.id)
            .order_by(col(TenderItem.position))
        ).all()
    )
    has_enquiries = (
        session.exec(select(Enquiry.id).where(Enquiry.tender_id == tender.id).limit(1)).first()
        is not None
    )
    opened = tender.status != TenderStatus.PLANNING and not sealed(tender, now)
    bidder_ids: list[int] = []
    awards: list[Award] = []
    contracts: list[ProcurementContract] = []
    if opened:
        bidder_ids = list(
            session.exec(
                select(Bid.organization_id)
                .where(Bid.tender_id == tender.id, col(Bid.status).not_in(NOT_TENDERED))
                .order_by(col(Bid.id))
            ).all()
        )
        awards = list(
            session.exec(
                select(Award).where(Award.tender_id == tender.id).order_by(col(Award.id))
            ).all()
        )
        contracts = list(
            session.exec(
                select(ProcurementContract)
                .where(ProcurementContract.tender_id == tender.id)
                .order_by(col(ProcurementContract.id))
            ).all()
        )
    org_ids = {tender.organization_id, *bidder_ids, *(a.supplier_org_id for a in awards)}
    orgs = {
        o.id: o
        for o in session.exec(select(Organization).where(col(Organization.id).in_(org_ids))).all()
    }
    return ReleaseFacts(
        tender=tender,
        category=session.get(ProcurementCategory, tender.category_id),
        buyer=orgs[tender.organization_id],
        items=items,
        has_enquiries=has_enquiries,
        opened=opened,
        tenderers=[orgs[i] for i in bidder_ids],
        awards=awards,
        contracts=contracts,
        organizations=orgs,
    )


# ---------------------------------------------------------------------------------------------
# The release (pure: facts in, a JSON-ready dict out)


def party_id(org: Organization) -> str:
    """An organisation's id in `parties`: its corporate number where it has one."""
    if org.corporate_number:
        return f"{IDENTIFIER_SCHEME}-{org.corporate_number}"
    return f"junkan-org-{org.id}"


def organization_reference(org: Organization) -> dict:
    return {"id": party_id(org), "name": org.name_en}


def party(org: Organization, roles: list[str]) -> dict:
    """An organisation in `parties`: names in English and Japanese, identifier, region."""
    out: dict[str, Any] = {"id": party_id(org), "name": org.name_en, "name_ja": org.name_ja}
    if org.corporate_number:
        out["identifier"] = {
            "scheme": IDENTIFIER_SCHEME,
            "id": org.corporate_number,
            "legalName": org.name_en,
            "legalName_ja": org.name_ja,
        }
    if org.country in COUNTRY_NAMES:
        country_en, country_ja = COUNTRY_NAMES[org.country]
        address: dict[str, Any] = {"countryName": country_en, "countryName_ja": country_ja}
        prefecture = BY_CODE.get(org.prefecture or "")
        if prefecture is not None:
            address = {"region": prefecture.name_en, **address}
        out["address"] = address
    out["roles"] = roles
    return out


def _unit(name: str) -> dict:
    unit: dict[str, Any] = {"name": name}
    code = UNCEFACT_UNITS.get(name.strip().lower())
    if code:
        unit = {"scheme": "UNCEFACT", "id": code, **unit}
    return unit


def _item(item: TenderItem, category: ProcurementCategory) -> dict:
    return {
        "id": str(item.position),
        "description": item.description_en,
        "description_ja": item.description_ja,
        "classification": {
            "scheme": category.classification_scheme,
            "id": category.classification_id,
            "description": category.classification_description,
        },
        "quantity": item.quantity,
        "unit": _unit(item.unit),
    }


def _money(amount: int) -> dict:
    return {"amount": amount, "currency": CURRENCY}


def award_criteria_details(tender: Tender) -> tuple[str, str]:
    """The rated criteria in words (English, Japanese): the weights out of 100 points."""
    total = tender.weight_price + tender.weight_recycled + tender.weight_evidence
    en = (
        f"Rated criteria, {total} points: price {tender.weight_price}, recycled content "
        f"{tender.weight_recycled}, evidence and data quality {tender.weight_evidence}. "
        "A bid below the minimum recycled content, or whose claim is not covered by its "
        "chain-of-custody (mass balance) balance, is disqualified."
    )
    ja = (
        f"総合評価（{total}点）：価格 {tender.weight_price}点、再生材含有率 "
        f"{tender.weight_recycled}点、証拠書類・データ品質 {tender.weight_evidence}点。"
        "最低再生材含有率を下回る入札、及び再生材含有率の主張が管理の連鎖（マスバランス）"
        "の残高で裏付けられない入札は失格とする。"
    )
    return en, ja


def eligibility_criteria(tender: Tender) -> tuple[str, str]:
    """The minimum recycled content and the evidence a bid needs (English, Japanese)."""
    pc, total = _pct(tender.min_post_consumer_pct), _pct(tender.min_total_pct)
    evidence_en = (
        "quality certificates of the recycled input and " if tender.requires_certificate else ""
    )
    evidence_ja = "再生原料の品質証明書及び" if tender.requires_certificate else ""
    en = (
        f"Minimum recycled content: {pc} percent post-consumer and {total} percent in total "
        f"(by mass). The claim must be backed by {evidence_en}a chain-of-custody balance "
        f"({tender.custody_model.replace('_', ' ')}) that covers it for the quantity offered."
    )
    ja = (
        f"最低再生材含有率：使用済み再生材 {pc}%、再生材合計 {total}%（質量比）。"
        f"主張は{evidence_ja}提供数量分を賄う管理の連鎖（マスバランス方式）の残高で"
        "裏付けること。"
    )
    return en, ja


def sustainability(tender: Tender, category: ProcurementCategory) -> list[dict]:
    """The sustainability extension's `tender.sustainability` entries (goals, strategies)."""
    pc, total = _pct(tender.min_post_consumer_pct), _pct(tender.min_total_pct)
    has_minimum = tender.min_post_consumer_pct > 0 or tender.min_total_pct > 0
    recycling_strategies = []
    if has_minimum:
        recycling_strategies.append("technicalSpecifications")
    if tender.weight_recycled > 0:
        recycling_strategies.append("awardCriteria")
    recycling: dict[str, Any] = {
        "goal": "environmental.recycling",
        "description": (
            f"Minimum recycled content {pc} percent post-consumer and {total} percent in total "
            f"(by mass); the recycled content claimed scores {tender.weight_recycled} of the "
            f"{tender.weight_price + tender.weight_recycled + tender.weight_evidence} points."
        ),
    }
    if recycling_strategies:
        recycling["strategies"] = recycling_strategies
    stream = category.stream.replace("_", " ")
    stream = f" from the hard-to-recycle stream '{stream}'" if stream else ""
    circular: dict[str, Any] = {
        "goal": "environmental.circularEconomy",
        "description": (
            f"Creates demand for secondary raw materials{stream}: the recycled content must be "
            "covered by the supplier's chain-of-custody (mass balance) ledger of certified "
            f"recycled input; evidence and data quality score {tender.weight_evidence} points."
        ),
        "strategies": ["technicalSpecifications"]
        + (["awardCriteria"] if tender.weight_evidence > 0 else []),
    }
    return [recycling, circular]


def _closing_document(tender: Tender, now: datetime) -> dict | None:
    if tender.status not in (TenderStatus.CANCELLED, TenderStatus.UNSUCCESSFUL):
        return None
    if not tender.closing_reason.strip():
        return None
    cancelled = tender.status == TenderStatus.CANCELLED
    document = {
        "id": "closing-reason",
        "title": "Reason for the cancellation" if cancelled else "Why the tender was unsuccessful",
        "title_ja": "中止の理由" if cancelled else "不調の理由",
        "description": tender.closing_reason,
        "datePublished": ocds_datetime(now),
    }
    if cancelled:
        document = {"id": document.pop("id"), "documentType": "cancellationDetails", **document}
    return document


def _tender_section(facts: ReleaseFacts, now: datetime, amendments: list[dict]) -> dict:
    tender, category = facts.tender, facts.category
    criteria_en, criteria_ja = award_criteria_details(tender)
    eligibility_en, eligibility_ja = eligibility_criteria(tender)
    section: dict[str, Any] = {
        "id": f"tender-{tender.id}",
        "title": tender.title_en,
        "title_ja": tender.title_ja,
    }
    if tender.description_en:
        section["description"] = tender.description_en
    if tender.description_ja:
        section["description_ja"] = tender.description_ja
    section |= {
        "status": TENDER_STATUS[tender.status],
        "procuringEntity": organization_reference(facts.buyer),
        "items": [_item(item, category) for item in facts.items],
        "value": _money(tender.budget_jpy),
        "procurementMethod": "open",
        "mainProcurementCategory": "goods",
        "awardCriteria": "ratedCriteria",
        "awardCriteriaDetails": criteria_en,
        "awardCriteriaDetails_ja": criteria_ja,
        "submissionMethod": ["electronicSubmission"],
        "submissionMethodDetails": (
            "Sealed electronic bids on the marketplace: nobody, the buyer included, reads a "
            "bid before the tender period ends."
        ),
        "submissionMethodDetails_ja": (
            "本マーケットでの電子入札（封かん）：入札期間の終了まで、発注者を含め誰も入札内容を"
            "閲覧できない。"
        ),
        "eligibilityCriteria": eligibility_en,
        "eligibilityCriteria_ja": eligibility_ja,
        "tenderPeriod": {
            "startDate": ocds_datetime(tender.tender_start),
            "endDate": ocds_datetime(tender.tender_end),
        },
        "enquiryPeriod": {
            "startDate": ocds_datetime(tender.enquiry_start),
            "endDate": ocds_datetime(tender.enquiry_end),
        },
        "hasEnquiries": facts.has_enquiries,
    }
    if tender.standstill_until is not None:
        section["awardPeriod"] = {
            "startDate": ocds_datetime(tender.tender_end),
            "endDate": ocds_datetime(tender.standstill_until),
        }
    if facts.opened:
        section["numberOfTenderers"] = len(facts.tenderers)
        section["tenderers"] = [organization_reference(o) for o in facts.tenderers]
    if amendments:
        section["amendments"] = amendments
    document = _closing_document(tender, now)
    if document is not None:
        section["documents"] = [document]
    section["hasSustainability"] = True
    section["sustainability"] = sustainability(tender, category)
    return section


def _awards(facts: ReleaseFacts, items: list[dict]) -> list[dict]:
    tender = facts.tender
    out = []
    for award in facts.awards:
        entry: dict[str, Any] = {
            "id": f"award-{award.id}",
            "title": f"Award: {tender.title_en}",
            "title_ja": f"落札：{tender.title_ja}",
        }
        if award.justification.strip():
            entry["description"] = award.justification
        out.append(
            entry
            | {
                "status": AWARD_STATUS.get(award.status, "pending"),
                "date": ocds_datetime(award.decided_at),
                "value": _money(award.value_jpy),
                "suppliers": [organization_reference(facts.organizations[award.supplier_org_id])],
                "items": items,
            }
        )
    return out


def _contracts(facts: ReleaseFacts, items: list[dict]) -> list[dict]:
    tender = facts.tender
    return [
        {
            "id": f"contract-{contract.id}",
            "awardID": f"award-{contract.award_id}",
            "title": f"Contract: {tender.title_en}",
            "title_ja": f"契約：{tender.title_ja}",
            "status": "active",
            "period": {
                "startDate": ocds_datetime(contract.signed_at),
                "endDate": _end_of_day(contract.delivery_due),
            },
            "value": _money(contract.value_jpy),
            "items": items,
            "dateSigned": ocds_datetime(contract.signed_at),
        }
        for contract in facts.contracts
    ]


def _parties(facts: ReleaseFacts) -> list[dict]:
    roles: dict[int, list[str]] = {facts.buyer.id: ["buyer", "procuringEntity"]}
    for org in facts.tenderers:
        roles.setdefault(org.id, []).append("tenderer")
    for award in facts.awards:
        supplier = roles.setdefault(award.supplier_org_id, [])
        if "supplier" not in supplier:
            supplier.append("supplier")
    return [party(facts.organizations[org_id], r) for org_id, r in roles.items()]


def build_release(
    facts: ReleaseFacts,
    release_id: str,
    tag: str,
    now: datetime,
    amendments: list[dict] | None = None,
) -> dict:
    """The OCDS 1.1.5 release of the facts (a JSON-ready dict)."""
    tender_section = _tender_section(facts, now, amendments or [])
    release: dict[str, Any] = {
        "ocid": ocid(facts.tender.id),
        "id": release_id,
        "date": ocds_datetime(now),
        "tag": [tag],
        "initiationType": "tender",
        "language": LANGUAGE,
        "parties": _parties(facts),
        "buyer": organization_reference(facts.buyer),
        "tender": tender_section,
    }
    if facts.awards:
        release["awards"] = _awards(facts, tender_section["items"])
    if facts.contracts:
        release["contracts"] = _contracts(facts, tender_section["items"])
    return release


# The parts of the tender an amendment may change, compared with the release it amends.
AMENDABLE = (
    "title",
    "title_ja",
    "description",
    "description_ja",
    "items",
    "value",
    "eligibilityCriteria",
    "awardCriteriaDetails",
    "tenderPeriod",
    "enquiryPeriod",
)


def _amendments(
    facts: ReleaseFacts, tag: str, previous: dict | None, release_id: str, now: datetime
) -> list[dict]:
    """The tender's amendments so far: those of the previous release, plus a new one when this
    is a tenderUpdate after the buyer amended the tender (its `amendment_count` grew)."""
    before = (previous or {}).get("tender", {})
    amendments = list(before.get("amendments", []))
    if tag != "tenderUpdate" or facts.tender.amendment_count <= len(amendments):
        return amendments
    probe = _tender_section(facts, now, [])
    changed = [f"tender.{key}" for key in AMENDABLE if probe.get(key) != before.get(key)]
    amendment: dict[str, Any] = {
        "id": f"amendment-{facts.tender.amendment_count}",
        "date": ocds_datetime(now),
        "rationale": (
            "The buyer amended the tender during the tendering period; bids submitted before "
            "the amendment must be re-confirmed."
        ),
        "rationale_ja": (
            "入札期間中に発注者が入札公告を変更した。変更前に提出された入札は再確認が必要となる。"
        ),
        "description": "Changed: " + (", ".join(changed) if changed else "no published field"),
    }
    if previous is not None:
        amendment["amendsReleaseID"] = previous["id"]
    amendment["releaseID"] = release_id
    return [*amendments, amendment]


# ---------------------------------------------------------------------------------------------
# Recording


def record_release(
    session: Session, tender: Tender, tag: str, now: datetime | None = None
) -> OcdsRelease:
    """Store the OCDS release of the tender's current state with `tag` (tender, tenderUpdate,
    tenderCancellation, award, contract). Its id is the ocid, a sequence number and the tag;
    the stored JSON never changes afterwards. Called by the domain steps that publish (they
    have checked the actor); flushes, never commits."""
    if tag not in TAGS:
        raise ValueError(f"not an OCDS release tag of a tender step: {tag!r}")
    now = now or utcnow()
    # One release of a tender at a time: the row lock (PostgreSQL; SQLite writes one at a time
    # anyway) makes a second step wait, then number its release after this one.
    session.exec(select(Tender.id).where(Tender.id == tender.id).with_for_update()).one()
    facts = read_facts(session, tender, now)
    previous_row = session.exec(
        select(OcdsRelease)
        .where(OcdsRelease.tender_id == tender.id)
        .order_by(col(OcdsRelease.id).desc())
        .limit(1)
    ).first()
    count = session.exec(
        select(func.count()).select_from(OcdsRelease).where(OcdsRelease.tender_id == tender.id)
    ).one()
    previous = json.loads(previous_row.release_json) if previous_row is not None else None
    release_id = f"{ocid(tender.id)}-{count + 1:03d}-{tag}"
    amendments = _amendments(facts, tag, previous, release_id, now)
    release = build_release(facts, release_id, tag, now, amendments)
    row = OcdsRelease(
        tender_id=tender.id,
        release_id=release_id,
        tag=tag,
        date=now,
        release_json=json.dumps(release, ensure_ascii=False, separators=(",", ":")),
    )
    session.add(row)
    session.flush()
    return row


@event.listens_for(OcdsRelease, "before_update")
def _releases_are_immutable(_mapper, _connection, target: OcdsRelease) -> None:
    """A published release is never rewritten (a correction is a new release)."""
    session = object_session(target)
    if session is None or session.is_modified(target, include_collections=False):
        raise RuntimeError(f"OCDS release {target.release_id} is immutable")


# ---------------------------------------------------------------------------------------------
# Publication: release packages


class OcdsPublisher(BaseModel):
    """The publisher of a release package."""

    name: str
    scheme: str | None = None
    uid: str | None = None
    uri: str | None = None


class OcdsReleasePackageOut(BaseModel):
    """An OCDS 1.1.5 release package (validates against release-package-schema.json); each
    release is an OCDS release object as published, never changed afterwards."""

    uri: str = Field(description="this package's URL")
    version: str = Field(description='OCDS version, "1.1"')
    extensions: list[str] = Field(description="URLs of the extension.json of each extension")
    publishedDate: str = Field(description="the date of the newest release in the package")
    publisher: OcdsPublisher
    releases: list[dict[str, Any]] = Field(description="OCDS releases, newest tender first")


def publisher(session: Session, uri: str | None) -> dict:
    """The marketplace operator as the packages' publisher (its corporate number as uid)."""
    operator = session.exec(
        select(Organization)
        .where(Organization.kind == OrgKind.OPERATOR)
        .order_by(col(Organization.id))
        .limit(1)
    ).first()
    if operator is None:
        out: dict[str, Any] = {"name": "Junkan"}
    else:
        out = {"name": operator.name_en}
        if operator.corporate_number:
            out |= {"scheme": IDENTIFIER_SCHEME, "uid": operator.corporate_number}
    if uri:
        out["uri"] = uri
    return out


def published_releases(
    session: Session, tender_id: int | None = None
) -> list[tuple[str, datetime]]:
    """(stored JSON, date) of the releases of published tenders (never a planning tender's),
    newest tender first (by publication), each tender's releases in the order recorded."""
    stmt = (
        select(OcdsRelease.release_json, OcdsRelease.date)
        .join(Tender, col(Tender.id) == col(OcdsRelease.tender_id))
        .where(Tender.status != TenderStatus.PLANNING)
        .order_by(
            col(Tender.published_at).desc().nulls_last(),
            col(Tender.id).desc(),
            col(OcdsRelease.id),
        )
    )
    if tender_id is not None:
        stmt = stmt.where(OcdsRelease.tender_id == tender_id)
    return [(text, date) for text, date in session.exec(stmt).all()]


def release_package_json(
    session: Session, uri: str, publisher_uri: str | None = None, tender_id: int | None = None
) -> str:
    """The release package (JSON text) of all published releases, or of one tender's.

    Public data, no actor: planning tenders never appear. The releases are the stored texts,
    byte for byte; `publishedDate` is the newest release's date, so the package changes only
    when a release is added. A package holds one or more releases (the schema's rule):
    NotFound when there is none (no such published tender, or nothing published yet)."""
    if tender_id is not None and not 1 <= tender_id < 2**31:
        raise NotFound(N_("No such tender."))
    rows = published_releases(session, tender_id)
    if not rows:
        if tender_id is not None:
            raise NotFound(N_("No such tender."))
        raise NotFound(N_("No OCDS releases have been published yet."))
    header = {
        "uri": uri,
        "version": OCDS_VERSION,
        "extensions": EXTENSIONS,
        "publishedDate": ocds_datetime(max(date for _text, date in rows)),
        "publisher": publisher(session, publisher_uri),
    }
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":"))
    return head[:-1] + ',"releases":[' + ",".join(text for text, _date in rows) + "]}"
