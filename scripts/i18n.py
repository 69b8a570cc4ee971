"""Refresh the Japanese catalogue from the sources and list what is untranslated.

.venv/bin/python scripts/i18n.py            # update messages.po, print missing ids
"""

import sys

from babel.messages.pofile import read_po, write_po

from web.catalogue import CATALOGUE, extract


def main() -> int:
    template = extract()
    if CATALOGUE.exists():
        with CATALOGUE.open("rb") as f:
            catalog = read_po(f, locale="ja")
    else:
        from babel.messages.catalog import Catalog

        catalog = Catalog(locale="ja", project="junkan")
    catalog.update(template, no_fuzzy_matching=True)
    CATALOGUE.parent.mkdir(parents=True, exist_ok=True)
    with CATALOGUE.open("wb") as f:
        write_po(f, catalog, width=100, ignore_obsolete=True, omit_header=False)
    missing = [m.id for m in catalog if m.id and not m.string]
    for m in missing:
        print(repr(m))
    print(f"{len(missing)} untranslated of {len([m for m in catalog if m.id])}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
