"""Every chapter executed with papermill at the `ci` profile and seed 1 (not the profile's seed 0, which the claims
were designed on), its ledger checked, then the book built with -W -n."""
import fcntl
import html
import json
import re

import nbformat
import pytest

from iclbook import pipeline
from iclbook.chapters import CHAPTERS, get
from iclbook.cli import main
from iclbook.paths import using
from iclbook.profiles import ParameterError

pytestmark = pytest.mark.chapter
CI_SEED = 1


@pytest.fixture(scope="session")
def ci_root(tmp_path_factory, worker_id):
    """One build folder and store for the whole test run, shared by the pytest-xdist workers (each chapter is
    executed once, by whichever worker asks first; the others wait on its lock and find it up to date)."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if worker_id != "master" else base) / "ci-build"
    root.mkdir(exist_ok=True)
    return root


def _in_build(root):
    return using(root, root / "store")


def executed(root, chapter_id: str) -> str | None:
    """Execute one chapter at `ci` into the shared build folder (once per test run); its error, or None."""
    ch = get(chapter_id)
    err_file = root / f"{ch.slug}.error"
    with open(root / f"{ch.slug}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not err_file.exists():
            with _in_build(root):
                try:
                    pipeline.execute(ch, "ci", {"seed": CI_SEED})
                except Exception as err:  # noqa: BLE001 - reported by the test that asked
                    err_file.write_text(f"{type(err).__name__}: {err}")
    return err_file.read_text() or None if err_file.exists() else None


@pytest.mark.parametrize("chapter", [c.id for c in CHAPTERS])
def test_chapter_executes_and_its_ci_claims_hold(ci_root, chapter):
    build = ci_root
    error = executed(build, chapter)
    assert error is None, f"chapter {chapter} failed: {error}"
    ch = get(chapter)
    out = build / "ci" / "outputs" / ch.slug
    claims = json.loads((out / "claims.json").read_text())
    assert claims["profile"] == "ci" and claims["claims"], "empty ledger"
    prov = claims["provenance"]
    assert prov["params"]["seed"] == prov["seed"] == CI_SEED and prov["profile"] == "ci" and prov["threads"] >= 1
    assert prov["torch"] and prov["code"] and prov["device"] == "cpu" and prov["wall_seconds"] > 0
    failing = [c for c in claims["claims"] if "ci" in c["expected_at"] and not c["holds"]]
    assert not failing, "claims expected at ci that did not hold: " + "; ".join(
        f"{c['id']} {c['statement']}: {c['value']} (criterion {c['criterion']})" for c in failing)
    assert list((out / "figures").glob("*.png")), "no figures saved"
    nb = nbformat.read(build / "ci" / "book" / "chapters" / f"{ch.slug}.ipynb", as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors


def test_book_builds_with_every_chapter_figure_and_ledger(ci_root):
    build = ci_root
    failures = [c.id for c in CHAPTERS if executed(build, c.id) is not None]
    if failures:
        pytest.skip(f"chapters failed: {failures}")
    with _in_build(build):
        index = pipeline.build("ci")
    html_dir = index.parent
    assert index.exists()
    intro = (html_dir / "chapters" / "intro.html").read_text()
    for ch in CHAPTERS:  # the claims table says what each chapter claims, with the value and verdict of its last run
        ledger = json.loads((build / "ci" / "outputs" / ch.slug / "claims.json").read_text())
        assert ledger["claims"][0]["statement"][:30] in html.unescape(intro), ch.slug
    assert "paper claims:" in intro and "✓ holds" in intro and "fail where expected" in intro
    staged_intro = (build / "ci" / "book" / "chapters" / "intro.md").read_text()
    status = (build / "ci" / "book" / "chapters" / "status.md").read_text()
    for ch in CHAPTERS:  # the tally is computed from the ledgers, kinds apart; the status page has every chapter
        ledger = json.loads((build / "ci" / "outputs" / ch.slug / "claims.json").read_text())
        kinds = [c["kind"] for c in ledger["claims"]]
        assert set(kinds) <= {"paper", "extension", "check"} and "paper" in kinds, ch.slug
        held = sum(c["holds"] for c in ledger["claims"] if c["kind"] == "paper")
        assert f"| {ch.id}. {ch.title} | {held} of {kinds.count('paper')} |" in staged_intro, ch.slug
        assert f"| {ch.id}. {ch.title} | `ci`, seed {CI_SEED} |" in status, ch.slug
    assert (html_dir / "chapters" / "status.html").exists()
    for ch in CHAPTERS:
        page = (html_dir / "chapters" / f"{ch.slug}.html").read_text()
        assert len(re.findall(r"<img[^>]+src=\"[^\"]*\.png\"", page)) >= 2, f"{ch.slug}: figures missing"
        assert "criterion" in page and "expected at" in page, f"{ch.slug}: ledger table missing"
        assert "Traceback" not in page
        assert "_static/iclbook.css" in page, "the book's CSS (code wrapping) is not linked"
    assert (html_dir / "_static" / "mathjax" / "tex-chtml.js").exists(), "MathJax is not vendored"


def test_bad_parameter_fails_before_any_kernel_starts(tmp_path, monkeypatch):
    monkeypatch.setenv("ICLBOOK_BUILD", str(tmp_path))
    with pytest.raises(ParameterError, match="parameter 'd': got 1, allowed: int in \\[2, 512\\]"):
        pipeline.execute(get("01"), "ci", {"d": 1})
    assert not list(tmp_path.rglob("*.ipynb"))


def test_cli_reports_bad_parameters(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ICLBOOK_BUILD", str(tmp_path))
    assert main(["run", "01", "--profile", "ci", "-p", "dd", "16"]) == 2
    assert "unknown parameter(s) 'dd'" in capsys.readouterr().err
    assert main(["list"]) == 0
    assert "T_grid" in capsys.readouterr().out


def test_papermill_rejects_unknown_parameter_in_the_notebook(tmp_path):
    """Plain papermill (no iclbook CLI) still stops in the first cells with a clear message."""
    import jupytext
    import papermill

    nb = jupytext.read(get("01").source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    with pytest.raises(papermill.PapermillExecutionError, match="unknown parameter"):
        papermill.execute_notebook(nb, str(tmp_path / "out.ipynb"), parameters={"profile": "ci", "dd": 3},
                                   kernel_name="python3", progress_bar=False)


def test_modular_gpu_profile_code_path_runs_on_cpu(tmp_path, monkeypatch):
    """No GPU is lent to CI: run chapter 4's `gpu` profile (p = 29, width 256, stacked grid, the depth-4 model) with
    tiny step and evaluation counts, so that a shape or indexing bug on that path shows here and not on a GPU."""
    monkeypatch.setenv("ICLBOOK_BUILD", str(tmp_path))
    monkeypatch.setenv("ICLBOOK_STORE", str(tmp_path / "store"))
    pipeline.execute(get("04"), "gpu", {"steps": 10, "n_ids": [8, 64], "alphas": [0.5], "n_eval": 32, "n_ckpt": 2,
                                        "batch": 16})
    claims = json.loads((tmp_path / "gpu" / "outputs" / get("04").slug / "claims.json").read_text())
    assert claims["profile"] == "gpu"
    assert {c["id"] for c in claims["claims"]} >= {"1a", "2", "5"}
