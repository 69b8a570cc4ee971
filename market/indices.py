"""Price indices: monthly values entered by operators or imported from CSV; price evaluation."""

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlmodel import Session, col, select

from market.errors import N_, NotFound, ValidationFailed
from market.models import IndexValue, Member, OfftakeRequest, PriceIndex, PriceKind, SupplyListing
from market.participants import record_audit, require_operator


class CsvRowsInvalid(ValidationFailed):
    """Some CSV rows are wrong; `rows` lists {row, field, message}; nothing was saved."""

    def __init__(self, rows: list[dict]) -> None:
        super().__init__(
            "The file has errors in %(n)s rows; nothing was saved.",
            field="file",
            n=len({r["row"] for r in rows}),
        )
        self.rows = rows


def create_index(
    session: Session,
    operator: Member,
    code: str,
    name_en: str,
    name_ja: str,
    material_code: str,
    source: str = "",
) -> PriceIndex:
    """A new monthly price index in yen per tonne (operator only; audited)."""
    from quality.models import Material

    require_operator(session, operator)
    code = (code or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9-]{1,39}", code):
        raise ValidationFailed(
            "Use 2–40 capital letters, digits and hyphens for the code.", field="code"
        )
    if session.exec(select(PriceIndex.id).where(PriceIndex.code == code)).first() is not None:
        raise ValidationFailed("An index with this code exists already.", field="code")
    names = {}
    for field, value in (("name_en", name_en), ("name_ja", name_ja)):
        value = (value or "").strip()
        if not value or len(value) > 120:
            raise ValidationFailed("Give a name of at most 120 characters.", field=field)
        names[field] = value
    if session.exec(select(Material.id).where(Material.code == material_code)).first() is None:
        raise ValidationFailed("Unknown material %(code)s.", field="material", code=material_code)
    source = (source or "").strip()
    if len(source) > 300:
        raise ValidationFailed("At most %(n)s characters.", field="source", n=300)
    index = PriceIndex(code=code, material_code=material_code, source=source, **names)
    session.add(index)
    session.flush()
    record_audit(session, operator, "index.created", "priceindex", index.id, {"code": code})
    return index


def get_index(session: Session, code: str) -> PriceIndex:
    index = session.exec(select(PriceIndex).where(PriceIndex.code == code)).first()
    if index is None:
        raise NotFound("Unknown price index %(code)s.", code=code)
    return index


def _parse_value(raw: str) -> int:
    value = Decimal(raw.replace(",", "").strip())
    if not value.is_finite() or value <= 0 or value != value.to_integral_value():
        raise ValueError
    return int(value)


def set_index_value(
    session: Session, operator: Member, code: str, month: date, value_jpy_per_t: object
) -> IndexValue:
    """Enter or correct one month's value (operator only; audited)."""
    require_operator(session, operator)
    index = get_index(session, code)
    try:
        value = _parse_value(str(value_jpy_per_t))
    except (ValueError, ArithmeticError):
        raise ValidationFailed("Enter a positive whole number of yen.", field="value") from None
    return _upsert(session, operator, index, month.replace(day=1), value)


def _upsert(session: Session, operator: Member, index: PriceIndex, month: date, value: int):
    row = session.exec(
        select(IndexValue).where(IndexValue.index_id == index.id, IndexValue.month == month)
    ).first()
    old = row.value_jpy_per_t if row else None
    if row is None:
        row = IndexValue(index_id=index.id, month=month, value_jpy_per_t=value)
    row.value_jpy_per_t = value
    row.entered_by_member_id = operator.id
    session.add(row)
    record_audit(
        session,
        operator,
        "index.value_set",
        "priceindex",
        index.id,
        {"month": month.isoformat(), "from": old, "to": value},
    )
    return row


def import_index_csv(session: Session, operator: Member, code: str, text: str) -> int:
    """Rows `month,value` (YYYY-MM, yen per tonne); all rows or none. Returns rows saved."""
    require_operator(session, operator)
    index = get_index(session, code)
    errors: list[dict] = []
    parsed: dict[date, int] = {}
    reader = csv.reader(io.StringIO(text))
    for number, row in enumerate(reader, start=1):
        if not row or all(not c.strip() for c in row):
            continue
        if number == 1 and row[0].strip().lower() == "month":
            continue
        if len(row) != 2:
            errors.append(
                {"row": number, "field": None, "message": N_("Expected two columns: month,value.")}
            )
            continue
        try:
            year, month = (int(p) for p in row[0].strip().split("-")[:2])
            when = date(year, month, 1)
        except ValueError:
            errors.append(
                {"row": number, "field": "month", "message": N_("Enter a month as YYYY-MM.")}
            )
            continue
        try:
            value = _parse_value(row[1])
        except (ValueError, ArithmeticError):
            errors.append(
                {
                    "row": number,
                    "field": "value",
                    "message": N_("Enter a positive whole number of yen."),
                }
            )
            continue
        if when in parsed:
            errors.append(
                {"row": number, "field": "month", "message": N_("This month appears twice.")}
            )
            continue
        parsed[when] = value
    if errors:
        raise CsvRowsInvalid(errors)
    if not parsed:
        raise ValidationFailed("The file has no rows.", field="file")
    for when, value in sorted(parsed.items()):
        _upsert(session, operator, index, when, value)
    return len(parsed)


def index_values(session: Session, index_id: int) -> list[IndexValue]:
    return list(
        session.exec(
            select(IndexValue).where(IndexValue.index_id == index_id).order_by(IndexValue.month)
        )
    )


def value_for_month(session: Session, index_id: int, month: date) -> int | None:
    """The index for a month: that month's value, else the latest before it (published lag)."""
    return session.exec(
        select(IndexValue.value_jpy_per_t)
        .where(IndexValue.index_id == index_id, col(IndexValue.month) <= month.replace(day=1))
        .order_by(col(IndexValue.month).desc())
        .limit(1)
    ).first()


@dataclass(frozen=True)
class Formula:
    kind: str
    fixed: int | None
    index_id: int | None
    factor: Decimal | None
    premium: int
    floor: int | None = None
    cap: int | None = None


def formula_of(item: SupplyListing | OfftakeRequest) -> Formula:
    if isinstance(item, SupplyListing):
        return Formula(
            item.price_kind,
            item.fixed_price_jpy_per_t,
            item.index_id,
            item.index_factor,
            item.premium_jpy_per_t,
            item.floor_jpy_per_t,
            item.cap_jpy_per_t,
        )
    return Formula(
        item.price_kind,
        item.max_price_jpy_per_t,
        item.index_id,
        item.index_factor,
        item.premium_jpy_per_t,
    )


def evaluate(formula: Formula, index_value: int | None) -> int | None:
    """Yen per tonne: fixed, or index × factor + premium (half-up), clamped to floor and cap."""
    if formula.kind == PriceKind.FIXED:
        return formula.fixed
    if index_value is None:
        return None
    price = (Decimal(index_value) * formula.factor).quantize(Decimal(1), ROUND_HALF_UP)
    price = int(price) + formula.premium
    if formula.floor is not None:
        price = max(price, formula.floor)
    if formula.cap is not None:
        price = min(price, formula.cap)
    return price


def latest_values(session: Session, index_ids: set[int], month: date) -> dict[int, int]:
    """Each index's value for a month, in one query (no N+1 for a page of listings)."""
    if not index_ids:
        return {}
    rows = session.exec(
        select(IndexValue.index_id, IndexValue.month, IndexValue.value_jpy_per_t)
        .where(col(IndexValue.index_id).in_(index_ids), col(IndexValue.month) <= month)
        .order_by(IndexValue.index_id, col(IndexValue.month))
    ).all()
    values: dict[int, int] = {}
    for index_id, _month, value in rows:
        values[index_id] = value  # ordered by month: the last one wins
    return values


def price_for_month(
    session: Session, item: SupplyListing | OfftakeRequest, month: date
) -> int | None:
    formula = formula_of(item)
    value = value_for_month(session, formula.index_id, month) if formula.index_id else None
    return evaluate(formula, value)
