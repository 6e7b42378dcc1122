"""Move records (and finished ledgers) to the render-only rule of December 2026 (``iclbook.evidence.fingerprint``).

Before it, a record's fingerprint also hashed the figure modules (``iclbook/experiments/*_figures.py``) and the
plotting style, which draw figures and compute no ledger value, so a change to a plot made hours of records stale.
For each record this reads its files *at the record's commit* (``git show``), checks that their code fingerprint
under the old rule (every file in ``depends_on``) equals the stored one, so that the commit really is the code the
runs used, and then stores the fingerprint of the same files under the new rule, with the render-only files
dropped from ``depends_on``. A record whose check fails is left as it was and reported. Run once:
``python tools/render_only_records.py``; ``--ledgers CLAIMS_JSON …`` does the same for finished chapter runs.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from iclbook.evidence import fingerprint as fpr  # noqa: E402
from iclbook.evidence.records import is_stale, results_dir  # noqa: E402
from refingerprint_records import at_commit  # noqa: E402  (this folder: the same reading of a file at a commit)


def convert(meta: dict, commit: str) -> bool | None:
    """Move ``meta`` (a record, or a ledger's provenance) to the new rule; None when it has no render-only file,
    False (and ``meta`` untouched) when its files at ``commit`` do not give its stored fingerprint."""
    files = meta["depends_on"]
    if not any(fpr.render_only(f) for f in files):
        return None
    read = at_commit(commit)
    if fpr.fingerprint(files, read, skip=lambda f: False) != meta["fingerprint"]:
        return False
    kept = [f for f in files if not fpr.render_only(f)]
    meta.update(depends_on=kept, fingerprint=fpr.fingerprint(kept, read))
    return True


def main(argv: list[str]) -> int:
    if argv[:1] == ["--ledgers"]:
        items = [(Path(n), "provenance") for n in argv[1:]]
    else:
        items = [(p, None) for p in sorted(results_dir().glob("*/*.json"))]
    bad = 0
    for path, key in items:
        data = json.loads(path.read_text())
        meta = data[key] if key else data
        commit = meta["code"] if key else meta["commit"]
        done = convert(meta, commit.removesuffix("+dirty"))
        if done is None:
            continue
        if not done:
            print(f"{path}: its files at {commit[:10]} do not match its fingerprint; left")
            bad += 1
            continue
        path.write_text(json.dumps(data, indent=2, default=str) + "\n")
        print(f"{path}: fingerprint {meta['fingerprint']}" + ("" if key else f", stale now: {is_stale(data)}"))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
