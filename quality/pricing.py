"""Money rules of the quality module: yen rounding and settlement of disputed assays.

Assay disputes follow the usual contract clause: two assays within the agreed splitting limit
are averaged; otherwise an umpire laboratory's assay settles, and the party whose assay lies
further from the umpire's pays the umpire fee (equal distances: the fee is split).
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from quality.errors import InvalidMeasurement, MissingUmpire


def round_yen(amount: Decimal | int) -> int:
    """Integer yen from a Decimal, half-up (ties away from zero): the project's one rounding."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise TypeError(f"round_yen needs a Decimal or int, not {type(amount).__name__}")
    return int(Decimal(amount).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class FeePayer(StrEnum):
    SELLER = "seller"
    BUYER = "buyer"
    SPLIT = "split"


@dataclass(frozen=True)
class SplitResult:
    """Comparison of the seller's and the buyer's assays against the splitting limit."""

    seller: Decimal
    buyer: Decimal
    difference: Decimal
    splitting_limit: Decimal
    settled: bool
    value: Decimal | None
    umpire_required: bool


@dataclass(frozen=True)
class UmpireResult:
    """Settlement by the umpire laboratory and who pays its fee."""

    value: Decimal
    fee_payer: FeePayer
    seller_distance: Decimal
    buyer_distance: Decimal


@dataclass(frozen=True)
class Settlement:
    """The value an assay dispute settles at, and the umpire fee payer when one was needed."""

    value: Decimal
    umpire_used: bool
    fee_payer: FeePayer | None


def _check_assay(name: str, value: Decimal) -> None:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidMeasurement("%(parameter)s must be a decimal number.", name, parameter=name)
    if not Decimal(value).is_finite() or value < 0:
        raise InvalidMeasurement(
            "%(parameter)s must be a finite number, zero or more.", name, parameter=name
        )


def split_assay(seller: Decimal, buyer: Decimal, splitting_limit: Decimal) -> SplitResult:
    """Average two assays when |seller − buyer| ≤ splitting limit, else ask for an umpire."""
    _check_assay("seller", seller)
    _check_assay("buyer", buyer)
    _check_assay("splitting_limit", splitting_limit)
    difference = abs(Decimal(seller) - Decimal(buyer))
    settled = difference <= splitting_limit
    return SplitResult(
        seller=Decimal(seller),
        buyer=Decimal(buyer),
        difference=difference,
        splitting_limit=Decimal(splitting_limit),
        settled=settled,
        value=(Decimal(seller) + Decimal(buyer)) / 2 if settled else None,
        umpire_required=not settled,
    )


def settle_with_umpire(seller: Decimal, buyer: Decimal, umpire: Decimal) -> UmpireResult:
    """The umpire's assay settles; the party further from it pays the fee (a tie splits it)."""
    _check_assay("seller", seller)
    _check_assay("buyer", buyer)
    _check_assay("umpire", umpire)
    seller_distance = abs(Decimal(seller) - Decimal(umpire))
    buyer_distance = abs(Decimal(buyer) - Decimal(umpire))
    if seller_distance > buyer_distance:
        payer = FeePayer.SELLER
    elif buyer_distance > seller_distance:
        payer = FeePayer.BUYER
    else:
        payer = FeePayer.SPLIT
    return UmpireResult(Decimal(umpire), payer, seller_distance, buyer_distance)


def settle_assay(
    seller: Decimal, buyer: Decimal, splitting_limit: Decimal, umpire: Decimal | None = None
) -> Settlement:
    """Settle a disputed assay: average within the splitting limit, else the umpire decides."""
    split = split_assay(seller, buyer, splitting_limit)
    if split.settled:
        assert split.value is not None
        return Settlement(split.value, umpire_used=False, fee_payer=None)
    if umpire is None:
        raise MissingUmpire(
            None, "umpire", difference=split.difference, limit=split.splitting_limit
        )
    result = settle_with_umpire(seller, buyer, umpire)
    return Settlement(result.value, umpire_used=True, fee_payer=result.fee_payer)
