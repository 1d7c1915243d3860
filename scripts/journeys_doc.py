"""Write docs/journeys.md from tests/bot/journeys/*.yml (and print the count of journeys)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bot.test_journeys import render_docs, summary  # noqa: E402

if __name__ == "__main__":
    if "--summary" in sys.argv:
        print(summary())
    else:
        (ROOT / "docs" / "journeys.md").write_text(render_docs(), encoding="utf-8")
        print(f"wrote docs/journeys.md ({summary()})")
