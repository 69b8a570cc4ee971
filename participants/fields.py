"""Input types with their bounds, in one place.

Every typed input model (pydantic) of every package builds on these, so the page forms, the
JSON API and the OpenAPI schema share one set of limits. JSON bodies are validated strictly
(`true` is not the number 1, "1" is not an integer); form fields arrive as text and are
validated leniently against the same bounds.

Bounds and why:
- yen: integer yen, at most ¥100,000,000 in absolute value (per tonne: an order of magnitude
  above the dearest secondary raw material, refined cobalt); whole-contract amounts use
  `LARGE_YEN_MAX` (¥10^12), still far inside a 64-bit integer;
- tonnes: at most 1,000,000 t with kilogram precision (three decimals);
- months: "YYYY-MM" from 2000-01 to 2099-12 (the domain narrows further where it matters);
- ids: positive 32-bit integers (database keys);
- text: no NUL, no control characters (tab and line breaks only where a field is multi-line),
  no bidirectional override or isolate characters (they disguise what a name says).
"""

import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    WithJsonSchema,
    create_model,
)
from pydantic_core import PydanticCustomError

YEN_MAX = 100_000_000
LARGE_YEN_MAX = 10**12
TONNES_MAX = Decimal(1_000_000)
ID_MAX = 2**31 - 1
MEASUREMENT_MAX = Decimal(10) ** 9

# Characters never accepted in text: C0/C1 controls and DEL, bidi marks, embeddings,
# overrides and isolates. Tab, CR and LF are allowed in multi-line text only.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_FORBIDDEN_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_FORBIDDEN_MULTILINE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")
# The same rule as JSON Schema patterns (ECMA-262 regular expressions) for the OpenAPI document.
LINE_PATTERN = (
    "^[^\\u0000-\\u001F\\u007F-\\u009F\\u061C\\u200E\\u200F\\u202A-\\u202E\\u2066-\\u2069]*$"
)
MULTILINE_PATTERN = (
    "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F"
    "\\u061C\\u200E\\u200F\\u202A-\\u202E\\u2066-\\u2069]*$"
)


def has_forbidden_characters(value: str, multiline: bool = False) -> bool:
    """True when the text holds a control or text-direction character it may not hold."""
    forbidden = _FORBIDDEN_MULTILINE if multiline else _FORBIDDEN_LINE
    return forbidden.search(value) is not None


def check_text(value: str, multiline: bool = False) -> str:
    """NFC-normalised text without control or bidi-override characters (else a field error)."""
    if has_forbidden_characters(value, multiline):
        raise PydanticCustomError(
            "text_characters", "Remove control or text-direction characters from the text."
        )
    return unicodedata.normalize("NFC", value)


def _line(value: str) -> str:
    return check_text(value, multiline=False)


def _multiline(value: str) -> str:
    return check_text(value, multiline=True)


def Line(max_length: int, min_length: int = 0) -> Any:  # noqa: N802 (a type factory)
    """One line of text of at most `max_length` characters."""
    return Annotated[
        str,
        Field(min_length=min_length, max_length=max_length),
        AfterValidator(_line),
        WithJsonSchema(
            {
                "type": "string",
                "minLength": min_length,
                "maxLength": max_length,
                "pattern": LINE_PATTERN,
            }
        ),
    ]


def Paragraphs(max_length: int) -> Any:  # noqa: N802 (a type factory)
    """Multi-line text (tab and line breaks allowed) of at most `max_length` characters."""
    return Annotated[
        str,
        Field(max_length=max_length),
        AfterValidator(_multiline),
        WithJsonSchema({"type": "string", "maxLength": max_length, "pattern": MULTILINE_PATTERN}),
    ]


def _decimal(value: Any) -> Any:
    """Decimal from a Decimal, an integer or a decimal string; never a boolean."""
    if isinstance(value, bool):
        raise PydanticCustomError("decimal_type", "Enter a number.")
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
            raise PydanticCustomError("decimal_parsing", "Enter a number.")
        try:
            return Decimal(text)
        except InvalidOperation:
            raise PydanticCustomError("decimal_parsing", "Enter a number.") from None
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int):
        return Decimal(value)
    return value


def _plain_decimal(
    pattern: str, low: Decimal, high: Decimal, places: int, low_inclusive: bool = True
):
    """A Decimal validator that accepts exactly the strings its JSON Schema pattern describes.

    A string outside the pattern but otherwise in range (a sign, leading zeros, ".5") is
    refused with its own message; one out of range or with too many decimals passes on to the
    bound checks, which say what is wrong.
    """
    compiled = re.compile(pattern)

    def validate(value: Any) -> Any:
        number = _decimal(value)
        if isinstance(value, str) and not compiled.fullmatch(value.strip()):
            in_range = (low <= number if low_inclusive else low < number) and number <= high
            exponent = number.as_tuple().exponent
            if in_range and isinstance(exponent, int) and -exponent <= places:
                raise PydanticCustomError("decimal_format", "Write the number plainly, e.g. 120.5.")
        return number

    return validate


def _no_bool(value: Any) -> Any:
    """Never a boolean; a whole-number float (9.0, an integer in JSON Schema) counts as 9."""
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Enter a whole number.")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


PERCENT_PATTERN = "^(100(\\.0{1,2})?|[0-9]{1,2}(\\.[0-9]{1,2})?)$"
# A percentage from 0 to 100 with at most two decimals ("40", "92.5", 95).
Percent = Annotated[
    Decimal,
    Field(ge=0, le=100, decimal_places=2, allow_inf_nan=False),
    BeforeValidator(_plain_decimal(PERCENT_PATTERN, Decimal(0), Decimal(100), 2)),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 100, "multipleOf": 0.01},
                {"type": "string", "pattern": PERCENT_PATTERN},
            ],
            "description": "per cent, 0 to 100, at most two decimals",
            "examples": ["40"],
        }
    ),
]
# The same in a query string, where a percentage is text.
QueryPercent = Annotated[
    Decimal,
    Field(ge=0, le=100, decimal_places=2, allow_inf_nan=False),
    BeforeValidator(_plain_decimal(PERCENT_PATTERN, Decimal(0), Decimal(100), 2)),
    WithJsonSchema({"type": "string", "pattern": PERCENT_PATTERN, "examples": ["40"]}),
]


Id = Annotated[int, Field(ge=1, le=ID_MAX), BeforeValidator(_no_bool)]
Count = Annotated[int, Field(ge=0, le=ID_MAX), BeforeValidator(_no_bool)]
Months = Annotated[int, Field(ge=1, le=120), BeforeValidator(_no_bool)]
Yen = Annotated[int, Field(ge=-YEN_MAX, le=YEN_MAX), BeforeValidator(_no_bool)]
PositiveYen = Annotated[int, Field(gt=0, le=YEN_MAX), BeforeValidator(_no_bool)]
LargeYen = Annotated[int, Field(ge=-LARGE_YEN_MAX, le=LARGE_YEN_MAX), BeforeValidator(_no_bool)]

TONNES_PATTERN = "^(1000000(\\.0{1,3})?|[0-9]{1,6}(\\.[0-9]{1,3})?)$"
_TONNES_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": 1_000_000, "multipleOf": 0.001},
        {"type": "string", "pattern": TONNES_PATTERN},
    ],
    "description": "tonnes, kilogram precision (at most three decimals)",
    "examples": ["120.000"],
}
Tonnes = Annotated[
    Decimal,
    Field(ge=0, le=TONNES_MAX, decimal_places=3, allow_inf_nan=False),
    BeforeValidator(_plain_decimal(TONNES_PATTERN, Decimal(0), TONNES_MAX, 3)),
    WithJsonSchema(_TONNES_SCHEMA),
]

# More than 0 and at most 5 with at most six decimals, written plainly ("0.92", "1", "5.0").
FACTOR_PATTERN = (
    "^(0\\.([1-9][0-9]{0,5}|0[1-9][0-9]{0,4}|00[1-9][0-9]{0,3}|000[1-9][0-9]{0,2}"
    "|0000[1-9][0-9]?|00000[1-9])|[1-4](\\.[0-9]{1,6})?|5(\\.0{1,6})?)$"
)
_FACTOR_SCHEMA = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0, "maximum": 5, "multipleOf": 0.000001},
        {"type": "string", "pattern": FACTOR_PATTERN},
    ],
    "description": "index factor, more than 0 and at most 5, at most six decimals",
    "examples": ["0.92"],
}
Factor = Annotated[
    Decimal,
    Field(gt=0, le=5, decimal_places=6, allow_inf_nan=False),
    BeforeValidator(_plain_decimal(FACTOR_PATTERN, Decimal(0), Decimal(5), 6, low_inclusive=False)),
    WithJsonSchema(_FACTOR_SCHEMA),
]

MEASUREMENT_PATTERN = "^[+-]?(1000000000(\\.0{1,12})?|[0-9]{1,9}(\\.[0-9]{1,12})?)$"
_MEASUREMENT_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": -1e9, "maximum": 1e9},
        {"type": "string", "pattern": MEASUREMENT_PATTERN},
    ],
    "description": "a measured value, at most 10^9 in size and twelve decimals",
}
Measurement = Annotated[
    Decimal,
    Field(ge=-MEASUREMENT_MAX, le=MEASUREMENT_MAX, decimal_places=12, allow_inf_nan=False),
    BeforeValidator(_plain_decimal(MEASUREMENT_PATTERN, -MEASUREMENT_MAX, MEASUREMENT_MAX, 12)),
    WithJsonSchema(_MEASUREMENT_SCHEMA),
]

Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False), BeforeValidator(_no_bool)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False), BeforeValidator(_no_bool)]

MONTH_PATTERN = "^20[0-9]{2}-(0[1-9]|1[0-2])$"


def parse_month_text(value: Any) -> date:
    """A month as its first day, from a date or "YYYY-MM" (2000-01 … 2099-12)."""
    if isinstance(value, date):
        return value.replace(day=1)
    if isinstance(value, str):
        match = re.fullmatch(r"(20\d\d)-(0[1-9]|1[0-2])", value.strip())
        if match:
            return date(int(match[1]), int(match[2]), 1)
    raise PydanticCustomError("month", "Enter a month as YYYY-MM.")


def _day(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise PydanticCustomError("day", "Enter a date as YYYY-MM-DD.") from None
    return value


Month = Annotated[
    date,
    BeforeValidator(parse_month_text),
    PlainSerializer(lambda d: d.strftime("%Y-%m"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": MONTH_PATTERN, "examples": ["2027-01"]}),
]
Day = Annotated[
    date,
    Field(ge=date(2000, 1, 1), le=date(2099, 12, 31)),
    BeforeValidator(_day),
    WithJsonSchema(
        {"type": "string", "format": "date", "pattern": "^20[0-9]{2}-[0-9]{2}-[0-9]{2}$"}
    ),
]


def partial_model(model: type[BaseModel]) -> type[BaseModel]:
    """The same fields, each optional without a default value: the body of a PATCH.

    `model_fields_set` of a parsed instance tells which fields were sent.
    """
    fields = {
        name: (
            (Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation)
            | None,
            Field(default=None, description=info.description),
        )
        for name, info in model.model_fields.items()
    }
    return create_model(
        f"{model.__name__}Patch",
        __config__=model.model_config,
        __doc__=f"The fields of {model.__name__} to change (all optional).",
        **fields,
    )


DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000


class Paging(BaseModel):
    """?page=&per_page= of every list (query-string models extend it)."""

    page: int = Field(default=1, ge=1, le=MAX_PAGE, description="page number, from 1")
    per_page: int = Field(
        default=DEFAULT_PER_PAGE, ge=1, le=MAX_PER_PAGE, description="items a page, at most 100"
    )
