"""The status page ("How this book was built") is generated from the chapters' claims.json, never typed."""
import json
import subprocess

from iclbook import provenance
from iclbook import status as status_module
from iclbook.chapters import CHAPTERS
from iclbook.claims import Ledger, below
from iclbook.paths import outputs_dir
from iclbook.status import status_page


def _ledger(tmp_path, monkeypatch, wall: float):
    monkeypatch.setenv("ICLBOOK_BUILD", str(tmp_path))
    ch = CHAPTERS[0]
    led = Ledger(ch.id, "ci")
    led.add("1", "x", 0.1, below(1), kind="check")
    led.provenance = {"profile": "ci", "seed": 3, "overrides": {"d": 16}, "wall_seconds": wall, "executor": "inline",
                      "threads": 2, "device": "cpu", "device_name": "Test CPU", "trained_entries": 0,
                      "timings": {"training": 30.0}, "code": "abc123"}
    return led.save(outputs_dir("ci", ch.slug) / "claims.json")


def test_status_page_reads_each_chapters_provenance(tmp_path, monkeypatch):
    path = _ledger(tmp_path, monkeypatch, wall=90.0)
    page = status_page("ci")
    row = next(line for line in page.splitlines() if line.startswith(f"| {CHAPTERS[0].id}."))
    assert "seed 3" in row and "d = 16" in row and "1.5 min (training 0.5 min)" in row and "all from the store" in row
    assert "Test CPU" in row and "inline" in row and "abc123" in row
    assert all(f"| {c.id}. {c.title} | not executed at `ci` |" in page for c in CHAPTERS[1:])
    data = json.loads(path.read_text())
    data["provenance"]["wall_seconds"] = 600.0  # change the ledger: the page follows
    path.write_text(json.dumps(data))
    assert "10.0 min" in status_page("ci") and "1.5 min" not in status_page("ci")
    assert "logical cores" in page and "papermill" in page and "jupyter-book" in page


def test_cpu_model_is_a_name_not_the_architecture():
    name = provenance.cpu_model()
    assert name and name not in ("x86_64", "CPU", "")


def test_untracked_source_file_marks_the_code_dirty(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / "iclbook").mkdir(parents=True)
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "iclbook" / "a.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "a"], check=True)
    monkeypatch.setattr(provenance, "repo_root", lambda: repo)
    assert not provenance.code_version().endswith("+dirty")
    (repo / "notes.txt").write_text("outside the source folders\n")
    assert not provenance.code_version().endswith("+dirty")
    (repo / "iclbook" / "b.py").write_text("y = 2\n")  # untracked, but it can change a run
    assert provenance.code_version().endswith("+dirty")


def test_the_dirty_legend_appears_only_for_a_dirty_tree(monkeypatch):
    """A clean build must not read as dirty: the legend of ``+dirty`` follows the commit only when it applies."""
    monkeypatch.setattr(status_module, "code_version", lambda: "abc123")
    assert "abc123 (a clean tree)" in status_page("ci") and "uncommitted" not in status_page("ci")
    monkeypatch.setattr(status_module, "code_version", lambda: "abc123+dirty")
    assert "abc123+dirty (`+dirty`: the tree had uncommitted changes" in status_page("ci")
