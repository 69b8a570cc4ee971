"""Refresh the Japanese catalogue from the sources and list what is untranslated.

The catalogue `web/translations/ja/LC_MESSAGES/messages.po` is the one home of translations:
edit its msgstr lines directly, or apply a JSON object {msgid: 日本語} with --apply. A message
with a context (pgettext) is keyed "context\u0004msgid", as gettext itself keys it.

.venv/bin/python scripts/i18n.py                    # update messages.po, print missing ids
.venv/bin/python scripts/i18n.py --apply new.json   # the same, after writing translations in
"""

import argparse
import json
import sys
from pathlib import Path

# The checkout this script belongs to, not whichever copy of the package is installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from babel.messages.catalog import Catalog  # noqa: E402
from babel.messages.pofile import read_po, write_po  # noqa: E402

from web.catalogue import CATALOGUE, extract  # noqa: E402


def _key(message):
    """A message's key in --apply files: its id, or "context\u0004id" when it has a context."""
    if message.context and isinstance(message.id, str):
        return f"{message.context}\u0004{message.id}"
    return message.id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apply", action="append", default=[], metavar="JSON")
    args = parser.parse_args()
    translations: dict[str, str] = {}
    for path in args.apply:
        with open(path, encoding="utf-8") as f:
            translations.update(json.load(f))
    if CATALOGUE.exists():
        with CATALOGUE.open("rb") as f:
            catalog = read_po(f, locale="ja")
    else:
        catalog = Catalog(locale="ja", project="junkan")
    catalog.update(extract(), no_fuzzy_matching=True)
    for message in catalog:
        key = _key(message)
        if message.id and key in translations:
            message.string = translations[key]
            message.flags.discard("fuzzy")
    CATALOGUE.parent.mkdir(parents=True, exist_ok=True)
    with CATALOGUE.open("wb") as f:
        write_po(f, catalog, width=100, ignore_obsolete=True, omit_header=False)
    missing = [_key(m) for m in catalog if m.id and not m.string]
    for m in missing:
        print(json.dumps(m if isinstance(m, str) else list(m), ensure_ascii=False))
    print(f"{len(missing)} untranslated of {len([m for m in catalog if m.id])}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
