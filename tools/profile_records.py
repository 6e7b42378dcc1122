"""Move records and studies to the profile rule of December 2026 (``iclbook.evidence.fingerprint.PROFILE_RULE``).

Before it, a record's fingerprint hashed each chapter declaration (``iclbook/chapters/<name>.py``) whole, so resizing
the `gpu` column made every `ci` and `cpu` record of the chapter stale (issue 37). For each record and study this
reads its files *at its commit* (``git show``), checks that their fingerprint under the old rule equals the stored one
(so that the commit really is the code the members ran), and then stores the fingerprint of the same files with the
declarations read at the record's profile; a study's members' fingerprints move with it. A record whose check fails
is left as it was and reported. Run once: ``python tools/profile_records.py``.
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


def convert(meta: dict) -> bool | None:
    """Move ``meta`` (a record or a study) to the profile rule; None when it is there already, False (and ``meta``
    untouched) when its files at its commit do not give its stored fingerprint."""
    if meta.get("fingerprint_of") != "code":
        return None
    read = at_commit(meta["commit"].removesuffix("+dirty"))
    old = meta["fingerprint"]
    if fpr.fingerprint(meta["depends_on"], read) != old:
        return False
    new = fpr.fingerprint(meta["depends_on"], read, profile=meta["profile"])
    meta.update(fingerprint=new, fingerprint_of=fpr.PROFILE_RULE)
    for row in meta.get("points", []):  # a study: its members carry the fingerprint they were merged under
        for member in row["members"].values():
            if member.get("provenance", {}).get("fingerprint") == old:
                member["provenance"]["fingerprint"] = new
    for prov in meta.get("provenance", {}).values():
        if isinstance(prov, dict) and prov.get("fingerprint") == old:
            prov["fingerprint"] = new
    return True


def main() -> int:
    bad = 0
    for path in sorted(results_dir().glob("*/*.json")):
        data = json.loads(path.read_text())
        done = convert(data)
        if done is None:
            continue
        if not done:
            print(f"{path}: its files at {data['commit'][:10]} do not match its fingerprint; left")
            bad += 1
            continue
        path.write_text(json.dumps(data, indent=2, default=str) + "\n")
        print(f"{path}: fingerprint {data['fingerprint']}, stale now: {is_stale(data)}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
