"""Recorded results: claim × seed tables kept in the repository (``results/``), with their provenance.

A record is what ``iclbook seeds … --record`` writes: the chapter, profile, seeds, overrides and label, every
claim's value and verdict per seed, each seed's provenance, and a *fingerprint* of the code the runs depended on.
A pilot is a record with overrides and a label; the book's plain per-seed tables are records without them.

The fingerprint hashes the *code* of the chapter's notebook and of every ``iclbook`` module its kernel had imported
when the ledger was saved (so the declaration, the experiment modules, ``claims.py`` and whatever else the chapter
used). Code means the text without blank lines, full-line comments (a jupytext chapter's prose is comments) and
docstrings: a record measures what the code computed, so fixing a sentence in the chapter must not make a 40-minute
record stale, while any change to a statement does. Modules that only read, draw and render results
(``fingerprint.RENDER_ONLY``) are left out: they compute no ledger value. When the code changes, the book marks the record *stale*: recorded at
commit X, the chapter has changed since. A record is only written from a clean tree, so that its commit names the
code that produced it.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

from .. import paths
from ..atomic import atomic_write_text
from . import tables
from .fingerprint import PROFILE_RULE, fingerprint, profile_of


def results_dir() -> Path:
    return paths.repo_root() / "results"


def variant(params: dict[str, Any], label: str = "") -> str:
    """A file-name-safe key for a set of overrides and a label ("plain" for none), so that different overrides
    never overwrite each other."""
    if not params and not label:
        return "plain"
    text = "_".join(f"{k}={v}" for k, v in sorted(params.items()))
    text = re.sub(r"[^A-Za-z0-9=.,+-]+", "-", "_".join(filter(None, [label, text])))[:60].strip("-")
    digest = hashlib.sha256(json.dumps([sorted(params.items()), label], default=str).encode()).hexdigest()[:8]
    return f"{text}-{digest}"


def record_path(slug: str, profile: str, params: dict[str, Any], label: str = "") -> Path:
    return results_dir() / slug / f"{profile}-{variant(params, label)}.json"


class RecordError(RuntimeError):
    """A record that cannot be written honestly (dirty tree, seeds from different code, failed seeds)."""


def make_record(table: dict, runs: dict[int, dict], label: str, commit: str) -> dict:
    """The record of a claim × seed table (``seeds.seed_table``) and the seeds' ledgers."""
    if commit.endswith("+dirty") or commit in ("", "unknown"):
        raise RecordError("a record needs a clean tree (commit or stash your changes first): the record names the "
                          f"commit that produced it, and the tree is at {commit or 'no commit'}")
    if table["errors"]:
        raise RecordError(f"seeds {sorted(table['errors'])} did not finish; a record holds finished seeds only")
    prov = {str(s): d.get("provenance", {}) for s, d in runs.items()}
    prints = {s: (p.get("fingerprint"), tuple(p.get("depends_on", []))) for s, p in prov.items()}
    if len(set(prints.values())) != 1 or None in {fp for fp, _ in prints.values()}:
        raise RecordError("the seeds ran on different code (or before fingerprints were recorded); rerun them "
                          "with --force: " + ", ".join(f"seed {s}: {fp}" for s, (fp, _) in prints.items()))
    fp, files = next(iter(prints.values()))
    if fingerprint(list(files)) != fp:
        raise RecordError("the code has changed since these seeds ran; rerun them with --force")
    fp = fingerprint(list(files), profile=table["profile"])  # the record reads its own profile's declarations
    keep = ("code", "params", "executor", "threads", "device", "device_name", "cpu_model", "cpu_cores", "torch",
            "wall_seconds", "finished", "trained_entries")
    return {
        "chapter": table["chapter"], "slug": table["slug"], "title": table["title"], "profile": table["profile"],
        "seeds": table["seeds"], "overrides": table["params"], "label": label,
        "claims": [{k: row[k] for k in ("id", "kind", "statement", "criterion", "expected_at", "per_seed",
                                        "holds_k", "n")} for row in table["claims"]],
        "fingerprint": fp, "fingerprint_of": PROFILE_RULE, "depends_on": list(files), "commit": commit,
        "recorded": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "provenance": {s: {k: p.get(k) for k in keep} for s, p in prov.items()},
    }


def write(record: dict) -> Path:
    path = record_path(record["slug"], record["profile"], record["overrides"], record["label"])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=2, default=str) + "\n")
    return path


def load_all(slug: str | None = None, studies: bool = False) -> list[dict]:
    """Every record in ``results/`` (of one chapter), newest first, and with ``studies`` the studies too
    (``studies.py``; a study has a ``study`` key and the label ``study: <name>``)."""
    pattern = f"{slug}/*.json" if slug else "*/*.json"
    recs = [json.loads(p.read_text()) for p in results_dir().glob(pattern)]
    recs = [r for r in recs if studies or "study" not in r]
    return sorted(recs, key=lambda r: r["recorded"], reverse=True)


def is_stale(record: dict) -> bool:
    return fingerprint(record["depends_on"], profile=profile_of(record)) != record["fingerprint"]


def provenance_line(record: dict) -> str:
    p = next(iter(record["provenance"].values()), {})
    walls = [v.get("wall_seconds") or 0 for v in record["provenance"].values()]
    over = ", ".join(f"{k} = {v!r}" for k, v in record["overrides"].items()) or "none"
    line = (f"Recorded {record['recorded']} at commit `{record['commit'][:10]}`; overrides: {over}; seeds "
            f"{', '.join(map(str, record['seeds']))}; {p.get('device', '?')} ({p.get('cpu_model') or p.get('device_name')}), "
            f"executor {p.get('executor', '?')}, torch {p.get('torch', '?')}; "
            f"{sum(walls) / 60:.0f} min in all" + _from_store(record) + ".")
    if is_stale(record):
        line += (f" **Stale: recorded at commit `{record['commit'][:10]}`; the chapter has changed since** (rerun "
                 "the command below to renew it).")
    return line


def _from_store(record: dict) -> str:
    """Say so when the seeds read every model from the run store: their wall time is not what training costs."""
    trained = [p.get("trained_entries") for p in record["provenance"].values()]
    return " (every model read from the run store, trained by earlier runs of the same code)" \
        if trained and all(t == 0 for t in trained) else ""


def command(record: dict) -> str:
    over = "".join(f" -p {k} {v if not isinstance(v, list) else ','.join(map(str, v))}"
                   for k, v in record["overrides"].items())
    label = f" --label {json.dumps(record['label'])}" if record["label"] else ""
    return (f"iclbook seeds {record['chapter']} --profile {record['profile']} --seeds "
            f"{' '.join(map(str, record['seeds']))}{over} --record{label}")


def markdown(record: dict) -> str:
    """A record as the book shows it: title line, provenance (with staleness), the table, the command (a study:
    its own rendering, ``studies.markdown``)."""
    if "study" in record:
        from . import studies  # studies build on records: imported here, where a record turns out to be a study

        return studies.markdown(record)
    table = {**record, "params": record["overrides"], "errors": {}, "finished": record["recorded"]}
    title = f"*{record['label']}*: " if record["label"] else ""
    return (f"{title}{provenance_line(record)}\n\n{tables.markdown(table)}\n\n"
            f"Rerun: `{command(record)}`")


def holds_k_of_n(chapter_id: str, claim_id: str, profile: str = "cpu") -> str:
    """The introduction's column: how often a claim held in the newest plain record at ``profile``."""
    for rec in load_all():
        if rec["chapter"] == chapter_id and rec["profile"] == profile and not rec["overrides"] and not rec["label"]:
            row = next((c for c in rec["claims"] if c["id"] == claim_id), None)
            if row is None:
                return "not in the record"
            return f"{row['holds_k']} of {row['n']}" + (" (stale)" if is_stale(rec) else "")
    return "no record"
