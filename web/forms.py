"""Form fields shared by several areas (choices that are built from domain data)."""

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import SelectField

from participants.geography import PREFECTURES
from participants.models import OrgKind, Role

ORG_KIND_LABELS = {
    OrgKind.RECYCLER: _l("Recycler"),
    OrgKind.MANUFACTURER: _l("Manufacturer"),
    OrgKind.AGENCY: _l("Public agency"),
    OrgKind.STANDARDS_BODY: _l("Standards body"),
    OrgKind.OPERATOR: _l("Marketplace operator"),
}
ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.TRADER: _l("Trader"),
    Role.SIGNATORY: _l("Signatory"),
    Role.INSPECTOR: _l("Inspector"),
    Role.OFFICER: _l("Procurement officer"),
}
STATUS_LABELS = {
    "unverified": _l("Unverified"),
    "verified": _l("Verified"),
    "suspended": _l("Suspended"),
}


def prefecture_choices(blank: bool = True) -> list[tuple[str, str]]:
    ja = str(get_locale()) == "ja"
    choices = [(p.code, p.name_ja if ja else p.name_en) for p in PREFECTURES]
    return [("", _l("— choose —")), *choices] if blank else choices


def prefecture_name(code: str | None) -> str:
    from participants.geography import BY_CODE

    if not code or code not in BY_CODE:
        return ""
    p = BY_CODE[code]
    return p.name_ja if str(get_locale()) == "ja" else p.name_en


class PrefectureField(SelectField):
    def __init__(self, label=None, validators=None, **kwargs) -> None:
        super().__init__(label, validators, choices=[], **kwargs)

    def pre_validate(self, form) -> None:  # choices are set per request
        self.choices = prefecture_choices()
        super().pre_validate(form)
