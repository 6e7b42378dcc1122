"""The pipeline never leaves a notebook that reads as good after a failed run, and skips up-to-date chapters."""
import papermill
import pytest

from iclbook import pipeline
from iclbook.profiles import Param

NOTEBOOK = '''# %% tags=["parameters"]
profile = None
fail = None

# %%
if fail:
    raise RuntimeError("boom")
print("ok")
'''


@pytest.fixture
def toy(make_toy):
    return make_toy(NOTEBOOK, Param("fail", bool, {"ci": False, "cpu": False, "gpu": False}, "raise in cell 2"))


def test_failed_chapter_leaves_no_good_looking_notebook(toy):
    with pytest.raises(papermill.PapermillExecutionError, match="boom"):
        pipeline.execute(toy, "ci", {"fail": True})
    out = pipeline.notebook_path(toy, "ci")
    assert not out.exists() and not out.with_suffix(".stamp").exists()
    assert out.with_name("99_toy.failed.ipynb").exists()
    assert not list(out.parent.glob(".*running*"))


def test_success_replaces_failure_and_is_then_up_to_date(toy, capsys):
    out = pipeline.execute(toy, "ci")
    assert out.exists() and not out.with_name("99_toy.failed.ipynb").exists()
    mtime = out.stat().st_mtime_ns
    pipeline.execute(toy, "ci")
    assert "up to date" in capsys.readouterr().out and out.stat().st_mtime_ns == mtime
    pipeline.execute(toy, "ci", {"fail": False})  # other explicit parameters: a new fingerprint, so it reruns
    assert out.stat().st_mtime_ns != mtime
