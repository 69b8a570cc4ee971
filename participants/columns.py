"""Column types shared by every package: exact decimals and timezone-aware UTC datetimes.

They live in the lowest package (quality) because every other package may import it.
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, String
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


TOKYO = ZoneInfo("Asia/Tokyo")


def tokyo_today() -> date:
    """Today in Asia/Tokyo: the marketplace's calendar day (months, fiscal years, validity)."""
    return datetime.now(TOKYO).date()


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC; always returns aware UTC (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ExactDecimal(TypeDecorator):
    """A Decimal stored as its canonical string, so values at a limit compare exactly."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | str | None, dialect) -> str | None:
        if value is None:
            return None
        return str(Decimal(value))

    def process_result_value(self, value: str | None, dialect) -> Decimal | None:
        return None if value is None else Decimal(value)
