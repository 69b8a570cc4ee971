"""Countries: ISO 3166-1 alpha-2 codes (from `pycountry`, the ISO 3166 tables kept by Debian's
iso-codes) and their names in English and Japanese.

One check for every country field — an organisation's country, a listing's delivery country,
a movement record's countries of export, transit and import — so that an unknown code such as
"XX" is refused the same way everywhere (422, field named)."""

import gettext
from functools import lru_cache
from typing import Annotated, Any

import pycountry
from pydantic import AfterValidator, BeforeValidator, Field

from participants.errors import N_, ValidationFailed

COUNTRY_PATTERN = "^[A-Z]{2}$"

# Names in Japanese of the countries the marketplace deals with most; others show the English
# name (pycountry carries no Japanese names).
_JA = {
    "JP": "日本",
    "DE": "ドイツ",
    "US": "アメリカ合衆国",
    "GB": "英国",
    "FR": "フランス",
    "NL": "オランダ",
    "BE": "ベルギー",
    "SE": "スウェーデン",
    "FI": "フィンランド",
    "KR": "韓国",
    "CN": "中国",
    "TW": "台湾",
    "HK": "香港",
    "TH": "タイ",
    "VN": "ベトナム",
    "MY": "マレーシア",
    "SG": "シンガポール",
    "ID": "インドネシア",
    "PH": "フィリピン",
    "IN": "インド",
    "AU": "オーストラリア",
    "CA": "カナダ",
}


@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    """Every ISO 3166-1 alpha-2 code."""
    return frozenset(c.alpha_2 for c in pycountry.countries)


def is_country(code: str) -> bool:
    return code in country_codes()


@lru_cache(maxsize=1)
def _ja_names():
    """The Debian iso-codes Japanese catalogue that pycountry ships (ISO 3166-1 names)."""
    try:
        return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ja"])
    except OSError:  # pragma: no cover - a pycountry without its catalogues
        return gettext.NullTranslations()


def country_name(code: str, locale: str = "en") -> str:
    """The country's short name in the locale: our own Japanese short names first, then the
    ISO 3166-1 Japanese names of the iso-codes catalogue."""
    if locale == "ja" and code in _JA:
        return _JA[code]
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    if locale == "ja":
        return _ja_names().gettext(country.name)
    return getattr(country, "common_name", None) or country.name


def check_country(value: str | None, field: str = "country") -> str:
    """An upper-cased ISO 3166-1 alpha-2 code, or 422 naming the field."""
    code = (value or "").strip().upper()
    if not is_country(code):
        raise ValidationFailed(
            N_("%(code)s is not an ISO 3166-1 alpha-2 country code (for example JP, DE, TH)."),
            field=field,
            code=code or "—",
        )
    return code


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _known(value: str) -> str:
    if not is_country(value):
        raise ValueError(f"{value} is not an ISO 3166-1 alpha-2 country code")
    return value


CountryCode = Annotated[
    str,
    BeforeValidator(_upper),
    Field(
        min_length=2,
        max_length=2,
        pattern=COUNTRY_PATTERN,
        description="ISO 3166-1 alpha-2 country code, e.g. JP, DE, TH",
    ),
    AfterValidator(_known),
]
