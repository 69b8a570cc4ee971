"""Extract every user-facing string (templates, views, domain error messages) for Babel."""

import importlib
import pkgutil
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir

from web.config import ROOT

# Functions whose first argument is a user-facing message (domain errors included).
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "lazy_gettext": None,
    "pgettext": ((1, "c"), 2),
    "lazy_pgettext": ((1, "c"), 2),
    "_p": ((1, "c"), 2),
    "_l": None,
    "N_": None,
    "ValidationFailed": None,
    "NotFound": None,
    "PermissionDenied": None,
    "Conflict": None,
    "TooManyAttempts": None,
    "DomainError": None,
    "ContractError": None,
    "QualityError": None,
    "InvalidMeasurement": None,
    "DuplicateParameter": None,
    "InvalidSpec": None,
    "InvalidEvidence": None,
    "UnknownStandard": None,
    "InvalidAssay": None,
    "NotPermitted": None,
    "CertificateRefused": None,
    "permission": None,
    "PydanticCustomError": (2,),
    "Permission": None,
}
PACKAGES = ("web", "participants", "market", "quality", "contracts")
DOMAIN_PACKAGES = ("participants", "market", "quality", "contracts")
CATALOGUE = ROOT / "web" / "translations" / "ja" / "LC_MESSAGES" / "messages.po"


def _error_class_messages() -> set[str]:
    """`message` class attributes of every error class of the domain packages."""
    messages: set[str] = set()
    for package in DOMAIN_PACKAGES:
        pkg = importlib.import_module(package)
        for info in pkgutil.iter_modules(pkg.__path__):
            module = importlib.import_module(f"{package}.{info.name}")
            for value in vars(module).values():
                if isinstance(value, type) and issubclass(value, Exception):
                    message = vars(value).get("message")
                    if isinstance(message, str):
                        messages.add(message)
    return messages


def extract() -> Catalog:
    """A template catalogue of every translatable string of the project."""
    catalog = Catalog(project="junkan", charset="utf-8")
    method_map = [("**.html", "jinja2"), ("**.py", "python")]
    options = {"**.html": {"extensions": "jinja2.ext.i18n"}}
    sources = [(ROOT / "templates", "templates")] + [(ROOT / p, p) for p in PACKAGES]
    for folder, prefix in sources:
        if not Path(folder).exists():
            continue
        for filename, lineno, message, comments, context in extract_from_dir(
            str(folder), method_map, options, keywords=KEYWORDS, strip_comment_tags=True
        ):
            catalog.add(
                message,
                None,
                [(f"{prefix}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    for message in sorted(_error_class_messages()):
        catalog.add(message, None, [("errors", 0)])
    return catalog
