"""Move records and studies in ``results/`` to a new fingerprint rule, checking each one at its commit first.

Each migration reads a record's files *at the record's commit* (``git show``), checks that their fingerprint under
the old rule equals the stored one (so that the commit really is the code the runs used), and only then stores the
fingerprint of the same files under the new rule. A record whose check fails is left as it was and reported.
The migrations, in the order they were run (December 2026; each once, each a no-op on records already moved):

- ``code``: from a hash of the files' bytes to their code only (no prose, blank lines or docstrings);
- ``render-only``: modules that only draw or render (``fingerprint.RENDER_ONLY``) leave ``depends_on``;
- ``profile``: a chapter's declaration counts at the record's own profile (``fingerprint.PROFILE_RULE``).

Usage: ``python tools/migrate_records.py MIGRATION`` for every record and study, or
``python tools/migrate_records.py MIGRATION --ledgers CLAIMS_JSON …`` for finished chapter runs (their provenance's
``code`` names the commit), so that ``iclbook seeds --collect --record`` can record them.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from iclbook.evidence import fingerprint as fpr  # noqa: E402
from iclbook.evidence.records import is_stale, results_dir  # noqa: E402

Reader = Callable[[str], "bytes | None"]


def at_commit(commit: str) -> Reader:
    def read(rel: str) -> bytes | None:
        out = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{rel}"], capture_output=True)
        return out.stdout if out.returncode == 0 else None
    return read


def byte_fingerprint(files: list[str], read: Reader) -> str:
    """The first scheme: SHA-256 over paths and raw bytes of every file."""
    h = hashlib.sha256()
    for rel in sorted(files):
        data = read(rel)
        h.update(rel.encode() + b"\0" + (data if data is not None else b"<missing>") + b"\0")
    return h.hexdigest()[:16]


def to_code(meta: dict, read: Reader) -> bool | None:
    if meta.get("fingerprint_of") in ("code", fpr.PROFILE_RULE):
        return None
    if byte_fingerprint(meta["depends_on"], read) != meta["fingerprint"]:
        return False
    files = sorted(set(meta["depends_on"]) - set(fpr.RENDER_ONLY))
    meta.update(depends_on=files, fingerprint=fpr.fingerprint(files, read, skip=lambda f: False),
                fingerprint_of="code")
    return True


def to_render_only(meta: dict, read: Reader) -> bool | None:
    files = meta["depends_on"]
    if not any(fpr.render_only(f) for f in files):
        return None
    if fpr.fingerprint(files, read, skip=lambda f: False) != meta["fingerprint"]:
        return False
    kept = [f for f in files if not fpr.render_only(f)]
    meta.update(depends_on=kept, fingerprint=fpr.fingerprint(kept, read))
    return True


def to_profile(meta: dict, read: Reader) -> bool | None:
    if meta.get("fingerprint_of") != "code":
        return None
    old = meta["fingerprint"]
    if fpr.fingerprint(meta["depends_on"], read) != old:
        return False
    new = fpr.fingerprint(meta["depends_on"], read, profile=meta["profile"])
    meta.update(fingerprint=new, fingerprint_of=fpr.PROFILE_RULE)
    members = [m for row in meta.get("points", []) for m in row["members"].values()]  # a study's members
    for prov in [m.get("provenance", {}) for m in members] + list(meta.get("provenance", {}).values()):
        if isinstance(prov, dict) and prov.get("fingerprint") == old:
            prov["fingerprint"] = new
    return True


MIGRATIONS = {"code": to_code, "render-only": to_render_only, "profile": to_profile}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in MIGRATIONS:
        print(f"usage: migrate_records.py {{{','.join(MIGRATIONS)}}} [--ledgers CLAIMS_JSON …]", file=sys.stderr)
        return 2
    convert, rest = MIGRATIONS[argv[0]], argv[1:]
    ledgers = rest[:1] == ["--ledgers"]
    items = [(Path(n), "provenance") for n in rest[1:]] if ledgers else \
        [(p, None) for p in sorted(results_dir().glob("*/*.json"))]
    bad = 0
    for path, key in items:
        data = json.loads(path.read_text())
        meta = data[key] if key else data
        commit = (meta["code"] if key else meta["commit"]).removesuffix("+dirty")
        done = convert(meta, at_commit(commit))
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
