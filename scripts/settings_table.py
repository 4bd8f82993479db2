"""Rewrite the Settings table in README.md from scheduler/config.py's SETTINGS.

    python scripts/settings_table.py

The table is the block of `|` lines that follows the "## Settings" heading; the text around it
stays as it is. tests/test_config.py fails when the two disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scheduler.config import markdown_table  # noqa: E402

README = Path(__file__).resolve().parent.parent / "README.md"


def main() -> int:
    lines = README.read_text(encoding="utf-8").splitlines(keepends=True)
    heading = lines.index("## Settings\n")
    start = next(i for i in range(heading, len(lines)) if lines[i].startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    lines[start:end] = [markdown_table()]
    README.write_text("".join(lines), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
