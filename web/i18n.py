"""Flask-Babel: the member's language, else the session's choice, else the browser's."""

from flask import Flask, request, session
from flask_babel import Babel, format_datetime, get_locale, get_translations, gettext
from flask_login import current_user
from jinja2.ext import (
    _make_new_gettext,
    _make_new_ngettext,
    _make_new_npgettext,
    _make_new_pgettext,
)

LANGUAGES = ("ja", "en")
babel = Babel()


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    if getattr(current_user, "is_authenticated", False) and current_user.locale in LANGUAGES:
        return current_user.locale
    return request.accept_languages.best_match(LANGUAGES) or "ja"


def translate_error(error) -> str:
    """A domain error's message in the request's language (every part of it when it carries
    several, as a missing movement record does)."""
    parts = getattr(error, "all", None)
    if parts:
        return " ".join(gettext(m, **p) if p else gettext(m) for m, p in parts)
    return gettext(error.message, **error.params) if error.params else gettext(error.message)


def bound_gettext() -> dict:
    """The templates' `_`/`gettext`/`ngettext`/`pgettext`/`npgettext` bound to the catalogue of
    this render's language, looked up once a render: Flask-Babel's own look the locale and the
    catalogue up again for every word (about 20 µs each, a hundred words a page). Rendering
    inside `force_locale` (e-mails) binds that language. Same newstyle behaviour as Jinja's
    i18n extension: autoescaped, with %(name)s variables."""
    translations = get_translations()
    return {
        "gettext": _make_new_gettext(translations.ugettext),
        "ngettext": _make_new_ngettext(translations.ungettext),
        "pgettext": _make_new_pgettext(translations.upgettext),
        "npgettext": _make_new_npgettext(translations.unpgettext),
    }


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.context_processor(bound_gettext)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.filters["datetime"] = lambda v, fmt="medium": format_datetime(v, fmt) if v else ""
