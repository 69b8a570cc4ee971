"""Matching on the database: compatibility, candidates, market-wide allocation, proposals.

The pure engine lives in :mod:`market.allocation`; this module reads open listings and requests
as plain columns, evaluates their prices for one month, runs the engine and writes proposals in
bulk. No Flask here.

Who may do what (checked here, whatever the caller: page, API, CLI or job):
- the market-wide run: the marketplace operator (`OPERATE_MARKETPLACE`; jobs act as `SYSTEM`);
- candidates and proposals are derived from other organisations' listings and requests, so
  only members of verified organisations see them (`SEE_MATCHES`); an unverified or
  suspended organisation sees none; candidates only for the organisation's own request;
- deciding on a proposal: a signatory or trader of a verified organisation that is one of its
  two sides (`DECIDE_PROPOSALS`); other organisations' proposals do not exist for them (404).

Across Japan's border (issue 10): a listing loaded at a foreign port (FOB/FCA/FAS there, or
EXW abroad) costs the buyer the sea freight to Japan (`market.allocation.SeaFreightRates`,
indicative) plus the domestic leg from the Japanese port nearest the buyer; a listing delivered
CIF a Japanese port has its freight in the price. A pair that moves a critical material across
the border is proposed (or shown as a candidate) only when the listing's or the request's
movement record, held by either side, covers it (`border_cleared`).

Grade margin (score part, 0..1), kept deliberately simple:
- a listing graded to a *stricter* published version than the request's scores 1.0;
- a listing of the request's own version scores the headroom of its attached assay: the smallest
  relative margin to a numeric limit (margin / limit), 10 % headroom or more = 1.0, linear below;
- 0.0 without an assay, or when the assay does not conform to the grade.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, insert, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from market.allocation import (
    FULL_SPREAD_SHARE,
    SCORE_WEIGHTS,
    ZERO_TRANSPORT_SHARE,
    DemandColumns,
    DemandSide,
    EdgeExplanation,
    Edges,
    SeaLeg,
    SupplyColumns,
    SupplySide,
    TransportRates,
    candidate_edges,
    explain_edge,
    explain_for_buyer,
    explain_for_seller,
    kg_to_tonnes,
    month_index,
    nearest_japan_port,
    solve_allocation,
)
from market.indices import Formula, evaluate, latest_values
from market.listings import add_months
from market.models import (
    ListingStatus,
    MatchRun,
    MovementRecord,
    Notification,
    OfftakeRequest,
    PriceKind,
    Proposal,
    ProposalStatus,
    SupplyListing,
)
from market.movements import JAPAN, movement, problems
from market.visibility import can_see_listing
from participants.actors import OPERATE_MARKETPLACE, VERIFIED_MEMBER, Actor, permission
from participants.audit import record_audit
from participants.columns import tokyo_today, utcnow
from participants.errors import N_, Conflict, NotFound
from participants.fields import Month, Paging
from participants.models import Member, Organization, OrgStatus, Role
from quality.catalogue import build_spec
from quality.export_regimes import REGIMES
from quality.grading import GradeSpec, LimitKind, Measurement, assess, is_at_least_as_strict
from quality.models import (
    Assay,
    AssayResult,
    GradeStandard,
    Material,
    StandardVersion,
    VersionStatus,
)

#: Relative headroom to a limit that scores the full grade-margin part.
FULL_GRADE_HEADROOM = 0.10
ACCEPT = "accept"
DECLINE = "decline"

# Candidates, proposals and their explanations come from other organisations' listings and
# requests: members of verified organisations only (never suspended ones).
SEE_MATCHES = VERIFIED_MEMBER
# Accepting binds the organisation to a contract draft: a signatory or a trader.
DECIDE_PROPOSALS = permission(
    N_("Only a signatory or trader may do this."), roles=[Role.SIGNATORY, Role.TRADER]
)
# The market-wide allocation run is the operator's (the CLI and jobs act as SYSTEM).
RUN_MATCHING = OPERATE_MARKETPLACE

#: Budget of the exact model (seconds) for batch runs (the nightly job, `junkan match`); a
#: run from a page or the API keeps `solve_allocation`'s shorter default (a request's time).
BATCH_MATCHING_TIME_LIMIT_S = 60.0

# Plain columns read for the engine (no ORM objects on the hot path).
_LISTING_COLS = (
    SupplyListing.id,
    SupplyListing.organization_id,
    SupplyListing.visibility,
    SupplyListing.invited_org_ids,
    SupplyListing.material_code,
    SupplyListing.standard_version_id,
    SupplyListing.monthly_kg,
    SupplyListing.committed_kg,
    SupplyListing.min_kg_per_contract,
    SupplyListing.available_from,
    SupplyListing.max_term_months,
    SupplyListing.lat,
    SupplyListing.lon,
    SupplyListing.origin_port,
    SupplyListing.price_kind,
    SupplyListing.fixed_price_jpy_per_t,
    SupplyListing.index_id,
    SupplyListing.index_factor,
    SupplyListing.premium_jpy_per_t,
    SupplyListing.floor_jpy_per_t,
    SupplyListing.cap_jpy_per_t,
    SupplyListing.data_quality_level,
    SupplyListing.assay_id,
    SupplyListing.incoterm,
    SupplyListing.delivery_country,
    SupplyListing.movement_record_id,
    Organization.country.label("org_country"),
)
_REQUEST_COLS = (
    OfftakeRequest.id,
    OfftakeRequest.organization_id,
    OfftakeRequest.material_code,
    OfftakeRequest.standard_version_id,
    OfftakeRequest.accept_stricter,
    OfftakeRequest.monthly_kg,
    OfftakeRequest.filled_kg,
    OfftakeRequest.start_month,
    OfftakeRequest.term_months,
    OfftakeRequest.lat,
    OfftakeRequest.lon,
    OfftakeRequest.price_kind,
    OfftakeRequest.max_price_jpy_per_t,
    OfftakeRequest.index_id,
    OfftakeRequest.index_factor,
    OfftakeRequest.premium_jpy_per_t,
    OfftakeRequest.delivery_country,
    OfftakeRequest.movement_record_id,
    Organization.country.label("org_country"),
)


_LISTING_NAMES = tuple(c.key for c in _LISTING_COLS)
_REQUEST_NAMES = tuple(c.key for c in _REQUEST_COLS)


def first_of_month(month: date) -> date:
    return month.replace(day=1)


def current_month() -> date:
    """This calendar month in Asia/Tokyo (a contract month is a Tokyo month)."""
    return tokyo_today().replace(day=1)


def month_number(d: date) -> int:
    """A date's month as ``market.allocation.month_index``."""
    return month_index(d.year, d.month)


def _tonnes(kg: int) -> Decimal:
    return kg_to_tonnes(kg)


# ----------------------------------------------------------------------------------------------
# Input and output shapes (shared by the pages, the API and the CLI)
# ----------------------------------------------------------------------------------------------


class MatchRunIn(BaseModel):
    """The month to allocate; without one, this month in Asia/Tokyo."""

    model_config = ConfigDict(extra="forbid")
    month: Month | None = Field(default=None, description="YYYY-MM; default this month (Tokyo)")


class CandidatesQuery(Paging):
    """?month= (prices evaluated for that month; default this month) and paging."""

    month: Month | None = Field(default=None, description="YYYY-MM; default this month (Tokyo)")
    include_committed: bool = Field(
        default=False,
        description="also listings with nothing left to contract now (their open volume is "
        "below their minimum), marked `committed` and listed after the others",
    )


class SeaLegPart(BaseModel):
    """The international sea leg of an import (included in the transport cost)."""

    origin_country: str = Field(description="ISO 3166-1 alpha-2 of the port of loading")
    port: str = Field(description="the main Japanese port of arrival nearest the buyer")
    jpy_per_t: int = Field(description="sea freight to Japan, yen per tonne (indicative rate)")
    source: str = Field(description="where the rate comes from")


class TransportPart(BaseModel):
    jpy_per_t: int = Field(description="transport cost, yen per tonne")
    km: float = Field(description="great-circle distance, 0.1 km (an import: the domestic leg)")
    mode: Literal["road", "road+sea", "sea"]
    score: float = Field(ge=0, le=1)
    sea_leg: SeaLegPart | None = Field(
        default=None, description="an import loaded at a foreign port: its sea freight to Japan"
    )


class ScorePart(BaseModel):
    score: float = Field(ge=0, le=1)


class DataQualityPart(BaseModel):
    level: int = Field(ge=1, le=4)
    score: float = Field(ge=0, le=1)


class TermFitPart(BaseModel):
    overlap_months: int
    requested_months: int
    score: float = Field(ge=0, le=1)


class ExactSpread(BaseModel):
    """The buyer's own spread: limit − (ask + transport), yen per tonne."""

    jpy_per_t: int
    band: Literal["narrow", "medium", "wide"]
    score: float = Field(ge=0, le=1)


class BandedSpread(BaseModel):
    """The spread as the seller sees it: whether it is positive, and a coarse band."""

    positive: bool
    band: Literal["narrow", "medium", "wide"]


class _Explanation(BaseModel):
    transport: TransportPart
    grade_margin: ScorePart
    data_quality: DataQualityPart
    term_fit: TermFitPart
    weights: dict[str, int] = Field(description="weight of each part; they sum to 100")
    score: int = Field(ge=0, le=100)
    ask_jpy_per_t: int = Field(description="the seller's ask, yen per tonne")


class BuyerExplanation(_Explanation):
    """The buyer's score breakdown: its own limit and the exact spread."""

    price_spread: ExactSpread
    limit_jpy_per_t: int = Field(description="the buyer's own limit, yen per tonne")
    score_is_indicative: Literal[False] = False


class SellerExplanation(_Explanation):
    """The seller's score breakdown: never the buyer's limit; the spread only as a band."""

    price_spread: BandedSpread
    score_is_indicative: Literal[True] = True


class CandidateOut(BaseModel):
    """A compatible listing for the caller's request, with the buyer's score breakdown."""

    listing_id: int
    organization_id: int
    title: str
    grade_version_id: int
    stricter_grade: bool = Field(description="graded to a stricter version than requested")
    available_t: str = Field(description="tonnes a month still available")
    minimum_t: str = Field(description="the listing's minimum per contract, tonnes a month")
    incoterm: str
    incoterm_place: str
    price_ok: bool = Field(description="the landed price lies below the request's limit")
    score: int = Field(ge=0, le=100)
    committed: bool = Field(
        default=False,
        description="nothing left to contract now: the open volume is below the listing's "
        "minimum (only with include_committed); the seller may still be asked for more",
    )
    explanation: BuyerExplanation


class ProposalOut(BaseModel):
    """A proposal as one side sees it (a seller never sees the buyer's limit)."""

    id: int
    run_id: int | None
    side: Literal["seller", "buyer"] = Field(description="the caller's side")
    status: ProposalStatus
    listing_id: int
    request_id: int
    monthly_t: str = Field(description="tonnes a month")
    overlap_months: int
    my_decision: Literal["accept", "decline"] | None
    other_decision: Literal["accept", "decline"] | None
    created_at: datetime | None
    explanation: BuyerExplanation | SellerExplanation = Field(
        description="score breakdown; never the counterparty's limit"
    )


class MatchRunOut(BaseModel):
    """A market-wide allocation run and its figures."""

    id: int
    month: str = Field(description="YYYY-MM")
    n_listings: int
    n_requests: int
    n_edges: int = Field(description="compatible pairs considered")
    n_proposals: int
    surplus_jpy: int = Field(description="gains from trade of the allocation, yen a month")
    lp_bound_jpy: int = Field(description="upper bound of the surplus (LP relaxation)")
    solver_ms: int
    solver_method: str | None = Field(
        description="how it was solved: mcf (min-cost flow), lp (the LP fallback), "
        "+mip (exact model for the minimums), +rounding (the heuristic kept); null on old runs"
    )
    mip_gap: float | None = Field(
        description="proven relative gap to the best possible surplus (0.001 = 0.1 %); "
        "null when unknown"
    )
    optimal: bool | None = Field(
        description="proven optimal within the solver's target gap (0.01 %); null when unknown"
    )
    started_at: datetime | None
    finished_at: datetime | None


def match_run_out(run: MatchRun) -> MatchRunOut:
    return MatchRunOut(
        id=run.id,
        month=run.month.strftime("%Y-%m"),
        n_listings=run.n_listings,
        n_requests=run.n_requests,
        n_edges=run.n_edges,
        n_proposals=run.n_proposals,
        surplus_jpy=run.surplus_jpy,
        lp_bound_jpy=run.lp_bound_jpy,
        solver_ms=run.solver_ms,
        solver_method=run.solver_method,
        mip_gap=run.mip_gap,
        optimal=run.optimal,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


# ----------------------------------------------------------------------------------------------
# Grades
# ----------------------------------------------------------------------------------------------


class SpecCache:
    """Specs of grade versions, loaded in one query per material set (no per-pair queries)."""

    def __init__(self) -> None:
        self.specs: dict[int, GradeSpec] = {}
        self.material: dict[int, str] = {}
        self.published: dict[str, list[int]] = {}
        self._loaded_materials: set[str] = set()

    def load(self, session: Session, materials: Iterable[str], version_ids: Iterable[int] = ()):
        materials = set(materials) - self._loaded_materials
        extra = set(version_ids) - set(self.specs)
        if not materials and not extra:
            return self
        cond = []
        if materials:
            cond.append(
                and_(
                    col(GradeStandard.material_code).in_(materials),
                    StandardVersion.status == VersionStatus.PUBLISHED,
                )
            )
        if extra:
            cond.append(col(StandardVersion.id).in_(extra))
        # Plain columns (no ORM objects): the catalogue is read on every run.
        rows = session.execute(
            select(
                StandardVersion.id,
                StandardVersion.status,
                StandardVersion.spec_json,
                StandardVersion.number,
                StandardVersion.decision_rule,
                GradeStandard.code,
                GradeStandard.material_code,
                GradeStandard.rank,
            )
            .join(GradeStandard, GradeStandard.id == StandardVersion.standard_id)
            .where(or_(*cond))
        ).all()
        for vid, status, spec_json, number, rule, code, material, rank in rows:
            if vid not in self.specs:
                self.specs[vid] = build_spec(
                    json.loads(spec_json), code, number, material, rank, rule
                )
                self.material[vid] = material
            if status == VersionStatus.PUBLISHED and material in materials:
                self.published.setdefault(material, []).append(vid)
        self._loaded_materials |= materials
        return self

    def acceptable(self, material: str, version_id: int, accept_stricter: bool) -> set[int]:
        """The request's own version, plus published stricter ones of the same material."""
        out = {version_id}
        reference = self.specs.get(version_id)
        if accept_stricter and reference is not None:
            for vid in self.published.get(material, ()):
                if vid != version_id and is_at_least_as_strict(self.specs[vid], reference):
                    out.add(vid)
        return out


def grade_acceptance(session: Session, requests: Sequence[Any]) -> dict[int, set[int]]:
    """Request id -> acceptable grade version ids (same version, or stricter when allowed).

    ``requests`` are OfftakeRequest objects or rows with ``id``, ``material_code``,
    ``standard_version_id`` and ``accept_stricter``.
    """
    return _acceptance(session, requests, SpecCache())


def _acceptance(session: Session, requests: Sequence[Any], cache: SpecCache) -> dict[int, set]:
    cache.load(
        session,
        {r.material_code for r in requests},
        {r.standard_version_id for r in requests},
    )
    memo: dict[tuple[str, int, bool], set[int]] = {}
    out: dict[int, set[int]] = {}
    for r in requests:
        key = (r.material_code, r.standard_version_id, bool(r.accept_stricter))
        if key not in memo:
            memo[key] = cache.acceptable(*key)
        out[r.id] = set(memo[key])
    return out


def _assay_margin(spec: GradeSpec, measurements: list[Measurement], inspections: dict) -> float:
    """Grade-margin part from an assay: smallest relative headroom, scaled (see module doc)."""
    try:
        assessment = assess(spec, measurements, inspections)
    except Exception:  # an assay that cannot be assessed gives no margin
        return 0.0
    if not assessment.accepted:
        return 0.0
    shares: list[float] = []
    for limit, result in zip(spec.limits, assessment.limits, strict=True):
        if limit.kind is LimitKind.NONE_DETECTED or result.margin is None:
            continue
        bound = limit.max if limit.max is not None else limit.min
        if bound is None or bound == 0:
            continue
        shares.append(float(result.margin / abs(bound)))
    if not shares:
        return 1.0
    return max(0.0, min(1.0, min(shares) / FULL_GRADE_HEADROOM))


def grade_margins(
    session: Session, pairs: Sequence[tuple[int | None, int, int]], cache: SpecCache
) -> list[float]:
    """Grade-margin part per (assay id, listing version, request version), in bulk."""
    need = {(a, lv) for a, lv, rv in pairs if lv == rv and a is not None}
    assay_ids = {a for a, _ in need}
    by_assay: dict[int, list[Measurement]] = {}
    inspections: dict[int, dict] = {}
    if assay_ids:
        cache.load(session, (), {lv for _, lv in need})
        for assay_id, parameter, value, uncertainty in session.exec(
            select(
                AssayResult.assay_id,
                AssayResult.parameter,
                AssayResult.value,
                AssayResult.uncertainty,
            ).where(col(AssayResult.assay_id).in_(assay_ids))
        ):
            by_assay.setdefault(assay_id, []).append(
                Measurement.stated(parameter, value, uncertainty)
            )
        for assay_id, evidence in session.exec(
            select(Assay.id, Assay.evidence_json).where(col(Assay.id).in_(assay_ids))
        ):
            data = json.loads(evidence or "{}").get("inspections") or {}
            inspections[assay_id] = {k: bool(v) for k, v in data.items()}
    memo: dict[tuple[int, int], float] = {}
    out: list[float] = []
    for assay_id, lv, rv in pairs:
        if lv != rv:
            out.append(1.0)
        elif assay_id is None or lv not in cache.specs:
            out.append(0.0)
        else:
            key = (assay_id, lv)
            if key not in memo:
                memo[key] = _assay_margin(
                    cache.specs[lv], by_assay.get(assay_id, []), inspections.get(assay_id, {})
                )
            out.append(memo[key])
    return out


# ----------------------------------------------------------------------------------------------
# Reading the market
# ----------------------------------------------------------------------------------------------


def _formula(row: Any, listing: bool) -> Formula:
    if listing:
        return Formula(
            row.price_kind,
            row.fixed_price_jpy_per_t,
            row.index_id,
            row.index_factor,
            row.premium_jpy_per_t,
            row.floor_jpy_per_t,
            row.cap_jpy_per_t,
        )
    return Formula(
        row.price_kind,
        row.max_price_jpy_per_t,
        row.index_id,
        row.index_factor,
        row.premium_jpy_per_t,
    )


def _price(row: Any, listing: bool, values: dict[int, int]) -> int | None:
    if row.price_kind == PriceKind.FIXED:
        return row.fixed_price_jpy_per_t if listing else row.max_price_jpy_per_t
    return evaluate(_formula(row, listing), values.get(row.index_id))


def supply_of(row: Any, ask: int) -> SupplySide:
    return SupplySide(
        id=row.id,
        material=row.material_code,
        grade_id=row.standard_version_id,
        available_t=_tonnes(row.monthly_kg - row.committed_kg),
        minimum_t=_tonnes(row.min_kg_per_contract),
        available_from=month_number(row.available_from),
        max_term_months=row.max_term_months,
        lat=row.lat,
        lon=row.lon,
        ask_jpy_per_t=ask,
        is_port=bool(row.origin_port),
        import_from=import_origin(row.incoterm, row.delivery_country),
    )


#: Incoterms under which the buyer carries the main (sea) carriage from the place named.
LOADING_TERMS = frozenset({"EXW", "FCA", "FAS", "FOB"})


def import_origin(incoterm: str, delivery_country: str) -> str | None:
    """The country a listing is shipped from to Japan at the buyer's cost (loaded FOB/FCA/FAS
    or taken EXW at a foreign place), or None: delivered in Japan (CIF/CFR/DAP … a Japanese
    port has its sea freight in the seller's price)."""
    if delivery_country and delivery_country != JAPAN and incoterm in LOADING_TERMS:
        return delivery_country
    return None


def sea_leg_of(listing: Any, request: Any, rates: TransportRates | None = None) -> SeaLeg | None:
    """The sea leg a pair's transport includes (None for a domestic pair)."""
    origin = import_origin(listing.incoterm, listing.delivery_country)
    if origin is None:
        return None
    rates = rates or TransportRates()
    port, _, _ = nearest_japan_port(request.lat, request.lon)
    return SeaLeg(origin, port, rates.sea_freight.to_japan(origin), rates.sea_freight.source)


def demand_of(row: Any, limit: int, grades: Iterable[int]) -> DemandSide:
    return DemandSide(
        id=row.id,
        material=row.material_code,
        acceptable_grade_ids=frozenset(grades),
        need_t=_tonnes(row.monthly_kg - row.filled_kg),
        start_month=month_number(row.start_month),
        term_months=row.term_months,
        lat=row.lat,
        lon=row.lon,
        limit_jpy_per_t=limit,
    )


@dataclass
class Market:
    """The open market for one month as the engine's columns, with the database rows (plain
    columns) aligned with them for the few per-pair reads (visibility, border, proposals)."""

    supply: SupplyColumns
    demand: DemandColumns
    listings: list[Any]  # rows aligned with `supply`
    requests: list[Any]  # rows aligned with `demand`
    specs: SpecCache

    @property
    def supplies(self) -> list[SupplySide]:
        """The listings as `SupplySide` objects (built on demand)."""
        return [self.supply.side(i) for i in range(len(self.supply))]

    @property
    def demands(self) -> list[DemandSide]:
        """The requests as `DemandSide` objects (built on demand)."""
        return [self.demand.side(j) for j in range(len(self.demand))]


def _months(dates: Sequence[date]) -> np.ndarray:
    """`month_number` of many dates at once."""
    return np.fromiter((d.year * 12 + d.month - 1 for d in dates), np.int64, len(dates))


def _columns(rows: Sequence[Any], names: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """The rows' values column by column (one tuple per column)."""
    if not rows:
        return {name: () for name in names}
    return dict(zip(names, zip(*rows, strict=True), strict=True))


def _ints(values: Sequence[Any]) -> np.ndarray:
    return np.fromiter(values, np.int64, len(values))


def _floats(values: Sequence[Any]) -> np.ndarray:
    return np.fromiter(values, np.float64, len(values))


def _prices(
    c: dict[str, tuple[Any, ...]], listing: bool, values: dict[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Price per row for the month (fixed ones straight from their column, index-linked ones
    evaluated) and whether the row has one."""
    fixed = c["fixed_price_jpy_per_t" if listing else "max_price_jpy_per_t"]
    n = len(fixed)
    price = np.zeros(n, dtype=np.int64)
    has = np.zeros(n, dtype=bool)
    for k, kind in enumerate(c["price_kind"]):
        if kind == PriceKind.FIXED:
            value = fixed[k]
        else:
            formula = Formula(
                kind,
                fixed[k],
                c["index_id"][k],
                c["index_factor"][k],
                c["premium_jpy_per_t"][k],
                c["floor_jpy_per_t"][k] if listing else None,
                c["cap_jpy_per_t"][k] if listing else None,
            )
            value = evaluate(formula, values.get(c["index_id"][k]))
        if value is not None:
            price[k], has[k] = value, True
    return price, has


def _objects(values: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _read_market(session: Session, month: date, today: date | None = None) -> Market:
    month = first_of_month(month)
    today = today or date.today()
    m = month_number(month)
    listing_rows = session.execute(
        select(*_LISTING_COLS)
        .join(Organization, Organization.id == SupplyListing.organization_id)
        .where(
            Organization.status == OrgStatus.VERIFIED,
            SupplyListing.status == ListingStatus.OPEN,
            col(SupplyListing.expires_on) >= today,
            SupplyListing.committed_kg < SupplyListing.monthly_kg,
        )
        .order_by(SupplyListing.id)
    ).all()
    request_rows = session.execute(
        select(*_REQUEST_COLS)
        .join(Organization, Organization.id == OfftakeRequest.organization_id)
        .where(
            Organization.status == OrgStatus.VERIFIED,
            OfftakeRequest.status == ListingStatus.OPEN,
            col(OfftakeRequest.expires_on) >= today,
            OfftakeRequest.filled_kg < OfftakeRequest.monthly_kg,
        )
        .order_by(OfftakeRequest.id)
    ).all()
    lc = _columns(listing_rows, _LISTING_NAMES)
    rc = _columns(request_rows, _REQUEST_NAMES)
    index_ids = {x for x in (*lc["index_id"], *rc["index_id"]) if x is not None}
    values = latest_values(session, index_ids, month)

    # Listings: period not over, a price for the month.
    start = _months(lc["available_from"])
    term = _ints(lc["max_term_months"])
    ask, priced = _prices(lc, True, values)
    keep = np.flatnonzero((start + term > m) & priced)
    incoterm = _objects(lc["incoterm"])[keep]
    country = _objects(lc["delivery_country"])[keep]
    abroad = (country != JAPAN) & (country != "") & np.isin(incoterm, list(LOADING_TERMS))
    import_from = np.where(abroad, country, None).astype(object)
    supply = SupplyColumns(
        id=_ints(lc["id"])[keep],
        material=_objects(lc["material_code"])[keep],
        grade_id=_ints(lc["standard_version_id"])[keep],
        avail_kg=(_ints(lc["monthly_kg"]) - _ints(lc["committed_kg"]))[keep],
        minimum_kg=_ints(lc["min_kg_per_contract"])[keep],
        available_from=start[keep],
        max_term_months=term[keep],
        lat=_floats(lc["lat"])[keep],
        lon=_floats(lc["lon"])[keep],
        ask_jpy_per_t=ask[keep],
        is_port=np.fromiter((bool(x) for x in lc["origin_port"]), bool, len(listing_rows))[keep],
        import_from=import_from,
    )
    listings = [listing_rows[i] for i in keep.tolist()]

    # Requests: the same, and the acceptable grades per distinct (material, version, stricter).
    start = _months(rc["start_month"])
    term = _ints(rc["term_months"])
    limit, priced = _prices(rc, False, values)
    keep = np.flatnonzero((start + term > m) & priced)
    kept = keep.tolist()
    material = _objects(rc["material_code"])[keep]
    version = _ints(rc["standard_version_id"])[keep]
    stricter = [bool(rc["accept_stricter"][k]) for k in kept]
    cache = SpecCache().load(session, set(material.tolist()), set(version.tolist()))
    keys: dict[tuple[str, int, bool], int] = {}
    accept_key = np.fromiter(
        (
            keys.setdefault(key, len(keys))
            for key in zip(material.tolist(), version.tolist(), stricter, strict=True)
        ),
        np.int64,
        len(kept),
    )
    demand = DemandColumns(
        id=_ints(rc["id"])[keep],
        material=material,
        accept_key=accept_key,
        accepted=[cache.acceptable(*key) for key in keys],
        need_kg=(_ints(rc["monthly_kg"]) - _ints(rc["filled_kg"]))[keep],
        start_month=start[keep],
        term_months=term[keep],
        lat=_floats(rc["lat"])[keep],
        lon=_floats(rc["lon"])[keep],
        limit_jpy_per_t=limit[keep],
        is_port=np.zeros(len(kept), dtype=bool),
    )
    requests = [request_rows[k] for k in kept]
    return Market(supply, demand, listings, requests, cache)


def load_market(session: Session, month: date, today: date | None = None) -> Market:
    """Open, unexpired listings and requests of verified organisations as the engine's columns
    (`Market`), prices evaluated for ``month``; see `load_sides`."""
    return _read_market(session, month, today)


def load_sides(
    session: Session, month: date, today: date | None = None
) -> tuple[list[SupplySide], list[DemandSide], list[Any], list[Any]]:
    """Open, unexpired listings and requests of verified organisations as engine inputs, prices
    evaluated for ``month`` (an unverified or suspended organisation gets no proposals).

    Returns ``(supplies, demands, listings, requests)``; the last two are the database rows
    (plain columns) aligned with the first two. Index-linked prices use the latest index value
    at or before the month (one query); items without a price for the month are skipped.
    Available = monthly − committed; need = monthly − filled.
    """
    market = _read_market(session, month, today)
    return market.supplies, market.demands, market.listings, market.requests


# ----------------------------------------------------------------------------------------------
# Across Japan's border: a critical pair needs a valid movement record
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BorderPair:
    """A (listing, request) pair as the border rule needs it: the two rows (plain columns or
    ORM objects), both organisations' countries and the overlap in month indices."""

    listing: Any
    request: Any
    seller_country: str
    buyer_country: str
    first_month: int
    end_month: int  # first month after the overlap


def _month_date(m: int) -> date:
    return date(m // 12, m % 12 + 1, 1)


def pair_movement(seller_country: str, buyer_country: str, delivery_country: str):
    """The movement across Japan's border a pair would make: seller's country to buyer's, or
    to the delivery country when both are in one country (as `contracts.crossborder`)."""
    if seller_country != buyer_country:
        return movement(seller_country, buyer_country)
    return movement(seller_country, delivery_country)


def border_cleared(session: Session, pairs: Sequence[BorderPair]) -> list[bool]:
    """Per pair: True unless it moves a critical material across Japan's border without a
    valid record. Valid: the listing's or the request's record, held by either organisation,
    covering the movement over the whole overlap for at least the listing's minimum per
    contract in every month of it (`market.movements.problems`). Two queries in all."""
    moves = [
        pair_movement(p.seller_country, p.buyer_country, p.listing.delivery_country) for p in pairs
    ]
    if not any(moves):
        return [True] * len(pairs)
    critical = set(
        session.exec(
            select(Material.code).where(
                Material.critical == True,  # noqa: E712
                col(Material.code).in_(REGIMES),
            )
        ).all()
    )
    ids = {
        x
        for p, move in zip(pairs, moves, strict=True)
        if move is not None
        for x in (p.listing.movement_record_id, p.request.movement_record_id)
        if x
    }
    records = (
        {
            r.id: r
            for r in session.exec(select(MovementRecord).where(col(MovementRecord.id).in_(ids)))
        }
        if ids
        else {}
    )
    out: list[bool] = []
    for p, move in zip(pairs, moves, strict=True):
        if move is None or p.listing.material_code not in critical:
            out.append(True)
            continue
        first = _month_date(p.first_month)
        last = _month_date(p.end_month) - timedelta(days=1)
        need = p.listing.min_kg_per_contract * (p.end_month - p.first_month)
        holders = {p.listing.organization_id, p.request.organization_id}
        candidates = [
            records.get(x) for x in (p.listing.movement_record_id, p.request.movement_record_id)
        ]
        out.append(
            any(
                r is not None
                and not problems(
                    session, r, holders, p.listing.material_code, move, first, last, need
                )
                for r in candidates
            )
        )
    return out


def _border_edges(session: Session, edges: Edges, market: Market) -> Edges:
    """Drop critical cross-border pairs that no valid movement record covers."""
    if not len(edges):
        return edges
    seller = _objects([r.org_country for r in market.listings])
    delivery = _objects([r.delivery_country for r in market.listings])
    buyer = _objects([r.org_country for r in market.requests])
    e_s, e_d = edges.supply, edges.demand
    idx = np.flatnonzero((seller[e_s] != buyer[e_d]) | (delivery[e_s] != seller[e_s])).tolist()
    if not idx:
        return edges
    sc, dc = market.supply, market.demand
    s_end, d_end = sc.period_end, dc.period_end
    pairs = []
    for k in idx:
        i, j = int(e_s[k]), int(e_d[k])
        pairs.append(
            BorderPair(
                market.listings[i],
                market.requests[j],
                seller[i],
                buyer[j],
                int(max(sc.available_from[i], dc.start_month[j])),
                int(min(s_end[i], d_end[j])),
            )
        )
    cleared = border_cleared(session, pairs)
    keep = np.ones(len(edges), dtype=bool)
    for k, ok in zip(idx, cleared, strict=True):
        keep[k] = ok
    return edges if keep.all() else edges.subset(keep)


# ----------------------------------------------------------------------------------------------
# Scores (vectorised twin of allocation.explain_edge for many pairs)
# ----------------------------------------------------------------------------------------------


def score_parts(
    ask: np.ndarray,
    limit: np.ndarray,
    transport: np.ndarray,
    overlap: np.ndarray,
    term: np.ndarray,
    grade_margin: np.ndarray,
    dq_level: np.ndarray,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Score parts and total score per pair, by the formulas of ``explain_edge``."""
    ask, limit, transport = (np.asarray(a, dtype=np.int64) for a in (ask, limit, transport))
    landed = ask + transport
    spread = limit - landed
    safe = np.where(landed > 0, landed, 1).astype(np.float64)
    share = np.where(landed > 0, spread / safe, 1.0)
    term = np.asarray(term, dtype=np.float64)
    parts = {
        "price_spread": np.clip(share / FULL_SPREAD_SHARE, 0.0, 1.0),
        "transport": np.maximum(
            0.0, 1.0 - np.where(landed > 0, transport / safe, 0.0) / ZERO_TRANSPORT_SHARE
        ),
        "grade_margin": np.clip(np.asarray(grade_margin, dtype=np.float64), 0.0, 1.0),
        "data_quality": (np.asarray(dq_level, dtype=np.float64) - 1) / 3,
        "term_fit": np.where(
            term > 0, np.minimum(1.0, np.asarray(overlap) / np.where(term > 0, term, 1)), 0.0
        ),
    }
    total = np.zeros(landed.shape[0], dtype=np.float64)
    for key, weight in SCORE_WEIGHTS.items():
        total = total + weight * parts[key]
    return parts, np.floor(total + 0.5).astype(np.int64)


def explanation_of(
    proposal: Proposal, term_months: int, sea_leg: SeaLeg | None = None
) -> EdgeExplanation:
    """The score breakdown of a stored proposal (prices as of its run); `sea_leg`: the
    international leg its transport includes (`sea_leg_of`)."""
    parts, score = score_parts(
        np.array([proposal.ask_jpy_per_t]),
        np.array([proposal.limit_jpy_per_t]),
        np.array([proposal.transport_jpy_per_t]),
        np.array([proposal.overlap_months]),
        np.array([term_months]),
        np.array([proposal.grade_margin]),
        np.array([proposal.data_quality_level]),
    )
    landed = proposal.ask_jpy_per_t + proposal.transport_jpy_per_t
    return EdgeExplanation(
        ask_jpy_per_t=proposal.ask_jpy_per_t,
        limit_jpy_per_t=proposal.limit_jpy_per_t,
        transport_jpy_per_t=proposal.transport_jpy_per_t,
        distance_km=proposal.distance_km,
        # requests have no port, so sea transport is the mixed road+sea rule (or an import)
        transport_mode="sea" if sea_leg else ("road+sea" if proposal.by_sea else "road"),
        spread_jpy_per_t=proposal.limit_jpy_per_t - landed,
        overlap_months=proposal.overlap_months,
        term_months=term_months,
        grade_margin=float(parts["grade_margin"][0]),
        data_quality_level=proposal.data_quality_level,
        parts={k: float(v[0]) for k, v in parts.items()},
        score=int(score[0]),
        sea_leg=sea_leg,
    )


# ----------------------------------------------------------------------------------------------
# Candidates for one request
# ----------------------------------------------------------------------------------------------


@dataclass
class Candidates:
    """Compatible listings for one request, best score first, for one month's prices."""

    request: OfftakeRequest
    month: date
    items: list[CandidateOut]


def candidates_for_request(
    session: Session,
    actor: Actor,
    request_id: int,
    month: date | None = None,
    today: date | None = None,
    rates: TransportRates | None = None,
    include_committed: bool = False,
) -> Candidates:
    """Compatible listings for the actor's own request, best score first, with explanations.

    Members of verified organisations only (`SEE_MATCHES`), and only for a request of their
    own organisation (any other answers NotFound). Without a month: this month (Tokyo).

    Compatible: same material, grade acceptable, periods overlap, available ≥ the listing's
    minimum ≤ the request's open need, listing of a verified seller and visible to the viewer,
    and a critical cross-border pair covered by a valid movement record (`border_cleared`).
    Listings above the request's limit stay in the list (``price_ok`` false) so the buyer sees
    the whole market. With `include_committed`, listings whose open volume is below their
    minimum (fully committed: nothing to contract now) are listed too, ``committed`` true,
    after the others — as the search's switch of the same name.
    """
    SEE_MATCHES.check(actor)
    request = session.get(OfftakeRequest, request_id)
    if request is None or not actor.owns(request.organization_id):
        raise NotFound("No such request.")
    month = first_of_month(month or current_month())
    today = today or date.today()
    viewer_org_id = actor.organization_id
    cache = SpecCache()
    grades = _acceptance(session, [request], cache)[request.id]
    rows = session.exec(
        select(SupplyListing, Organization.country)
        .join(Organization, Organization.id == SupplyListing.organization_id)
        .where(
            Organization.status == OrgStatus.VERIFIED,
            SupplyListing.material_code == request.material_code,
            col(SupplyListing.standard_version_id).in_(grades),
            SupplyListing.status == ListingStatus.OPEN,
            col(SupplyListing.expires_on) >= today,
        )
    ).all()
    listings = [listing for listing, _ in rows]
    seller_country = {listing.id: country for listing, country in rows}
    index_ids = {x.index_id for x in (*listings, request) if x.index_id is not None}
    values = latest_values(session, index_ids, month)
    limit = _price(request, False, values)
    if limit is None:
        return Candidates(request, month, [])
    need_kg = request.monthly_kg - request.filled_kg
    demand = demand_of(request, limit, grades)
    kept: list[tuple[SupplyListing, SupplySide]] = []
    for listing in listings:
        if not can_see_listing(listing, viewer_org_id):
            continue
        if need_kg < listing.min_kg_per_contract:
            continue
        if listing.below_minimum and not include_committed:
            continue
        ask = _price(listing, True, values)
        if ask is None:
            continue
        supply = supply_of(listing, ask)
        overlap = min(supply.period_end, demand.period_end) - max(
            supply.available_from, demand.start_month
        )
        if overlap <= 0:
            continue
        kept.append((listing, supply))
    buyer_country = session.get(Organization, request.organization_id).country
    cleared = border_cleared(
        session,
        [
            BorderPair(
                listing,
                request,
                seller_country[listing.id],
                buyer_country,
                max(supply.available_from, demand.start_month),
                min(supply.period_end, demand.period_end),
            )
            for listing, supply in kept
        ],
    )
    kept = [pair for pair, ok in zip(kept, cleared, strict=True) if ok]
    margins = grade_margins(
        session,
        [(x.assay_id, x.standard_version_id, request.standard_version_id) for x, _ in kept],
        cache,
    )
    items: list[CandidateOut] = []
    for (listing, supply), margin in zip(kept, margins, strict=True):
        e = explain_edge(
            supply, demand, rates, margin, max(1, min(4, listing.data_quality_level or 1))
        )
        items.append(
            CandidateOut(
                listing_id=listing.id,
                organization_id=listing.organization_id,
                title=listing.title,
                grade_version_id=listing.standard_version_id,
                stricter_grade=listing.standard_version_id != request.standard_version_id,
                available_t=str(_tonnes(listing.available_kg)),
                minimum_t=str(_tonnes(listing.min_kg_per_contract)),
                incoterm=listing.incoterm,
                incoterm_place=listing.incoterm_place,
                price_ok=e.spread_jpy_per_t > 0,
                score=e.score,
                committed=listing.below_minimum,
                explanation=BuyerExplanation.model_validate(
                    explain_for_buyer(e, ask_is_public=True)
                ),
            )
        )
    items.sort(key=lambda c: (c.committed, -c.score, c.listing_id))
    return Candidates(request, month, items)


def draft_defaults(
    session: Session, request: OfftakeRequest, candidates: Sequence[CandidateOut]
) -> dict[int, dict[str, str]]:
    """For each candidate listing, the contract draft its buyer most likely wants.

    Keyed by listing id, with the fields of `contracts.drafting.DraftFromListingIn` as text:
    ``monthly_t`` what the request still needs, at most what the listing has left (tonnes);
    ``start_month`` (YYYY-MM) and ``term_months`` the overlap of the listing's period (from
    its first month for its maximum term) and the request's (from its start month for its
    term), at least one month. One query for every candidate.
    """
    ids = [c.listing_id for c in candidates]
    listings = (
        {x.id: x for x in session.exec(select(SupplyListing).where(col(SupplyListing.id).in_(ids)))}
        if ids
        else {}
    )
    out: dict[int, dict[str, str]] = {}
    for c in candidates:
        listing = listings[c.listing_id]
        start = max(first_of_month(listing.available_from), first_of_month(request.start_month))
        end = min(
            add_months(first_of_month(listing.available_from), listing.max_term_months),
            add_months(first_of_month(request.start_month), request.term_months),
        )
        out[c.listing_id] = {
            "monthly_t": f"{kg_to_tonnes(min(request.open_kg, listing.available_kg)).normalize():f}",
            "start_month": start.strftime("%Y-%m"),
            "term_months": str(max(1, month_number(end) - month_number(start))),
        }
    return out


# ----------------------------------------------------------------------------------------------
# Market-wide allocation
# ----------------------------------------------------------------------------------------------


def _pending(session: Session) -> list[tuple[int, int, int]]:
    """(listing, request, kg) of open proposals one side has already accepted (kept on re-run)."""
    return list(
        session.exec(
            select(Proposal.listing_id, Proposal.request_id, Proposal.monthly_kg).where(
                Proposal.status == ProposalStatus.PROPOSED,
                or_(Proposal.seller_decision == ACCEPT, Proposal.buyer_decision == ACCEPT),
            )
        ).all()
    )


def _without_pairs(edges: Edges, keep: np.ndarray) -> Edges:
    return edges.subset(keep)


def _notify_new_proposals(session: Session, run_id: int, org_ids: set[int]) -> None:
    """One in-app notification per trading member of each organisation with new proposals."""
    members = session.exec(
        select(Member.id, Member.roles).where(
            col(Member.organization_id).in_(org_ids),
            Member.active == True,  # noqa: E712
        )
    ).all()
    rows = [
        {
            "member_id": member_id,
            "message": N_("The market-wide matching has new proposals for your organisation."),
            "params": "{}",
            "link": "/proposals",
            "dedupe_key": f"matchrun:{run_id}",
            "created_at": utcnow(),
        }
        for member_id, roles in members
        if {"admin", "trader", "signatory"} & set(roles.split())
    ]
    if rows:
        session.execute(insert(Notification.__table__), rows)


def _visible_edges(edges: Edges, listings: Sequence[Any], requests: Sequence[Any]) -> Edges:
    """Drop pairs whose listing is for invited organisations only and the buyer is not one."""
    private = {
        i: frozenset(int(x) for x in row.invited_org_ids.split())
        for i, row in enumerate(listings)
        if row.visibility == "invited"
    }
    if not private or not len(edges):
        return edges
    ks = np.flatnonzero(np.isin(edges.supply, list(private))).tolist()
    keep = np.ones(len(edges), dtype=bool)
    for k in ks:
        i, j = int(edges.supply[k]), int(edges.demand[k])
        keep[k] = requests[j].organization_id in private[i]
    return edges if keep.all() else _without_pairs(edges, keep)


def run_market_allocation(
    session: Session,
    actor: Actor,
    month: date | None = None,
    today: date | None = None,
    rates: TransportRates | None = None,
    timings: dict[str, float] | None = None,
    progress: Callable[[str], None] | None = None,
    outcome: dict[str, Any] | None = None,
    time_limit_s: float | None = None,
) -> MatchRun:
    """Read the open market, allocate volume for ``month`` and write proposals (flushes).

    The operator's (`RUN_MATCHING`; the CLI and jobs act as `SYSTEM`); the run and its actor
    go into the audit log. Without a month: this month in Asia/Tokyo.
    ``timings`` (optional dict) receives seconds per stage: read, candidates, solve, write;
    ``progress`` (optional) is told what each stage is about to do (long CLI runs);
    the run records the solver's method, proven gap (``mip_gap``) and whether the allocation
    is proven optimal within 0.01 % (``optimal``); ``outcome`` (optional dict) receives them
    too, with the solver's notes; ``time_limit_s``
    replaces the solver's default budget for the exact model (`solve_allocation`).

    Earlier proposals still open with no decision are superseded. Proposals one side has
    already accepted stay open: their volume is reserved and their pair is not proposed again.
    Accepted proposals have committed their volume, so a re-run never duplicates them.
    """
    RUN_MATCHING.check(actor)
    t0 = time.perf_counter()
    say = progress or (lambda _message: None)
    say("reading open listings and requests …")
    month = first_of_month(month or current_month())
    now = utcnow()
    market = _read_market(session, month, today)
    t_read = time.perf_counter()
    supply, demand = market.supply, market.demand
    avail, need = supply.avail_kg.copy(), demand.need_kg.copy()

    pending = _pending(session)
    if pending:
        s_pos = dict(zip(supply.id.tolist(), range(len(supply)), strict=True))
        d_pos = dict(zip(demand.id.tolist(), range(len(demand)), strict=True))
        for listing_id, request_id, kg in pending:
            if listing_id in s_pos:
                avail[s_pos[listing_id]] -= kg
            if request_id in d_pos:
                need[d_pos[request_id]] -= kg
        np.clip(avail, 0, None, out=avail)
        np.clip(need, 0, None, out=need)
        supply, demand = supply.with_avail(avail), demand.with_need(need)

    t_cand0 = time.perf_counter()
    say(f"finding candidate pairs among {len(supply)} listings × {len(demand)} requests …")
    edges = candidate_edges(supply, demand, rates=rates)
    if pending and len(edges):
        span = int(max(demand.id.max(), max(rid for _, rid, _ in pending))) + 1
        held = np.array([lid * span + rid for lid, rid, _ in pending], dtype=np.int64)
        keep = ~np.isin(supply.id[edges.supply] * span + demand.id[edges.demand], held)
        if not keep.all():
            edges = _without_pairs(edges, keep)
    edges = _visible_edges(edges, market.listings, market.requests)
    edges = _border_edges(session, edges, market)
    t_solve0 = time.perf_counter()
    say(f"solving the allocation over {len(edges)} pairs …")
    limit = {} if time_limit_s is None else {"time_limit_s": time_limit_s}
    allocation = solve_allocation(edges, avail, need, supply.minimum_kg, **limit)
    t_write0 = time.perf_counter()
    say("writing proposals …")

    run = MatchRun(month=month, run_by_member_id=actor.member_id, started_at=now)
    session.add(run)
    session.flush()
    session.execute(
        update(Proposal)
        .where(
            Proposal.status == ProposalStatus.PROPOSED,
            col(Proposal.seller_decision).is_(None),
            col(Proposal.buyer_decision).is_(None),
        )
        .values(status=ProposalStatus.SUPERSEDED, decided_at=now)
        .execution_options(synchronize_session=False)
    )

    chosen = np.flatnonzero(allocation.kg > 0)
    rows = _proposal_rows(session, run.id, market, edges, allocation.kg, chosen, now)
    if rows:
        # Core executemany: the ORM's bulk path inspects every dict (a second per 1,000 rows).
        session.execute(insert(Proposal.__table__), rows)
        orgs = {market.listings[int(edges.supply[k])].organization_id for k in chosen}
        orgs |= {market.requests[int(edges.demand[k])].organization_id for k in chosen}
        _notify_new_proposals(session, run.id, orgs)

    run.n_listings = len(supply)
    run.n_requests = len(demand)
    run.n_edges = len(edges)
    run.n_proposals = len(rows)
    run.surplus_jpy = int(allocation.surplus_jpy)
    run.lp_bound_jpy = int(round(allocation.lp_bound_jpy or 0))
    run.solver_ms = int(round(allocation.solver_seconds * 1000))
    run.solver_method = allocation.method
    run.mip_gap = allocation.mip_gap
    run.optimal = allocation.optimal if allocation.mip_gap is not None else None
    run.finished_at = utcnow()
    session.add(run)
    session.flush()
    record_audit(
        session,
        actor,
        "matching.run",
        "matchrun",
        run.id,
        {"month": month.isoformat(), "proposals": run.n_proposals},
    )
    if outcome is not None:
        outcome.update(
            method=allocation.method,
            mip_gap=allocation.mip_gap,
            optimal=allocation.optimal,
            notes=allocation.notes,
        )
    if timings is not None:
        end = time.perf_counter()
        timings.update(
            read=t_read - t0 + (t_cand0 - t_read),
            candidates=t_solve0 - t_cand0,
            solve=t_write0 - t_solve0,
            write=end - t_write0,
            total=end - t0,
        )
    return run


def _proposal_rows(
    session: Session,
    run_id: int,
    market: Market,
    edges: Edges,
    kg: np.ndarray,
    chosen: np.ndarray,
    now: Any,
) -> list[dict[str, Any]]:
    if chosen.size == 0:
        return []
    si = edges.supply[chosen]
    di = edges.demand[chosen]
    ask = market.supply.ask_jpy_per_t[si]
    limit = market.demand.limit_jpy_per_t[di]
    term = market.demand.term_months[di]
    listings, requests = market.listings, market.requests
    dq = np.fromiter(
        (max(1, min(4, listings[i].data_quality_level or 1)) for i in si.tolist()),
        np.int64,
        si.shape[0],
    )
    margins = grade_margins(
        session,
        [
            (listings[i].assay_id, listings[i].standard_version_id, requests[j].standard_version_id)
            for i, j in zip(si.tolist(), di.tolist(), strict=True)
        ],
        market.specs,
    )
    transport = edges.transport_jpy[chosen]
    overlap = edges.overlap_months[chosen]
    _, score = score_parts(ask, limit, transport, overlap, term, np.array(margins), dq)
    s_ids = market.supply.id[si]
    d_ids = market.demand.id[di]
    columns = zip(
        s_ids.tolist(),
        d_ids.tolist(),
        kg[chosen].tolist(),
        ask.tolist(),
        limit.tolist(),
        transport.tolist(),
        edges.distance_km[chosen].round(3).tolist(),
        edges.by_sea[chosen].tolist(),
        overlap.tolist(),
        margins,
        dq.tolist(),
        score.tolist(),
        strict=True,
    )
    return [
        {
            "run_id": run_id,
            "listing_id": lid,
            "request_id": rid,
            "monthly_kg": q,
            "status": ProposalStatus.PROPOSED.value,
            "ask_jpy_per_t": a,
            "limit_jpy_per_t": lim,
            "transport_jpy_per_t": t,
            "distance_km": km,
            "by_sea": sea,
            "overlap_months": ov,
            "grade_margin": gm,
            "data_quality_level": lvl,
            "score": sc,
            "created_at": now,
        }
        for lid, rid, q, a, lim, t, km, sea, ov, gm, lvl, sc in columns
    ]


# ----------------------------------------------------------------------------------------------
# Proposals for the two sides
# ----------------------------------------------------------------------------------------------


@dataclass
class ProposalRow:
    """A proposal with its listing, request and both organisations, and the viewer's side."""

    proposal: Proposal
    side: str  # seller | buyer
    listing: SupplyListing
    request: OfftakeRequest
    seller: Organization
    buyer: Organization


_Seller = aliased(Organization, name="seller_org")
_Buyer = aliased(Organization, name="buyer_org")


def proposals_query(actor: Actor, include_superseded: bool = False):
    """The query of the actor's organisation's proposals, newest first (the caller pages it).

    Members of verified organisations only (`SEE_MATCHES`). Rows are (proposal, listing,
    request, seller organisation, buyer organisation): turn them into `ProposalRow` with
    `proposal_rows`.
    """
    SEE_MATCHES.check(actor)
    org_id = actor.organization_id
    query = (
        select(Proposal, SupplyListing, OfftakeRequest, _Seller, _Buyer)
        .join(SupplyListing, SupplyListing.id == Proposal.listing_id)
        .join(OfftakeRequest, OfftakeRequest.id == Proposal.request_id)
        .join(_Seller, _Seller.id == SupplyListing.organization_id)
        .join(_Buyer, _Buyer.id == OfftakeRequest.organization_id)
        .where(
            or_(SupplyListing.organization_id == org_id, OfftakeRequest.organization_id == org_id)
        )
        .order_by(col(Proposal.id).desc())
    )
    if not include_superseded:
        query = query.where(Proposal.status != ProposalStatus.SUPERSEDED)
    return query


def proposal_rows(actor: Actor, results: Iterable[Any]) -> list[ProposalRow]:
    """Rows of `proposals_query` with the actor's side."""
    out = []
    for proposal, listing, request, seller, buyer in results:
        side = "seller" if actor.owns(listing.organization_id) else "buyer"
        out.append(ProposalRow(proposal, side, listing, request, seller, buyer))
    return out


def proposals_for_org(
    session: Session, actor: Actor, include_superseded: bool = False
) -> list[ProposalRow]:
    """The actor's organisation's proposals as seller or buyer (newest first), with its side."""
    query = proposals_query(actor, include_superseded)
    return proposal_rows(actor, session.exec(query).all())


def proposal_out(row: ProposalRow) -> ProposalOut:
    """One side's view of a proposal. The seller never sees the buyer's limit price."""
    proposal = row.proposal
    e = explanation_of(
        proposal,
        row.request.term_months or proposal.overlap_months,
        sea_leg_of(row.listing, row.request),
    )
    explanation: BuyerExplanation | SellerExplanation
    if row.side == "seller":
        explanation = SellerExplanation.model_validate(explain_for_seller(e))
        mine, theirs = proposal.seller_decision, proposal.buyer_decision
    elif row.side == "buyer":
        explanation = BuyerExplanation.model_validate(explain_for_buyer(e, ask_is_public=True))
        mine, theirs = proposal.buyer_decision, proposal.seller_decision
    else:
        raise ValueError("side is seller or buyer")
    return ProposalOut(
        id=proposal.id,
        run_id=proposal.run_id,
        side=row.side,
        status=proposal.status,
        listing_id=proposal.listing_id,
        request_id=proposal.request_id,
        monthly_t=str(_tonnes(proposal.monthly_kg)),
        overlap_months=proposal.overlap_months,
        my_decision=mine,
        other_decision=theirs,
        created_at=proposal.created_at,
        explanation=explanation,
    )


@dataclass
class Decision:
    row: ProposalRow  # the proposal as the deciding side sees it (after the decision)
    completed: bool  # this decision made both sides accept

    @property
    def proposal(self) -> Proposal:
        return self.row.proposal

    @property
    def side(self) -> str:
        return self.row.side


def decide(session: Session, actor: Actor, proposal_id: int, accept: bool) -> Decision:
    """Record the actor's organisation's decision with conditional UPDATEs (safe when both
    sides decide at once). Only the record: `contracts.drafting.accept_proposal` and
    `decline_proposal` are the entry points that also commit volume and write the draft.

    A signatory or trader of a verified organisation (`DECIDE_PROPOSALS`) that is one side of
    the proposal; for anyone else the proposal does not exist (NotFound).
    """
    DECIDE_PROPOSALS.check(actor)
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound("No such proposal.")
    listing = session.get(SupplyListing, proposal.listing_id)
    request = session.get(OfftakeRequest, proposal.request_id)
    if not (actor.owns(listing.organization_id) or actor.owns(request.organization_id)):
        raise NotFound("No such proposal.")
    side = "seller" if actor.owns(listing.organization_id) else "buyer"
    column = Proposal.seller_decision if side == "seller" else Proposal.buyer_decision
    if proposal.status != ProposalStatus.PROPOSED:
        raise Conflict("This proposal is no longer open.")
    now = utcnow()
    decision = ACCEPT if accept else DECLINE
    values: dict[str, Any] = {column.key: decision}
    if not accept:
        values.update(status=ProposalStatus.DECLINED, decided_at=now)
    result = session.execute(
        update(Proposal)
        .where(
            Proposal.id == proposal_id,
            Proposal.status == ProposalStatus.PROPOSED,
            col(column).is_(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.refresh(proposal)
        if getattr(proposal, column.key) is not None:
            raise Conflict("Your organisation has already decided on this proposal.")
        raise Conflict("This proposal is no longer open.")
    completed = False
    if accept:
        done = session.execute(
            update(Proposal)
            .where(
                Proposal.id == proposal_id,
                Proposal.status == ProposalStatus.PROPOSED,
                Proposal.seller_decision == ACCEPT,
                Proposal.buyer_decision == ACCEPT,
            )
            .values(status=ProposalStatus.ACCEPTED, decided_at=now)
            .execution_options(synchronize_session=False)
        )
        completed = done.rowcount == 1
    session.refresh(proposal)
    row = ProposalRow(
        proposal,
        side,
        listing,
        request,
        session.get(Organization, listing.organization_id),
        session.get(Organization, request.organization_id),
    )
    return Decision(row, completed)


def latest_runs(session: Session, actor: Actor, limit: int = 20) -> list[MatchRun]:
    """The latest market-wide runs, newest first (the operator's matching page)."""
    RUN_MATCHING.check(actor)
    return list(session.exec(select(MatchRun).order_by(col(MatchRun.id).desc()).limit(limit)).all())
