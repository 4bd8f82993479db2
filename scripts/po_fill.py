"""Fill Finnish and Swedish translations into the catalogs from JSON files.

    python scripts/po_fill.py scheduler/translations/src/*.json

Each JSON file maps an English msgid to {"fi": "...", "sv": "..."} (for a plural msgid, a list
of forms). The files in scheduler/translations/src/ (one per domain) are the source of truth:
`make messages` re-extracts the catalog and fills it from all of them, so .po files can always be
regenerated. English catalogs need nothing: the msgids are English.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent / "scheduler" / "translations"


def main(paths: list[str]) -> int:
    data: dict = {}
    for path in paths:
        data.update(json.loads(Path(path).read_text(encoding="utf-8")))
    missing = set()
    untranslated: dict[str, list[str]] = {}
    for lang in ("fi", "sv"):
        po_path = ROOT / lang / "LC_MESSAGES" / "messages.po"
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        for msgid, tr in data.items():
            if lang not in tr:
                continue
            msg = catalog.get(msgid)
            if msg is None:
                missing.add(msgid)
                continue
            msg.string = tuple(tr[lang]) if isinstance(tr[lang], list) else tr[lang]
            msg.flags.discard("fuzzy")
        for msg in catalog:
            if msg.id and not (msg.string if isinstance(msg.string, str) else all(msg.string)):
                untranslated.setdefault(lang, []).append(msg.id if isinstance(msg.id, str) else msg.id[0])
        with po_path.open("wb") as fh:
            write_po(fh, catalog, width=0, omit_header=False, sort_output=True, no_location=True)
    for m in sorted(missing):
        print("in a JSON file but not in the catalog (no longer used?):", m, file=sys.stderr)
    for lang, ids in untranslated.items():
        for m in ids:
            print(f"untranslated ({lang}):", m, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
