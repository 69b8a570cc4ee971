"""One translated name for every code shown to a person.

Templates write `{{ value|label("listing_status") }}`; views call `label(value, "listing_status")`.
A kind is a table of lazy translations registered here (one section per area), or a provider
function for codes that live in the database (materials, parameters). Status words that read
differently by meaning carry a message context (`pgettext`), so that "Open" can be 募集中 for a
listing and 未回答 for a proposal decision.

An unknown code is shown as it is (never an error page), and the Japanese page walk of the test
suite fails on it: add the name here.
"""

from collections.abc import Callable, Mapping
from enum import Enum

from flask_babel import lazy_gettext as _l  # noqa: F401  (used by the sections below)
from flask_babel import lazy_pgettext as _p  # noqa: F401

LABELS: dict[str, Mapping] = {}
PROVIDERS: dict[str, Callable[[str], str | None]] = {}


def register(kind: str, names: Mapping) -> Mapping:
    """Register (or extend) the names of one kind of code; returns the table for local use."""
    table = dict(LABELS.get(kind, {}))
    table.update({_key(k): v for k, v in names.items()})
    LABELS[kind] = table
    return names


def register_provider(kind: str, provider: Callable[[str], str | None]) -> None:
    """Codes whose names live elsewhere (the database): provider(code) -> name or None."""
    PROVIDERS[kind] = provider


def _key(value) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    return "" if value is None else str(value)


def label(value, kind: str) -> str:
    """The person-facing name of `value` (a code or an enum member) of `kind`."""
    key = _key(value)
    if key == "":
        return "—"
    name = LABELS.get(kind, {}).get(key)
    if name is not None:
        return str(name)
    provider = PROVIDERS.get(kind)
    if provider is not None:
        found = provider(key)
        if found:
            return found
    return key


def labels_of(kind: str) -> dict[str, str]:
    """The whole table of one kind, translated now (for choices and JSON)."""
    return {k: str(v) for k, v in LABELS.get(kind, {}).items()}


def init_app(app) -> None:
    app.jinja_env.filters["label"] = label
    app.jinja_env.globals["labels_of"] = labels_of


# ---------------------------------------------------------------------------------------------
# Sections: each area registers its kinds below its own marker (keeps merges apart).

# --- labels-market ---

# --- labels-quality ---

# --- labels-forms ---

# --- labels-flows ---
