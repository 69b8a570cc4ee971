"""The terms of an offtake contract: one input model, the canonical form and its SHA-256, diffs.

A contract's terms are versioned (`ContractTerms`, one row a version). A version is typed in as
`TermsInput` — every term of the contract, built from the bounded types of
`participants.fields` so that the page form, the API body and the OpenAPI schema share one set
of limits. A counter-offer sends only the terms it changes (`TermsProposalIn`); the others stay
as in the latest version.

The canonical form of a version (`terms_content`) names the contract, its two parties, its
material, the version number and every term, with tonnes as integer kilograms, money as
integer yen per tonne and percentages as plain decimal strings without trailing zeros; its
SHA-256 (`quality.certificates.content_sha256`, sorted keys, no spaces) is what both sides
sign and is kept in `ContractTerms.sha256`.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError
from sqlmodel import Session, col, select

from contracts.models import ContractTerms, OfftakeContract, PricingPeriod
from market.indices import YenPerTonne
from market.listings import Incoterm, kg_to_tonnes
from market.models import PriceIndex, PriceKind
from participants.errors import N_, ValidationFailed
from participants.fields import (
    Factor,
    Id,
    Line,
    Month,
    Months,
    Paragraphs,
    Tonnes,
    Yen,
    partial_model,
)
from quality.certificates import content_sha256
from quality.models import GradeStandard, Material, StandardVersion, VersionStatus

KG = Decimal(1000)

# ---------------------------------------------------------------------------------------------
# Bounded types of the terms (beside the shared ones of participants.fields)

PERCENT_PATTERN = "^(100(\\.0{1,2})?|[0-9]{1,2}(\\.[0-9]{1,2})?)$"
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_PERCENT = re.compile(PERCENT_PATTERN)


def _percent(value: Any) -> Any:
    """A Decimal from a Decimal, an integer, a float or a decimal string; never a bool.

    A string in range but not written as the schema's pattern says ("005", "5.", "+5") is
    refused with its own message; one out of range goes on to the bound checks.
    """
    if isinstance(value, bool):
        raise PydanticCustomError("decimal_type", "Enter a number.")
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER.fullmatch(text):
            raise PydanticCustomError("decimal_parsing", "Enter a number.")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise PydanticCustomError("decimal_parsing", "Enter a number.") from None
        exponent = number.as_tuple().exponent
        in_range = 0 <= number <= 100 and isinstance(exponent, int) and -exponent <= 2
        if in_range and not _PERCENT.fullmatch(text):
            raise PydanticCustomError("decimal_format", "Write the number plainly, e.g. 120.5.")
        return number
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int):
        return Decimal(value)
    return value


def _whole(value: Any) -> Any:
    """Never a boolean; a whole-number float (30.0, an integer in JSON Schema) counts as 30."""
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Enter a whole number.")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


# A percentage from 0 to 100 with at most two decimals ("5", "12.5", 80).
Percent = Annotated[
    Decimal,
    Field(ge=0, le=100, decimal_places=2, allow_inf_nan=False),
    BeforeValidator(_percent),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 100, "multipleOf": 0.01},
                {"type": "string", "pattern": PERCENT_PATTERN},
            ],
            "description": "per cent, 0 to 100, at most two decimals",
            "examples": ["5"],
        }
    ),
]
# Whole days from 0 to 365 (payment terms, notice periods).
Days = Annotated[int, Field(ge=0, le=365), BeforeValidator(_whole)]
# Whole months from 0 to 120 (0: none, e.g. no automatic renewal).
MonthsOrNone = Annotated[int, Field(ge=0, le=120), BeforeValidator(_whole)]

PriceKindName = Literal["fixed", "index"]
PricingPeriodName = Literal["delivery", "previous"]
Language = Literal["ja", "en"]


# ---------------------------------------------------------------------------------------------
# Input


class TermsInput(BaseModel):
    """Every term of one version of a contract (field names are the page form's and the API's).

    Price: `fixed` (yen per tonne), or `index` — the index's monthly value × `index_factor` +
    `premium_jpy_per_t`, rounded half-up to the yen, then held between `floor_jpy_per_t` and
    `cap_jpy_per_t` — of the delivery month or of the month before (`pricing_period`).
    """

    model_config = ConfigDict(extra="forbid")
    start_month: Month = Field(description="YYYY-MM: the first contract month (Asia/Tokyo)")
    term_months: Months = Field(description="the term in months")
    monthly_t: Tonnes = Field(description="tonnes a month (more than zero)")
    tolerance_pct: Percent = Field(
        default=Decimal(5), description="± per cent a month around the monthly tonnes"
    )
    annual_tolerance_pct: Percent = Field(
        default=Decimal(5), description="± per cent a contract year around twelve months' tonnes"
    )
    take_or_pay_pct: Percent = Field(
        default=Decimal(80), description="share of the monthly tonnes the buyer pays for anyway"
    )
    shortfall_price_pct: Percent = Field(
        default=Decimal(20),
        description="tonnes short of the take-or-pay minimum are charged at this share of price",
    )
    excess_price_pct: Percent = Field(
        default=Decimal(100),
        description="tonnes above the month's maximum are bought at this share of price (0: not)",
    )
    incoterm: Incoterm = Field(default="FCA", description="Incoterms 2020 rule")
    incoterm_place: Line(200, min_length=1) = Field(description="the named place of the rule")
    grade_version_id: Id = Field(description="a published grade version of the contract's material")
    price_kind: PriceKindName = "fixed"
    fixed_price_jpy_per_t: YenPerTonne | None = Field(
        default=None, description="yen per tonne when price_kind is fixed"
    )
    index: Line(40, min_length=1) | None = Field(
        default=None, description="price index code when price_kind is index"
    )
    index_factor: Factor | None = Field(default=None, description="e.g. 0.92")
    premium_jpy_per_t: Yen = Field(default=0, description="added to index × factor; may be < 0")
    floor_jpy_per_t: YenPerTonne | None = None
    cap_jpy_per_t: YenPerTonne | None = None
    pricing_period: PricingPeriodName = Field(
        default="delivery", description="the index value of the delivery month or the previous"
    )
    payment_days: Days = Field(default=30, description="days from the invoice to payment")
    renewal_months: MonthsOrNone = Field(default=0, description="automatic renewal; 0: none")
    termination_notice_days: Days = Field(default=90, description="notice to end the contract")
    governing_language: Language = Field(
        default="ja", description="the language whose text prevails"
    )


TermsChanges = partial_model(TermsInput)


class TermsProposalIn(TermsChanges):
    """A counter-offer: the terms sent change, the others stay as in the latest version; the
    comment goes to the other side with it. A new version voids every earlier signature."""

    comment: Paragraphs(2000) = Field(default="", description="a word for the other side")


# ---------------------------------------------------------------------------------------------
# The terms for people: label and kind of value of each input field, in reading order


@dataclass(frozen=True)
class Term:
    name: str  # the input field
    label: str  # an untranslated msgid
    unit: str  # how a value reads: month, months, tonnes, pct, text, grade, yen, index, …


TERMS: tuple[Term, ...] = (
    Term("start_month", N_("Start month"), "month"),
    Term("term_months", N_("Term"), "months"),
    Term("monthly_t", N_("Tonnes per month"), "tonnes"),
    Term("tolerance_pct", N_("Tolerance per month"), "pct"),
    Term("annual_tolerance_pct", N_("Tolerance per year"), "pct"),
    Term("take_or_pay_pct", N_("Take-or-pay"), "pct"),
    Term("shortfall_price_pct", N_("Price of the take-or-pay shortfall"), "pct"),
    Term("excess_price_pct", N_("Price of tonnes above the maximum"), "pct"),
    Term("incoterm", N_("Incoterms 2020 rule"), "text"),
    Term("incoterm_place", N_("Incoterms place"), "text"),
    Term("grade_version_id", N_("Grade"), "grade"),
    Term("price_kind", N_("Price basis"), "price_kind"),
    Term("fixed_price_jpy_per_t", N_("Fixed price"), "yen"),
    Term("index", N_("Price index"), "index"),
    Term("index_factor", N_("Index factor"), "factor"),
    Term("premium_jpy_per_t", N_("Premium"), "yen"),
    Term("floor_jpy_per_t", N_("Floor price"), "yen"),
    Term("cap_jpy_per_t", N_("Cap price"), "yen"),
    Term("pricing_period", N_("Pricing period"), "period"),
    Term("payment_days", N_("Payment terms"), "days"),
    Term("renewal_months", N_("Automatic renewal"), "months"),
    Term("termination_notice_days", N_("Termination notice"), "days"),
    Term("governing_language", N_("Governing language"), "language"),
)
TERM_BY_NAME = {t.name: t for t in TERMS}


def _plain_decimal(value: Decimal | None) -> str | None:
    """A decimal without trailing zeros ("5.00" → "5", "0.920" → "0.92")."""
    if value is None:
        return None
    return format(value.normalize(), "f")


def terms_values(t: ContractTerms, index_code: str | None) -> dict[str, Any]:
    """A stored version as the values of `TermsInput` (what a counter-offer starts from)."""
    return {
        "start_month": t.start_month,
        "term_months": t.term_months,
        "monthly_t": kg_to_tonnes(t.monthly_kg),
        "tolerance_pct": t.tolerance_pct,
        "annual_tolerance_pct": t.annual_tolerance_pct,
        "take_or_pay_pct": t.take_or_pay_pct,
        "shortfall_price_pct": t.shortfall_price_pct,
        "excess_price_pct": t.excess_price_pct,
        "incoterm": t.incoterm,
        "incoterm_place": t.incoterm_place,
        "grade_version_id": t.standard_version_id,
        "price_kind": t.price_kind,
        "fixed_price_jpy_per_t": t.fixed_price_jpy_per_t,
        "index": index_code,
        "index_factor": t.index_factor,
        "premium_jpy_per_t": t.premium_jpy_per_t,
        "floor_jpy_per_t": t.floor_jpy_per_t,
        "cap_jpy_per_t": t.cap_jpy_per_t,
        "pricing_period": t.pricing_period,
        "payment_days": t.payment_days,
        "renewal_months": t.renewal_months,
        "termination_notice_days": t.termination_notice_days,
        "governing_language": t.governing_language,
    }


def input_values(data: BaseModel) -> dict[str, Any]:
    """A `TermsInput`'s values as Python values (dates, Decimals), comparable to
    `terms_values` (`model_dump` would write months as text)."""
    return {name: getattr(data, name) for name in TermsInput.model_fields}


def terms_content(contract: OfftakeContract, t: ContractTerms) -> dict[str, Any]:
    """The canonical content of a version: what its SHA-256 covers and both sides sign."""
    return {
        "contract": contract.id,
        "version": t.version,
        "seller_organization": contract.seller_org_id,
        "buyer_organization": contract.buyer_org_id,
        "material": contract.material_code,
        "start_month": t.start_month.strftime("%Y-%m"),
        "term_months": t.term_months,
        "monthly_kg": t.monthly_kg,
        "tolerance_pct": _plain_decimal(t.tolerance_pct),
        "annual_tolerance_pct": _plain_decimal(t.annual_tolerance_pct),
        "take_or_pay_pct": _plain_decimal(t.take_or_pay_pct),
        "shortfall_price_pct": _plain_decimal(t.shortfall_price_pct),
        "excess_price_pct": _plain_decimal(t.excess_price_pct),
        "incoterm": t.incoterm,
        "incoterm_place": t.incoterm_place,
        "grade_version": t.standard_version_id,
        "price_kind": t.price_kind,
        "fixed_price_jpy_per_t": t.fixed_price_jpy_per_t,
        "index": t.index_id,
        "index_factor": _plain_decimal(t.index_factor),
        "premium_jpy_per_t": t.premium_jpy_per_t,
        "floor_jpy_per_t": t.floor_jpy_per_t,
        "cap_jpy_per_t": t.cap_jpy_per_t,
        "pricing_period": t.pricing_period,
        "payment_days": t.payment_days,
        "renewal_months": t.renewal_months,
        "termination_notice_days": t.termination_notice_days,
        "governing_language": t.governing_language,
    }


def terms_sha256(contract: OfftakeContract, t: ContractTerms) -> str:
    return content_sha256(terms_content(contract, t))


def seal_terms(contract: OfftakeContract, t: ContractTerms) -> str:
    """Store the SHA-256 of the version's canonical terms in `t.sha256` (and return it)."""
    t.sha256 = terms_sha256(contract, t)
    return t.sha256


# ---------------------------------------------------------------------------------------------
# Differences between two versions


@dataclass(frozen=True)
class TermChange:
    term: Term
    old: Any
    new: Any


def diff_values(old: dict[str, Any], new: dict[str, Any]) -> list[TermChange]:
    """The terms whose values differ (in reading order); values as `terms_values` gives them."""
    return [
        TermChange(t, old.get(t.name), new.get(t.name))
        for t in TERMS
        if old.get(t.name) != new.get(t.name)
    ]


def diff_terms(a: ContractTerms, b: ContractTerms, codes: dict[int, str]) -> list[TermChange]:
    """What changed from version `a` to version `b` (`codes`: index code by id)."""
    return diff_values(
        terms_values(a, codes.get(a.index_id)) if a else {},
        terms_values(b, codes.get(b.index_id)),
    )


def plain_value(value: Any) -> str | int | None:
    """A term's value as JSON: months YYYY-MM, decimals as plain strings, else as is."""
    if isinstance(value, date | datetime):
        return value.strftime("%Y-%m")
    if isinstance(value, Decimal):
        return _plain_decimal(value)
    return value


# ---------------------------------------------------------------------------------------------
# Checking a version against the database


def validated_terms(values: dict[str, Any]) -> TermsInput:
    """Merged values as a `TermsInput` (a stored value out of today's bounds is a field error)."""
    try:
        return TermsInput.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else None
        raise ValidationFailed("This value is not valid.", field=field) from None


def merge_changes(current: dict[str, Any], changes: BaseModel) -> dict[str, Any]:
    """The latest values with the sent terms applied (a null resets a term to its default;
    a required term cannot be null). The other price fields follow the price basis."""
    merged = dict(current)
    for name in changes.model_fields_set & set(TermsInput.model_fields):
        value = getattr(changes, name)
        info = TermsInput.model_fields[name]
        if value is None and info.is_required():
            raise ValidationFailed("This field is required.", field=name)
        merged[name] = info.get_default(call_default_factory=True) if value is None else value
    if merged["price_kind"] == PriceKind.FIXED:
        merged.update(
            index=None, index_factor=None, premium_jpy_per_t=0, floor_jpy_per_t=None,
            cap_jpy_per_t=None,
        )  # fmt: skip
    else:
        merged["fixed_price_jpy_per_t"] = None
    return merged


def check_terms(
    session: Session, contract: OfftakeContract, data: TermsInput, keep_grade: int | None = None
) -> int | None:
    """The rules a version must keep beyond its field bounds; returns the price index id.

    More than zero tonnes a month; a published grade version of the contract's material
    (`keep_grade`, the grade of the version before, stays acceptable even if retired since);
    a fixed price, or a known index with a factor; the floor not above the cap.
    """
    if data.monthly_t <= 0:
        raise ValidationFailed("The volume must be more than zero.", field="monthly_t")
    if data.grade_version_id != keep_grade:
        row = session.exec(
            select(StandardVersion.status, GradeStandard.material_code)
            .join(GradeStandard, GradeStandard.id == StandardVersion.standard_id)
            .where(StandardVersion.id == data.grade_version_id)
        ).first()
        if row is None or row[0] != VersionStatus.PUBLISHED:
            raise ValidationFailed(
                "Unknown grade, or not a published version.", field="grade_version_id"
            )
        if row[1] != contract.material_code:
            raise ValidationFailed(
                "This grade belongs to another material.", field="grade_version_id"
            )
    if data.price_kind == PriceKind.FIXED:
        if data.fixed_price_jpy_per_t is None:
            raise ValidationFailed("This field is required.", field="fixed_price_jpy_per_t")
        return None
    if not data.index:
        raise ValidationFailed("An index formula needs a price index.", field="index")
    index_id = session.exec(select(PriceIndex.id).where(PriceIndex.code == data.index)).first()
    if index_id is None:
        raise ValidationFailed("Unknown price index %(code)s.", field="index", code=data.index)
    if data.index_factor is None:
        raise ValidationFailed(
            "Enter the index factor as a number, e.g. 0.92.", field="index_factor"
        )
    if (
        data.floor_jpy_per_t is not None
        and data.cap_jpy_per_t is not None
        and data.floor_jpy_per_t > data.cap_jpy_per_t
    ):
        raise ValidationFailed("The floor lies above the cap.", field="floor_jpy_per_t")
    return index_id


def new_version(
    contract: OfftakeContract,
    version: int,
    data: TermsInput,
    index_id: int | None,
    comment: str = "",
    proposed_by_org_id: int | None = None,
    proposed_by_member_id: int | None = None,
) -> ContractTerms:
    """A `ContractTerms` row of checked input, sealed with its SHA-256 (not yet added)."""
    t = ContractTerms(
        contract_id=contract.id,
        version=version,
        start_month=data.start_month,
        term_months=data.term_months,
        monthly_kg=int(data.monthly_t * KG),
        tolerance_pct=data.tolerance_pct,
        annual_tolerance_pct=data.annual_tolerance_pct,
        take_or_pay_pct=data.take_or_pay_pct,
        shortfall_price_pct=data.shortfall_price_pct,
        excess_price_pct=data.excess_price_pct,
        incoterm=data.incoterm,
        incoterm_place=data.incoterm_place,
        standard_version_id=data.grade_version_id,
        price_kind=data.price_kind,
        fixed_price_jpy_per_t=data.fixed_price_jpy_per_t,
        index_id=index_id,
        index_factor=data.index_factor,
        premium_jpy_per_t=data.premium_jpy_per_t,
        floor_jpy_per_t=data.floor_jpy_per_t,
        cap_jpy_per_t=data.cap_jpy_per_t,
        pricing_period=PricingPeriod(data.pricing_period).value,
        payment_days=data.payment_days,
        renewal_months=data.renewal_months,
        termination_notice_days=data.termination_notice_days,
        governing_language=data.governing_language,
        comment=comment,
        proposed_by_org_id=proposed_by_org_id,
        proposed_by_member_id=proposed_by_member_id,
    )
    seal_terms(contract, t)
    return t


# ---------------------------------------------------------------------------------------------
# Names of what the terms refer to (one query each)


@dataclass(frozen=True)
class GradeName:
    version_id: int
    code: str
    number: int
    name_en: str
    name_ja: str

    @property
    def label(self) -> str:
        return f"{self.code} v{self.number}"


def grade_names(session: Session, version_ids: set[int | None]) -> dict[int, GradeName]:
    ids = {i for i in version_ids if i}
    if not ids:
        return {}
    rows = session.exec(
        select(
            StandardVersion.id,
            GradeStandard.code,
            StandardVersion.number,
            GradeStandard.name_en,
            GradeStandard.name_ja,
        )
        .join(GradeStandard, GradeStandard.id == StandardVersion.standard_id)
        .where(col(StandardVersion.id).in_(ids))
    ).all()
    return {r[0]: GradeName(*r) for r in rows}


def material_names(session: Session, codes: set[str]) -> dict[str, Material]:
    if not codes:
        return {}
    rows = session.exec(select(Material).where(col(Material.code).in_(codes))).all()
    return {m.code: m for m in rows}


def published_grades(session: Session, material_code: str) -> list[GradeName]:
    """The published grade versions of a material (the choices of a counter-offer)."""
    rows = session.exec(
        select(
            StandardVersion.id,
            GradeStandard.code,
            StandardVersion.number,
            GradeStandard.name_en,
            GradeStandard.name_ja,
        )
        .join(GradeStandard, GradeStandard.id == StandardVersion.standard_id)
        .where(
            GradeStandard.material_code == material_code,
            StandardVersion.status == VersionStatus.PUBLISHED,
        )
        .order_by(GradeStandard.code, StandardVersion.number)
    ).all()
    return [GradeName(*r) for r in rows]


def all_index_codes(session: Session) -> list[str]:
    return list(session.exec(select(PriceIndex.code).order_by(PriceIndex.code)).all())


# ---------------------------------------------------------------------------------------------
# Output


class TermsOut(BaseModel):
    """One version of a contract's terms (the input fields keep their names)."""

    version: int
    sha256: str = Field(description="SHA-256 of the canonical terms: what both sides sign")
    start_month: str = Field(description="YYYY-MM")
    term_months: int
    monthly_t: str = Field(description="tonnes a month")
    tolerance_pct: str
    annual_tolerance_pct: str
    take_or_pay_pct: str
    shortfall_price_pct: str
    excess_price_pct: str
    incoterm: str
    incoterm_place: str
    grade_version_id: int
    grade_code: str
    grade_version: int
    price_kind: PriceKindName
    fixed_price_jpy_per_t: int | None
    index: str | None = Field(description="price index code")
    index_factor: str | None
    premium_jpy_per_t: int
    floor_jpy_per_t: int | None
    cap_jpy_per_t: int | None
    pricing_period: PricingPeriodName
    payment_days: int
    renewal_months: int
    termination_notice_days: int
    governing_language: Language
    comment: str = Field(description="the proposer's comment")
    proposed_by_org_id: int | None
    created_at: datetime | None


def terms_out(t: ContractTerms, grades: dict[int, GradeName], codes: dict[int, str]) -> TermsOut:
    grade = grades.get(t.standard_version_id)
    return TermsOut(
        version=t.version,
        sha256=t.sha256,
        start_month=t.start_month.strftime("%Y-%m"),
        term_months=t.term_months,
        monthly_t=str(kg_to_tonnes(t.monthly_kg)),
        tolerance_pct=_plain_decimal(t.tolerance_pct),
        annual_tolerance_pct=_plain_decimal(t.annual_tolerance_pct),
        take_or_pay_pct=_plain_decimal(t.take_or_pay_pct),
        shortfall_price_pct=_plain_decimal(t.shortfall_price_pct),
        excess_price_pct=_plain_decimal(t.excess_price_pct),
        incoterm=t.incoterm,
        incoterm_place=t.incoterm_place,
        grade_version_id=t.standard_version_id,
        grade_code=grade.code if grade else "",
        grade_version=grade.number if grade else 0,
        price_kind=t.price_kind,
        fixed_price_jpy_per_t=t.fixed_price_jpy_per_t,
        index=codes.get(t.index_id) if t.index_id else None,
        index_factor=_plain_decimal(t.index_factor),
        premium_jpy_per_t=t.premium_jpy_per_t,
        floor_jpy_per_t=t.floor_jpy_per_t,
        cap_jpy_per_t=t.cap_jpy_per_t,
        pricing_period=t.pricing_period,
        payment_days=t.payment_days,
        renewal_months=t.renewal_months,
        termination_notice_days=t.termination_notice_days,
        governing_language=t.governing_language,
        comment=t.comment,
        proposed_by_org_id=t.proposed_by_org_id,
        created_at=t.created_at,
    )


class TermChangeOut(BaseModel):
    """One term that differs between two versions (values as the input field takes them)."""

    term: str = Field(description="the input field name")
    label: str
    old: str | int | None
    new: str | int | None


def term_change_out(change: TermChange) -> TermChangeOut:
    return TermChangeOut(
        term=change.term.name,
        label=change.term.label,
        old=plain_value(change.old),
        new=plain_value(change.new),
    )
