"""Move the records in ``results/`` to the code-only fingerprint (``iclbook.records.fingerprint``).

Records written before December 2026's change hashed their files' bytes, prose included. For each record this
reads its files *at the record's commit* (``git show``), checks that the old byte hash of those files equals the
stored fingerprint (so the commit really is the code the runs used), and then stores the code fingerprint of the
same files. A record whose check fails is left as it was and reported. Run once:
``python tools/refingerprint_records.py``.

``--ledgers CLAIMS_JSON …`` does the same for chapter runs that finished under the old scheme (their provenance's
``code`` names the commit), so that ``iclbook seeds --collect --record`` can record them.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from iclbook import records  # noqa: E402


def at_commit(commit: str):
    def read(rel: str) -> bytes | None:
        out = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{rel}"], capture_output=True)
        return out.stdout if out.returncode == 0 else None
    return read


def byte_fingerprint(files: list[str], read) -> str:
    """The scheme before the change: SHA-256 over paths and raw bytes of every file."""
    h = hashlib.sha256()
    for rel in sorted(files):
        data = read(rel)
        h.update(rel.encode() + b"\0" + (data if data is not None else b"<missing>") + b"\0")
    return h.hexdigest()[:16]


def convert(meta: dict, commit: str) -> bool:
    """Replace ``meta``'s byte fingerprint by the code fingerprint of the same files at ``commit``; False (and
    ``meta`` untouched) when the files at ``commit`` do not match the stored fingerprint."""
    read = at_commit(commit)
    if byte_fingerprint(meta["depends_on"], read) != meta["fingerprint"]:
        return False
    files = sorted(set(meta["depends_on"]) - set(records.RENDER_ONLY))
    meta.update(depends_on=files, fingerprint=records.fingerprint(files, read), fingerprint_of="code")
    return True


def ledgers(paths: list[str]) -> int:
    bad = 0
    for name in paths:
        data = json.loads(Path(name).read_text())
        prov = data["provenance"]
        if prov.get("fingerprint_of") == "code":
            continue
        if prov["code"].endswith("+dirty") or not convert(prov, prov["code"]):
            print(f"{name}: its files at {prov['code'][:10]} do not match its fingerprint; left")
            bad += 1
            continue
        Path(name).write_text(json.dumps(data, indent=2, default=str))
        print(f"{name}: code fingerprint {prov['fingerprint']}")
    return 1 if bad else 0


def main() -> int:
    if sys.argv[1:2] == ["--ledgers"]:
        return ledgers(sys.argv[2:])
    bad = 0
    for path in sorted(records.results_dir().glob("*/*.json")):
        rec = json.loads(path.read_text())
        if rec.get("fingerprint_of") == "code":
            continue
        if not convert(rec, rec["commit"]):
            print(f"{path.relative_to(ROOT)}: its files at {rec['commit'][:10]} do not match its fingerprint; left")
            bad += 1
            continue
        path.write_text(json.dumps(rec, indent=2, default=str) + "\n")
        print(f"{path.relative_to(ROOT)}: code fingerprint {rec['fingerprint']}, stale now: {records.is_stale(rec)}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
