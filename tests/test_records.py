"""Recorded results (results/): written only from a clean tree, keyed by overrides, marked stale when the code the
runs depended on changes, and shown on the robustness page."""
import subprocess

import pytest

from iclbook import paths, provenance, records, seeds
from iclbook.evidence import pages
from iclbook.chapters import get


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A throwaway git checkout standing in for the repository (records, fingerprints and commits read it)."""
    root = tmp_path / "repo"
    (root / "chapters").mkdir(parents=True)
    (root / "iclbook").mkdir()
    (root / "chapters" / "04_modular_arithmetic.py").write_text("# the chapter\n")
    (root / "iclbook" / "claims.py").write_text("CRITERION = 0.5\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    _commit(root)
    monkeypatch.setattr(paths, "repo_root", lambda: root)
    monkeypatch.setattr(provenance, "repo_root", lambda: root)
    monkeypatch.setenv("ICLBOOK_BUILD", str(tmp_path / "build"))
    return root


def _commit(root):
    git = ["git", "-C", str(root), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)


def _runs(seeds_, values):
    files = ["chapters/04_modular_arithmetic.py", "iclbook/claims.py"]
    fp = records.fingerprint(files)
    return {s: {"claims": [{"id": "1b", "kind": "paper", "statement": "unseen tasks solved", "criterion": "≥ 0.5",
                            "expected_at": ["cpu", "gpu"], "value": v, "holds": v >= 0.5}],
                "provenance": {"fingerprint": fp, "depends_on": files, "code": "abc", "params": {"seed": s},
                               "executor": "local:2", "threads": 1, "device": "cpu", "cpu_model": "Test CPU",
                               "torch": "2.13.0", "wall_seconds": 60.0}}
            for s, v in zip(seeds_, values)}


def _record(params, label="", values=(0.9, 0.3, 0.7)):
    ch = get("04")
    runs = _runs([0, 1, 2], values)
    table = seeds.seed_table(ch, "cpu", params, runs)
    return records.write(records.make_record(table, runs, label, provenance.code_version()))


def test_a_record_turns_stale_when_a_file_it_depends_on_changes(repo):
    path = _record({})
    page = pages.robustness_page()
    assert "## 04. " in page and "2 of 3" in page and "Stale" not in page and path.exists()
    (repo / "iclbook" / "claims.py").write_text("CRITERION = 0.4\n")  # the criterion moved after the record
    _commit(repo)
    page = pages.robustness_page()
    assert "Stale: recorded at commit" in page and "the chapter has changed since" in page


def test_a_dirty_tree_cannot_write_a_record(repo):
    (repo / "iclbook" / "new_module.py").write_text("x = 1\n")  # untracked, under a source folder
    with pytest.raises(records.RecordError, match="clean tree"):
        _record({})
    with pytest.raises(records.RecordError, match="clean tree"):
        seeds.run_seeds(get("04"), "cpu", [0], record=True)


def test_records_with_different_overrides_both_survive(repo):
    a = _record({})
    b = _record({"batch": 256}, label="batch 256")
    c = _record({"batch": 512}, label="batch 512")
    assert len({a, b, c}) == 3 and all(p.exists() for p in (a, b, c))
    recs = records.load_all("04_modular_arithmetic")
    assert {r["label"] for r in recs} == {"", "batch 256", "batch 512"}
    assert records.holds_k_of_n("04", "1b") == "2 of 3"
    assert records.holds_k_of_n("04", "1b", profile="ci") == "no record"


def test_seeds_from_different_code_or_failed_seeds_are_refused(repo):
    ch = get("04")
    runs = _runs([0, 1], (0.9, 0.8))
    runs[1]["provenance"]["fingerprint"] = "0000"
    with pytest.raises(records.RecordError, match="different code"):
        records.make_record(seeds.seed_table(ch, "cpu", {}, runs), runs, "", provenance.code_version())
    runs = {**_runs([0], (0.9,)), 1: {"error": "boom"}}
    with pytest.raises(records.RecordError, match="did not finish"):
        records.make_record(seeds.seed_table(ch, "cpu", {}, runs), runs, "", provenance.code_version())


def test_prose_comments_and_docstrings_leave_the_fingerprint_alone_but_code_does_not():
    base = '"""Module docstring."""\nimport math\n\n# %% [markdown]\n# Some prose.\n\n# %% tags=["parameters"]\n' \
           'x = 1  # trailing\ns = """\n# inside a string\n"""\n\ndef f():\n    """Why."""\n    return math.pi\n'
    code = records.code_text(base)
    assert "Some prose" not in code and "Why" not in code and "Module docstring" not in code
    assert "# inside a string" in code and '# %% tags=["parameters"]' in code
    same = [base.replace("Some prose.", "Better prose,\n# over two lines."),
            base.replace('"""Why."""', '"""Why, at more length\n    and on two lines."""'),
            base.replace("import math\n", "import math\n\n\n# a new comment\n")]
    assert all(records.code_text(v) == code for v in same)
    changed = [base.replace("x = 1", "x = 2"), base.replace("# inside", "# changed inside"),
               base.replace('tags=["parameters"]', 'tags=["other"]'), base.replace("math.pi", "math.e")]
    assert all(records.code_text(v) != code for v in changed)


def test_a_prose_edit_keeps_a_record_fresh(repo):
    _record({})
    chapter = repo / "chapters" / "04_modular_arithmetic.py"
    chapter.write_text(chapter.read_text() + "# %% [markdown]\n# A clearer sentence about the figure.\n")
    _commit(repo)
    assert "Stale" not in pages.robustness_page()
    chapter.write_text(chapter.read_text() + "threshold = 0.4\n")
    _commit(repo)
    assert "Stale: recorded at commit" in pages.robustness_page()


def test_a_record_whose_models_all_came_from_the_store_says_so(repo):
    rec = records.make_record(seeds.seed_table(get("04"), "cpu", {}, _runs([0], (0.9,))), _runs([0], (0.9,)), "",
                              provenance.code_version())
    assert "run store" not in records.provenance_line(rec)
    rec["provenance"]["0"]["trained_entries"] = 0
    assert "every model read from the run store" in records.provenance_line(rec)


def test_render_only_files_leave_a_fingerprint_unchanged(repo):
    """A figure module draws and computes no ledger value: changing it keeps a record fresh; a module that
    computes does not."""
    figs = repo / "iclbook" / "experiments" / "toy_figures.py"
    figs.parent.mkdir()
    figs.write_text("def figure(x):\n    return x\n")
    files = ["chapters/04_modular_arithmetic.py", "iclbook/claims.py", "iclbook/experiments/toy_figures.py"]
    before = records.fingerprint(files)
    figs.write_text("def figure(x):\n    return 2 * x\n")
    assert records.fingerprint(files) == before
    (repo / "iclbook" / "claims.py").write_text("CRITERION = 0.4\n")
    assert records.fingerprint(files) != before


def test_a_member_modules_files_are_read_from_the_source():
    """The code a study member runs: the same list in any process, its imports followed, figures left out."""
    from iclbook.evidence.fingerprint import module_files

    files = module_files("iclbook.experiments.modular_arithmetic_members")
    assert {"iclbook/experiments/modular_arithmetic.py", "iclbook/train.py", "iclbook/tasks/modular.py",
            "iclbook/experiments/modular_arithmetic_claims.py"} <= set(files)
    assert not any(f.endswith("_figures.py") or f.startswith("iclbook/evidence/") for f in files)


def test_render_only_cells_leave_the_code_unchanged_and_only_render():
    """A chapter cell tagged "render-only" drops out of the code (a new one keeps every record fresh); and every such
    cell in the chapters only imports from iclbook.evidence or another render-only module (a chapter's figures) and
    calls ch.md / ch.show or a function it imported."""
    import ast
    from pathlib import Path

    import jupytext

    from iclbook.evidence.fingerprint import code_text, render_only

    chapter = '# %%\nx = 1\n\n# %% tags=["remove-input", "render-only"]\nfrom iclbook.evidence import studies\n' \
              'studies.show(ch, "a")\n\n# %%\ny = x\n'
    assert code_text(chapter) == code_text('# %%\nx = 1\n\n# %%\ny = x\n')
    assert code_text(chapter.replace('"render-only"', '"other"')) != code_text('# %%\nx = 1\n\n# %%\ny = x\n')
    allowed_calls = {"md", "show"}
    for path in sorted(Path(__file__).resolve().parents[1].glob("chapters/[0-9][0-9]_*.py")):
        for cell in jupytext.read(path).cells:
            if cell.cell_type != "code" or "render-only" not in cell.metadata.get("tags", []):
                continue
            evidence_names = set()
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.ImportFrom):
                    assert node.module and (node.module.startswith("iclbook.evidence") or render_only(
                        node.module.replace(".", "/") + ".py")), (path.name, cell.source)
                    evidence_names |= {a.asname or a.name for a in node.names}
                    continue
                assert isinstance(node, ast.Expr) and isinstance(node.value, ast.Call), (path.name, cell.source)
                fn = node.value.func
                assert isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name), (path.name, cell.source)
                assert (fn.value.id == "ch" and fn.attr in allowed_calls) or fn.value.id in evidence_names, \
                    (path.name, cell.source)


DECLARATION = '''"""Chapter 9: parameters."""
from ..profiles import param as _p

PARAMS = (
    _p("steps", int, 10, 100, 1000, "steps", low=1),
    _p("width", int, 8, 16,
       [32, 64], "width"),  # a value over two lines
)
'''


def test_a_declaration_counts_at_the_records_profile_only(repo):
    """Issue 37: resizing the `gpu` column keeps `ci` and `cpu` records fresh; the profile's own column, or any other
    code of the declaration, makes them stale."""
    from iclbook.evidence import fingerprint as fpr

    decl = repo / "iclbook" / "chapters" / "toy.py"
    decl.parent.mkdir()
    decl.write_text(DECLARATION)
    files = ["iclbook/chapters/toy.py", "iclbook/claims.py"]
    before = {p: fpr.fingerprint(files, profile=p) for p in ("ci", "cpu", "gpu")}
    assert "_p(\"width\", int, 8, _, _, \"width\")" in fpr.declaration_code(DECLARATION, "ci").replace("\n", "").replace(
        "       ", " ")
    decl.write_text(DECLARATION.replace("1000", "4000").replace("[32, 64]", "[32]"))
    after = {p: fpr.fingerprint(files, profile=p) for p in ("ci", "cpu", "gpu")}
    assert after["ci"] == before["ci"] and after["cpu"] == before["cpu"] and after["gpu"] != before["gpu"]
    assert fpr.fingerprint(files) != fpr.fingerprint(files, profile="cpu")  # whole: the old rule
    decl.write_text(DECLARATION.replace(", 100,", ", 200,"))
    assert fpr.fingerprint(files, profile="cpu") != before["cpu"] and fpr.fingerprint(files, profile="ci") == before["ci"]
    decl.write_text(DECLARATION.replace("low=1", "low=2"))
    assert all(fpr.fingerprint(files, profile=p) != before[p] for p in before)
    with pytest.raises(ValueError, match="profile"):
        fpr.declaration_code(DECLARATION, "tpu")


def test_a_record_reads_its_declaration_at_its_profile(repo):
    """A new record is written under the profile rule, and only its own profile's values make it stale."""
    from iclbook.evidence import fingerprint as fpr

    path = _record({})
    rec = __import__("json").loads(path.read_text())
    assert rec["fingerprint_of"] == fpr.PROFILE_RULE and not records.is_stale(rec)
    assert records.fingerprint(rec["depends_on"], profile="cpu") == rec["fingerprint"]
    old = dict(rec, fingerprint_of="code", fingerprint=records.fingerprint(rec["depends_on"]))
    assert not records.is_stale(old)  # a record of the old rule is read by the old rule
