"""tools/migrate_records.py: a record moves to a new rule only when its files at its commit give its stored
fingerprint, and a study's members move with it."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import migrate_records as mig  # noqa: E402

from iclbook.evidence import fingerprint as fpr  # noqa: E402

DECL = b'P = [param("steps", int, 10, 100, 1000, "training steps")]\n'
FILES = {"iclbook/chapters/toy.py": DECL, "iclbook/toy.py": b"x = 1  # code\n"}


def read(rel: str) -> bytes | None:
    return FILES.get(rel)


def _study(fp: str) -> dict:
    return {"profile": "cpu", "fingerprint_of": "code", "fingerprint": fp, "depends_on": sorted(FILES),
            "points": [{"members": {"1000": {"provenance": {"fingerprint": fp}}}}]}


def test_profile_migration_moves_a_matching_study_and_its_members():
    old = fpr.fingerprint(sorted(FILES), read)
    meta = _study(old)
    assert mig.to_profile(meta, read) is True
    new = fpr.fingerprint(sorted(FILES), read, profile="cpu")
    assert meta["fingerprint"] == new != old and meta["fingerprint_of"] == fpr.PROFILE_RULE
    assert meta["points"][0]["members"]["1000"]["provenance"]["fingerprint"] == new
    assert mig.to_profile(meta, read) is None  # already moved


def test_a_record_whose_files_at_its_commit_do_not_match_is_left():
    meta = _study("0" * 16)
    assert mig.to_profile(meta, read) is False and meta["fingerprint"] == "0" * 16


def test_byte_to_code_migration_checks_the_byte_hash_first():
    meta = {"fingerprint": mig.byte_fingerprint(sorted(FILES), read), "depends_on": sorted(FILES)}
    assert mig.to_code(meta, read) is True and meta["fingerprint_of"] == "code"
    assert mig.to_code({"fingerprint": "f" * 16, "depends_on": sorted(FILES)}, read) is False


def test_an_unknown_migration_is_refused(capsys):
    assert mig.main(["bytes"]) == 2 and "code,render-only,profile" in capsys.readouterr().err
