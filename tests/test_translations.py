"""Every visible text is translated: each msgid in the catalogs has a Finnish and a Swedish form,
and the translations keep the placeholders of the English text."""

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent / "scheduler" / "translations"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _catalog(lang):
    with (ROOT / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


@pytest.mark.parametrize("lang", ["fi", "sv"])
def test_every_message_is_translated(lang):
    missing = []
    wrong = []
    for msg in _catalog(lang):
        if not msg.id:
            continue
        ids = msg.id if isinstance(msg.id, tuple) else (msg.id,)
        strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
        if not all(strings) or "fuzzy" in msg.flags:
            missing.append(ids[0])
            continue
        if set(PLACEHOLDER.findall(ids[0])) != set(PLACEHOLDER.findall(strings[0])):
            wrong.append(ids[0])
    assert missing == [], f"untranslated ({lang}): {missing[:20]}"
    assert wrong == [], f"placeholders differ ({lang}): {wrong[:20]}"


def test_catalog_is_up_to_date_with_the_sources():
    """The .pot holds every msgid the JSON sources translate (no stale sources)."""
    import json

    with (ROOT / "messages.pot").open("rb") as fh:
        pot = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    sources = {}
    for path in (ROOT / "src").glob("*.json"):
        sources.update(json.loads(path.read_text(encoding="utf-8")))
    stale = sorted(set(sources) - pot)
    assert len(stale) < 1, f"translated but no longer used: {stale[:20]}"


def test_swedish_names_the_expert_panel_one_way():
    """The Swedish pages call the panel "expertgrupp" everywhere (the title, e-mails and feeds
    do); the navigation used "sakkunniggrupp" for the same thing."""
    odd = [m.id for m in _catalog("sv") if m.id and "sakkunniggrupp" in str(m.string).lower()]
    assert odd == []
