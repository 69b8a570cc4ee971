"""One set of Jinja filters for money, tonnes, percentages and dates.

Templates write `{{ amount|yen }}`, `{{ price|yen_per_t }}`, `{{ kg|tonnes }}` (a number under a
"t" header), `{{ kg|t }}` (a number with its unit), `{{ share|percent }}`, `{{ day|date }}`,
`{{ moment|datetime }}` (in the member's zone) and `{{ first_day|month }}`. Views call the same
functions. A negative amount carries a real minus sign (U+2212): −¥3,000, never ¥-3,000; an
absent value is shown as a dash.
"""

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import format_date, format_datetime

MINUS = "\u2212"
DASH = "—"
KG_PER_T = Decimal(1000)


def _decimal(value) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def _grouped(value: Decimal, places: int) -> str:
    """|value| rounded half-up to at most `places` decimals, thousands grouped, zeros dropped."""
    step = Decimal(1).scaleb(-places)
    rounded = abs(value).quantize(step, rounding=ROUND_HALF_UP)
    text = format(rounded, ",f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _signed(value: Decimal, body: str) -> str:
    return MINUS + body if value < 0 and body.strip("0.,¥") else body


_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")


def yen(value) -> str:
    """Whole yen for people: ¥3,000; a negative amount −¥3,000; None → —."""
    if value is None or value == "":
        return DASH
    amount = _decimal(value)
    return _signed(amount, "¥" + _grouped(amount, 0))


def yen_per_t(value) -> str:
    """A price per tonne: ¥3,000/t, −¥3,000/t; None → —."""
    text = yen(value)
    return text if text == DASH else text + "/t"


def tonnes(kg, unit: str = "kg") -> str:
    """Kilograms as a number of tonnes, up to three decimals: 120000 → 120, 1500 → 1.5,
    1234567 → 1,234.567 (for cells under a "t" header); None → —. A value already in tonnes
    (a "60.000" of the API models) is written `value|tonnes("t")`."""
    if kg is None or kg == "":
        return DASH
    value = _decimal(kg) if unit == "t" else _decimal(kg) / KG_PER_T
    return _signed(value, _grouped(value, 3))


def t(kg, unit: str = "kg") -> str:
    """Kilograms (or tonnes, `unit="t"`) as tonnes with their unit: 12500 → "12.5 t"."""
    text = tonnes(kg, unit)
    return text if text == DASH else text + " t"


def percent(value, places: int = 2) -> str:
    """A value already in percent (12.5, Decimal("0.5")) as "12.5 %"; None → —."""
    if value is None or value == "":
        return DASH
    amount = _decimal(value)
    return _signed(amount, _grouped(amount, places)) + " %"


def date_(value) -> str:
    """A calendar day as 2026-11-03 (ISO, readable in both languages); None → —."""
    if value is None:
        return DASH
    if isinstance(value, datetime):
        return format_date(value, "yyyy-MM-dd")
    return value.isoformat()


def datetime_(value, fmt: str = "medium") -> str:
    """A moment in the member's zone (BABEL_DEFAULT_TIMEZONE, Asia/Tokyo); None → ""."""
    return format_datetime(value, fmt) if value else ""


def text_lang(text) -> str:
    """The language tag of a text people or sources wrote ("ja" when it holds Japanese script,
    "en" when it holds Latin words, "" for figures), for its element's lang attribute: screen readers read it right."""
    value = str(text or "")
    if _JAPANESE.search(value):
        return "ja"
    return "en" if _LATIN_WORD.search(value) else ""  # "": figures and units only


def month(value: date | None) -> str:
    """A month as 2026-11; None → ""."""
    return value.strftime("%Y-%m") if value else ""


def uncertainty(value) -> str:
    """An uncertainty (±) for people: "—" when none was stated (stored as None; records from
    before migration 0016 and a stated 0 read the same: no measurement is exact)."""
    return DASH if value is None or value == 0 else str(value)


FILTERS = {
    "yen": yen,
    "yen_per_t": yen_per_t,
    "tonnes": tonnes,
    "t": t,
    "percent": percent,
    "date": date_,
    "datetime": datetime_,
    "month": month,
    "text_lang": text_lang,
    "uncertainty": uncertainty,
}


def init_app(app) -> None:
    app.jinja_env.filters.update(FILTERS)
