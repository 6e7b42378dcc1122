"""The claim × seed table: each claim's value and verdict per seed of one chapter, and "holds in k of n".

It is computed from the seeds' ledgers (``claims.json``) and is pure data: ``iclbook seeds`` writes it to the build
folder, and a record (``records``) keeps it in ``results/`` with its provenance.
"""
from __future__ import annotations

import time

from .. import claims as claims_mod
from ..chapters import Chapter


def seed_table(chapter: Chapter, profile: str, params: dict, runs: dict[int, dict]) -> dict:
    """{claims: [{id, statement, kind, expected_at, per_seed: {seed: {value, holds}}, holds_k, n}], seeds, errors}."""
    order: list[str] = []
    info: dict[str, dict] = {}
    for s, data in runs.items():
        for c in data.get("claims", []):
            if c["id"] not in info:
                order.append(c["id"])
                info[c["id"]] = {"id": c["id"], "statement": c["statement"], "criterion": c["criterion"],
                                 "kind": c.get("kind", "paper"), "expected_at": c["expected_at"], "per_seed": {}}
            info[c["id"]]["per_seed"][str(s)] = {"value": c["value"], "holds": c["holds"]}
    n = len(runs)
    for row in info.values():
        row["holds_k"] = sum(v["holds"] for v in row["per_seed"].values())
        row["n"] = n
    return {"chapter": chapter.id, "slug": chapter.slug, "title": chapter.title, "profile": profile,
            "params": params, "seeds": list(runs), "claims": [info[i] for i in order],
            "errors": {str(s): d["error"] for s, d in runs.items() if "error" in d},
            "seconds": {str(s): d.get("seconds") for s, d in runs.items()},
            "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def markdown(table: dict) -> str:
    """The claim × seed table: each claim's value per seed (✓ holds, ✗ not) and "holds in k of n"."""
    seeds = [str(s) for s in table["seeds"]]
    over = ", ".join(f"{k} = {v!r}" for k, v in table["params"].items()) or "none"
    lines = [f"**{table['chapter']}. {table['title']}** at `{table['profile']}` (overrides: {over}; finished "
             f"{table['finished']})", "",
             "| claim | kind | expected at | " + " | ".join(f"seed {s}" for s in seeds) + " | holds in |",
             "|---|---|---|" + "---|" * len(seeds) + "---|"]
    for row in table["claims"]:
        cells = []
        for s in seeds:
            v = row["per_seed"].get(s)
            cells.append("–" if v is None else f"{claims_mod.fmt_value(v['value'])} {'✓' if v['holds'] else '✗'}")
        lines.append(f"| {row['id']}: {row['statement']} | {row.get('kind', 'paper')} | {', '.join(row['expected_at'])} | "
                     + " | ".join(cells) + f" | {row['holds_k']} of {row['n']} |")
    lines += ["", kind_summary(table)]
    for s, err in table["errors"].items():
        lines.append(f"\nSeed {s} did not finish: `{err}`")
    return "\n".join(lines)


def kind_summary(table: dict) -> str:
    """Per kind: how many claims held in every seed, among those expected at the table's profile."""
    parts = []
    for kind in claims_mod.KINDS:
        rows = [r for r in table["claims"] if r.get("kind", "paper") == kind and table["profile"] in r["expected_at"]]
        if rows:
            every = sum(r["holds_k"] == r["n"] for r in rows)
            parts.append(f"{kind}: {every} of {len(rows)} expected at `{table['profile']}` hold in every seed")
    return ("; ".join(parts) + ".") if parts else ""


