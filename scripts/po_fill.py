"""Fill Finnish and Swedish translations into the catalogs from a JSON file.

    python scripts/po_fill.py translations.json

The JSON maps each English msgid to {"fi": "...", "sv": "..."}. Existing translations are
replaced; msgids not in a catalog are reported (run `make messages` first). English catalogs
need nothing: the msgids are English.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent / "scheduler" / "translations"


def main(path: str) -> int:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    missing = set()
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
            msg.string = tr[lang]
            msg.flags.discard("fuzzy")
        with po_path.open("wb") as fh:
            write_po(fh, catalog, width=0, omit_header=False, sort_output=True, no_location=True)
    for m in sorted(missing):
        print("not in catalog:", m, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
