"""Apply Japanese translations kept as `T = {msgid: msgstr}` dicts in .i18n/*.py to the catalogue.

.venv/bin/python scripts/i18n_apply.py .i18n/*.py
"""

import sys

from babel.messages.pofile import read_po, write_po

from web.catalogue import CATALOGUE


def main(paths: list[str]) -> int:
    translations: dict[str, str] = {}
    for path in paths:
        namespace: dict = {}
        exec(open(path, encoding="utf-8").read(), namespace)  # noqa: S102 (our own files)
        translations.update(namespace["T"])
    with CATALOGUE.open("rb") as f:
        catalog = read_po(f, locale="ja")
    applied = 0
    for message in catalog:
        if message.id and message.id in translations:
            message.string = translations[message.id]
            message.flags.discard("fuzzy")
            applied += 1
    with CATALOGUE.open("wb") as f:
        write_po(f, catalog, width=100, ignore_obsolete=True)
    missing = [m.id for m in catalog if m.id and not m.string]
    print(f"applied {applied}; still untranslated: {missing}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
