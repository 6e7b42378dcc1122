"""The robustness page, *How often do the claims hold?*: every record and study in ``results/``, then the claim ×
seed tables of the current build folder."""
from __future__ import annotations

import json

from ..chapters import CHAPTERS
from ..paths import build_dir
from . import records, tables


def robustness_page() -> str:
    """Every record and study in ``results/``, grouped by chapter and profile, newest first, each with its provenance
    and staleness; then any claim × seed table of the current build folder, newest first."""
    parts = []
    for ch in CHAPTERS:
        recs = records.load_all(ch.slug, studies=True)
        for profile in sorted({r["profile"] for r in recs}, key=lambda p: ["cpu", "ci", "gpu"].index(p)):
            parts.append(f"## {ch.id}. {ch.title} at `{profile}`\n")
            parts += [records.markdown(r) for r in recs if r["profile"] == profile]
    built = sorted((build_dir() / "seeds").glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    if built:
        parts.append("## Tables computed in this build folder (not recorded)\n")
        parts += [tables.markdown(json.loads(p.read_text())) for p in built]
    if not parts:
        return ("*Nothing recorded yet: run `.venv/bin/iclbook seeds 04 --profile ci --seeds 0 1 2 --record` from a "
                "clean tree, then rebuild the book.*")
    return "\n\n".join(parts)
