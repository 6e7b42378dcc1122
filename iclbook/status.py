"""The book's status page, "How this book was built": per chapter, what its run computed with and how long it
took, read from each chapter's ``claims.json`` provenance (never typed), and the build's environment.

As executable books that readers trust do (QuantEcon's lectures end with such a page), it answers the questions a
reader has before rerunning anything: how long, on what, with which versions, and what was reused.
"""
from __future__ import annotations

import time

from . import claims as claims_mod
from .chapters import CHAPTERS
from .paths import outputs_dir
from .provenance import code_version, machine, versions


def _minutes(seconds) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f} min"


def chapter_rows(profile: str) -> tuple[list[str], float]:
    """One Markdown table row per chapter, and the chapters' total wall time in seconds."""
    rows, total = [], 0.0
    for ch in CHAPTERS:
        path = outputs_dir(profile, ch.slug) / "claims.json"
        if not path.exists():
            rows.append(f"| {ch.id}. {ch.title} | not executed at `{profile}` |" + " |" * 7)
            continue
        prov = claims_mod.load(path).get("provenance", {})
        wall = prov.get("wall_seconds")
        total += wall or 0.0
        over = ", ".join(f"{k} = {v!r}" for k, v in prov.get("overrides", {}).items()) or "none"
        parts = "; ".join(f"{k} {_minutes(v)}" for k, v in prov.get("timings", {}).items())
        trained = prov.get("trained_entries")
        reused = "?" if trained is None else ("all from the store" if trained == 0 else f"{trained} trained")
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(path.stat().st_mtime))
        rows.append(f"| {ch.id}. {ch.title} | `{prov.get('profile', profile)}`, seed {prov.get('seed', '?')} "
                    f"| {over} | {_minutes(wall)}" + (f" ({parts})" if parts else "") + f" | {prov.get('executor', '?')} "
                    f"| {prov.get('threads', '?')} | {prov.get('device', '?')} ({prov.get('device_name', '?')}) "
                    f"| {reused} | {prov.get('code', '?')}, {when} UTC |")
    return rows, total


def status_page(profile: str) -> str:
    """The page's generated part: the chapters' table, the totals and the build's environment."""
    rows, total = chapter_rows(profile)
    v, m, code = versions(), machine(), code_version()
    header = ("| chapter | profile, seed | overrides | wall time (parts) | executor | threads | device | models "
              "| code, finished |\n|---|---|---|---|---|---|---|---|---|")
    env = [f"- **Chapters' execution, in total:** {_minutes(total)} at `{profile}` (the sum of the rows above; "
           "rendering the HTML comes on top).",
           f"- **Code:** {code}" + (" (`+dirty`: the tree had uncommitted changes or untracked files in its "
                                     "source folders)." if code.endswith("+dirty") else " (a clean tree)."),
           "- **Versions:** " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
           f"- **Machine:** {m['cpu_model']}, {m['cpu_cores']} logical cores"
           + (f"; GPU {m['gpu']}" if m["gpu"] else "; no GPU") + "."]
    return header + "\n" + "\n".join(rows) + "\n\n" + "\n".join(env) + "\n"
