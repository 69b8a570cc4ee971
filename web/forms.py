"""Form fields shared by several areas (choices that are built from domain data)."""

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import SelectField

from participants.geography import PREFECTURES
from participants.models import OrgKind, Role
from web.labels import LABELS

# The names live in web.labels (kinds org_kind, role, org_status); these views of them stay
# for the modules that import them.
ORG_KIND_LABELS = {OrgKind(k): v for k, v in LABELS["org_kind"].items()}
ROLE_LABELS = {Role(k): v for k, v in LABELS["role"].items()}
STATUS_LABELS = dict(LABELS["org_status"])


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
