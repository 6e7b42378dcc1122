"""Recorded results: claim × seed tables kept in the repository (``results/``), with their provenance.

A record is what ``iclbook seeds … --record`` writes: the chapter, profile, seeds, overrides and label, every
claim's value and verdict per seed, each seed's provenance, and a *fingerprint* of the code the runs depended on.
A pilot is a record with overrides and a label; the book's plain per-seed tables are records without them.

The fingerprint hashes the *code* of the chapter's notebook and of every ``iclbook`` module its kernel had imported
when the ledger was saved (so the declaration, the experiment modules, ``claims.py`` and whatever else the chapter
used). Code means the text without blank lines, full-line comments (a jupytext chapter's prose is comments) and
docstrings: a record measures what the code computed, so fixing a sentence in the chapter must not make a 40-minute
record stale, while any change to a statement does. Modules that only read and render records (``RENDER_ONLY``)
are left out: they compute no ledger value. When the code changes, the book marks the record *stale*: recorded at
commit X, the chapter has changed since. A record is only written from a clean tree, so that its commit names the
code that produced it.
"""
from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from .atomic import atomic_write_text
from .paths import repo_root


def results_dir() -> Path:
    return repo_root() / "results"


# Modules that read, render or keep records and seed tables: a chapter imports them for its appendix, but no ledger
# value passes through them.
RENDER_ONLY = ("iclbook/records.py", "iclbook/seeds.py", "iclbook/status.py")


def dependencies(chapter_source: Path) -> list[str]:
    """The files a chapter's run depended on, relative to the repository: its notebook and the ``iclbook`` modules
    loaded in this process but ``RENDER_ONLY`` (call it in the chapter's kernel, after its last computation)."""
    root = repo_root()
    files = {str(Path(chapter_source).resolve().relative_to(root))}
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if f and (mod.__name__ == "iclbook" or mod.__name__.startswith("iclbook.")):
            try:
                files.add(str(Path(f).resolve().relative_to(root)))
            except ValueError:  # installed elsewhere: not this checkout's code
                continue
    return sorted(files - set(RENDER_ONLY))


def code_text(source: str) -> str:
    """A Python file's code: its lines without blank lines, full-line comments (but jupytext's cell marker of the
    ``parameters`` cell, after which papermill injects a run's parameters) and docstrings; lines inside other
    multi-line strings are kept as they are. Line numbers drop out, so moving prose never changes it. Source that
    does not parse is kept whole."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    docstrings: set[int] = set()
    inside_strings: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body and \
                isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and \
                isinstance(body[0].value.value, str):
            docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
        elif isinstance(node, (ast.Constant, ast.JoinedStr)) and node.end_lineno > node.lineno:
            inside_strings.update(range(node.lineno + 1, node.end_lineno + 1))
    kept = []
    for number, line in enumerate(source.splitlines(), start=1):
        if number in docstrings:
            continue
        bare = line.strip()
        if number not in inside_strings and (not bare or (bare.startswith("#") and not _parameters_marker(bare))):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept)


def _parameters_marker(line: str) -> bool:
    return line.startswith("# %%") and "parameters" in line


def file_code(rel: str, data: bytes | None) -> bytes:
    """What the fingerprint hashes of one file: its code (``code_text``) for Python, else its bytes."""
    if data is None:
        return b"<missing>"
    return code_text(data.decode()).encode() if rel.endswith(".py") else data


def fingerprint(files: list[str], read=None) -> str:
    """SHA-256 over the files' paths and code (``file_code``; a missing file hashes as missing). ``read(rel)``
    gives a file's bytes or None (default: this checkout's files), e.g. to fingerprint an earlier commit."""
    root = repo_root()
    if read is None:
        def read(rel: str) -> bytes | None:
            path = root / rel
            return path.read_bytes() if path.exists() else None
    h = hashlib.sha256()
    for rel in sorted(set(files) - set(RENDER_ONLY)):
        h.update(rel.encode() + b"\0" + file_code(rel, read(rel)) + b"\0")
    return h.hexdigest()[:16]


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
    keep = ("code", "params", "executor", "threads", "device", "device_name", "cpu_model", "cpu_cores", "torch",
            "wall_seconds", "finished", "trained_entries")
    return {
        "chapter": table["chapter"], "slug": table["slug"], "title": table["title"], "profile": table["profile"],
        "seeds": table["seeds"], "overrides": table["params"], "label": label,
        "claims": [{k: row[k] for k in ("id", "kind", "statement", "criterion", "expected_at", "per_seed",
                                        "holds_k", "n")} for row in table["claims"]],
        "fingerprint": fp, "fingerprint_of": "code", "depends_on": list(files), "commit": commit,
        "recorded": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "provenance": {s: {k: p.get(k) for k in keep} for s, p in prov.items()},
    }


def write(record: dict) -> Path:
    path = record_path(record["slug"], record["profile"], record["overrides"], record["label"])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=2, default=str) + "\n")
    return path


def load_all(slug: str | None = None) -> list[dict]:
    """Every record (of one chapter), newest first."""
    pattern = f"{slug}/*.json" if slug else "*/*.json"
    recs = [json.loads(p.read_text()) for p in results_dir().glob(pattern)]
    return sorted(recs, key=lambda r: r["recorded"], reverse=True)


def is_stale(record: dict) -> bool:
    return fingerprint(record["depends_on"]) != record["fingerprint"]


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
    """A record as the book shows it: title line, provenance (with staleness), the table, the command."""
    from .seeds import markdown as table_markdown

    table = {**record, "params": record["overrides"], "errors": {}, "finished": record["recorded"]}
    title = f"*{record['label']}*: " if record["label"] else ""
    return (f"{title}{provenance_line(record)}\n\n{table_markdown(table)}\n\n"
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
