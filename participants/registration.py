"""Registration numbers of organisations outside Japan: the number a foreign organisation gives
in place of the Japanese corporate number (法人番号), checked by its shape per country.

Where `python-stdnum` knows the country's company (or business tax) number, its validator
checks the format and check digit and gives the number's usual form; a few shapes stdnum lacks
are checked here by pattern (their source beside them). Any other country: free text of at most
64 characters without control or text-direction characters (a register, a court and a number
are written too many ways to guess).

One table (`SCHEMES`: country → validator, example, label) is read by sign-up (page), the
organisation pages (label and number) and the API (`registry_label`)."""

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc
from stdnum.de import handelsregisternummer
from stdnum.fr import siren
from stdnum.id import npwp
from stdnum.kr import brn
from stdnum.sg import uen
from stdnum.th import moa
from stdnum.us import ein
from stdnum.vn import mst

from participants.errors import N_, ValidationFailed
from participants.fields import has_forbidden_characters

FIELD = "registry_id"
MAX_LENGTH = 64


def _pattern(regex: str, strip: str = r"[\s.-]") -> Callable[[str], str]:
    """A validator by pattern for a number stdnum does not know: the compact form or
    stdnum's InvalidFormat."""

    def check(value: str) -> str:
        compact = re.sub(strip, "", value).upper()
        if not re.fullmatch(regex, compact):
            raise stdnum_errors.InvalidFormat()
        return compact

    return check


def _formatted(module) -> Callable[[str], str]:
    """stdnum's validate, then its usual printed form where it has one."""

    def check(value: str) -> str:
        number = module.validate(value)
        return module.format(number) if hasattr(module, "format") else number

    return check


@dataclass(frozen=True)
class RegistrationScheme:
    """A country's organisation number: how it is checked, an example, and its name."""

    country: str
    label: str  # untranslated (N_); shown translated on pages
    example: str
    validate: Callable[[str], str]  # the stored form, or a stdnum ValidationError


SCHEMES: dict[str, RegistrationScheme] = {
    s.country: s
    for s in (
        # Court, register (HRA/HRB/GnR/PR/VR) and number; stdnum knows the register courts.
        RegistrationScheme(
            "DE",
            N_("Handelsregisternummer (court, register and number)"),
            "Köln HRB 48213",
            handelsregisternummer.validate,
        ),
        RegistrationScheme(
            "US", N_("EIN (Employer Identification Number)"), "04-3012345", _formatted(ein)
        ),
        RegistrationScheme("SG", N_("UEN (Unique Entity Number)"), "00192200M", uen.validate),
        # A juristic person's 13-digit number of the Department of Business Development (also
        # its taxpayer number), with the PIN check digit.
        RegistrationScheme(
            "TH",
            N_("Juristic person registration number (DBD, 13 digits)"),
            "0205558004221",
            moa.validate,
        ),
        RegistrationScheme("VN", N_("MST (enterprise tax code)"), "0100233488", mst.validate),
        RegistrationScheme(
            "ID", N_("NPWP (taxpayer number)"), "01.312.166.0-091.000", _formatted(npwp)
        ),
        RegistrationScheme(
            "KR",
            N_("Business registration number (사업자등록번호)"),
            "134-86-72683",
            _formatted(brn),
        ),
        RegistrationScheme(
            "CN",
            N_("Unified social credit code (统一社会信用代码)"),
            "91110000600037341L",
            uscc.validate,
        ),
        RegistrationScheme("FR", N_("SIREN"), "732 829 320", _formatted(siren)),
        # Companies House: 8 characters, digits or a two-letter prefix (SC, NI, OC, …) and six
        # digits (Companies House, "Company number" guidance). stdnum has no company number.
        RegistrationScheme(
            "GB",
            N_("Company number (Companies House)"),
            "01234567",
            _pattern(r"[0-9]{8}|[A-Z]{2}[0-9]{6}", strip=r"\s"),
        ),
        # Netherlands Chamber of Commerce (KvK) number: 8 digits.
        RegistrationScheme("NL", N_("KvK number (8 digits)"), "12345678", _pattern(r"[0-9]{8}")),
        # Malaysia: the SSM company number since 2019 is 12 digits (year, entity type, serial);
        # stdnum has only the personal NRIC.
        RegistrationScheme(
            "MY",
            N_("SSM registration number (12 digits)"),
            "201901012345",
            _pattern(r"(19|20)[0-9]{2}0[1-6][0-9]{6}"),
        ),
    )
}


def scheme_of(country: str | None) -> RegistrationScheme | None:
    """The country's registration scheme, or None (free text)."""
    return SCHEMES.get((country or "").upper())


def registry_label(country: str | None) -> str:
    """What the country's number is called (untranslated), or a generic name."""
    scheme = scheme_of(country)
    return scheme.label if scheme else N_("Registration number")


def check_registry_id(country: str, value: str | None, field: str = FIELD) -> str:
    """A foreign organisation's registration number in its stored form, or 422 naming `field`.

    Required; at most 64 characters without control or text-direction characters; where the
    country has a scheme, its shape (and check digit) too."""
    text = unicodedata.normalize("NFC", (value or "").strip())
    if not text:
        raise ValidationFailed(
            "Give your organisation's registration number in its country.", field=field
        )
    if has_forbidden_characters(text):
        raise ValidationFailed(
            "Remove control or text-direction characters from the text.", field=field
        )
    if len(text) > MAX_LENGTH:
        raise ValidationFailed("At most %(n)s characters.", field=field, n=MAX_LENGTH)
    scheme = scheme_of(country)
    if scheme is None:
        return text
    try:
        number = scheme.validate(text)
    except stdnum_errors.ValidationError:
        raise ValidationFailed(
            N_("%(value)s is not a valid %(label)s of %(country)s (for example %(example)s)."),
            field=field,
            value=text,
            label=scheme.label,
            country=scheme.country,
            example=scheme.example,
        ) from None
    return number


def registration_schemes() -> list[RegistrationScheme]:
    """The countries whose numbers are checked by shape, by country code (sign-up hint)."""
    return [SCHEMES[code] for code in sorted(SCHEMES)]
