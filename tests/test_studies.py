"""Studies: Wilson intervals, rate criteria that can fail, member-by-member records that resume without counting a
member twice and refuse members of other code, and their rendering."""
import json
import sys

import pytest

from iclbook import paths, provenance
from iclbook.evidence import pages, studies
from iclbook.evidence.studies import RateClaim, Study, StudyError, rate_at, rate_rise, wilson

TOY = '''
CALLS = []

def member(point, seed, profile):
    import os
    CALLS.append((point["x"], seed))
    stop = os.environ.get("TOY_STOP_AFTER")
    if stop is not None and len(CALLS) > int(stop):
        raise KeyboardInterrupt("interrupted")
    return {"solved": seed % 2 == 0 or point["x"] > 1, "acc": 0.1 * seed}
'''


def test_wilson_interval_matches_known_values():
    lo, hi = wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = wilson(0, 8)  # upper bound z²/(n + z²)
    assert lo == pytest.approx(0.0, abs=1e-12) and hi == pytest.approx(1.959964**2 / (8 + 1.959964**2), abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def _curve(counts: dict[int, tuple[int, int]]) -> dict:
    """A study record with k of n solved at each x."""
    pts = []
    for x, (k, n) in counts.items():
        members = {str(i): {"solved": i < k} for i in range(n)}
        pts.append({"point": {"x": x}, "members": members, "k": k, "n": n, "interval": list(wilson(k, n))})
    return {"points": pts}


def test_rate_rise_fails_flat_and_overlapping_and_holds_on_a_clear_rise():
    crit = rate_rise("x", 1 / 8, 1 / 2, 8)
    assert not crit(_curve({8: (4, 8), 44: (4, 8)}))[1]  # flat
    assert not crit(_curve({8: (1, 8), 44: (4, 8)}))[1]  # a rise whose intervals overlap
    assert not crit(_curve({8: (0, 4), 44: (4, 4)}))[1]  # too few members
    assert crit(_curve({8: (0, 8), 20: (3, 8), 44: (8, 8)}))[1]  # clear rise: [0, 0.32] against [0.68, 1]


def test_rate_at_an_end_of_the_curve():
    crit = rate_at("x", "max", "solved", 0.5, 8)
    assert crit(_curve({8: (0, 8), 44: (4, 8)}))[1] and not crit(_curve({8: (8, 8), 44: (3, 8)}))[1]
    assert not rate_at("x", "min", "solved", 0.5, 8)(_curve({8: (7, 7), 44: (8, 8)}))[1]  # 7 < 8 members
    with pytest.raises(ValueError, match="end"):
        rate_at("x", "middle", "solved", 0.5, 8)


@pytest.fixture
def toy_study(tmp_path, monkeypatch):
    """A two-point study whose member is a toy function, in a throwaway results folder on a clean 'commit'."""
    (tmp_path / "toy_member.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("toy_member", None)
    monkeypatch.setattr(paths, "repo_root", lambda: tmp_path)
    monkeypatch.setattr(provenance, "code_version", lambda: "c0ffee")
    monkeypatch.setenv("ICLBOOK_EXECUTOR", "inline")
    study = Study("toy", "04", "ci", ({"x": 1}, {"x": 2}), 3, "toy_member:member", ("solved", "acc"), "solved",
                  claims=(RateClaim("r", "paper", "rises", "rate_rise", rate_rise("x", 0.5, 0.9, 3)),),
                  first_seed=10, description="a toy.")
    from iclbook import studies_run
    monkeypatch.setattr(studies_run, "registry", lambda: {("04", "toy"): study})
    return study, studies_run


def test_an_interrupted_study_resumes_without_counting_a_member_twice(toy_study, monkeypatch):
    study, run = toy_study
    monkeypatch.setenv("TOY_STOP_AFTER", "4")
    with pytest.raises(KeyboardInterrupt):
        run.run_study("04", "toy")
    rec = json.loads(run.path(study).read_text())  # the four finished members were kept, one at a time
    assert [r["n"] for r in rec["points"]] == [2, 2]  # seed-major: a cut sitting compares its points on equal seeds
    assert all(p["cpu_capability"] for p in rec["provenance"].values())  # the kernels, whose rounding differs
    monkeypatch.delenv("TOY_STOP_AFTER")
    import toy_member
    toy_member.CALLS.clear()
    rec = run.run_study("04", "toy")
    assert len(toy_member.CALLS) == 2  # only the missing members ran
    assert [(r["k"], r["n"]) for r in rec["points"]] == [(2, 3), (3, 3)]  # seeds 10, 11, 12: even ones solve at x = 1
    assert rec["claims"][0]["holds"] is False and rec["claims"][0]["value"].startswith("2/3")
    rec = run.run_study("04", "toy", members=4)  # extending adds seed 13 at each point, nothing twice
    assert [r["n"] for r in rec["points"]] == [4, 4] and sorted(rec["points"][0]["members"]) == ["10", "11", "12", "13"]


def test_a_study_refuses_members_of_other_code_and_a_dirty_tree(toy_study, monkeypatch):
    study, run = toy_study
    rec = run.run_study("04", "toy")
    path = run.path(study)
    rec["fingerprint"] = "0" * 16  # as if its members had run on other code
    path.write_text(json.dumps(rec))
    with pytest.raises(StudyError, match="never merged"):
        run.run_study("04", "toy", members=4)
    with pytest.raises(StudyError, match="other code"):
        studies.add_member(rec, study, {"x": 1}, 99, {"solved": True, "acc": 0.0}, {"fingerprint": "f" * 16})
    assert run.run_study("04", "toy", restart=True)["fingerprint"] != "0" * 16
    with pytest.raises(StudyError, match="already counted"):
        studies.add_member(rec, study, {"x": 1}, 10, {"solved": True, "acc": 0.0}, {"fingerprint": rec["fingerprint"]})
    monkeypatch.setattr(provenance, "code_version", lambda: "c0ffee+dirty")
    from iclbook.evidence.records import RecordError
    with pytest.raises(RecordError, match="clean tree"):
        run.run_study("04", "toy")


def test_a_recorded_study_renders_with_rates_intervals_and_claims(toy_study):
    study, run = toy_study
    run.run_study("04", "toy")
    page = pages.robustness_page()
    assert "*Study `toy`* at `ci`" in page and "| x = 1 | 2 of 3 | [0.21, 0.94] |" in page
    assert "| r: rises | paper |" in page and "iclbook study 04 toy" in page
    fig = studies.figure(json.loads(run.path(study).read_text()), "x")
    assert fig.axes[0].get_xlabel() == "x"


def test_the_cli_lists_and_refuses_unknown_studies(toy_study, capsys):
    from iclbook.cli import main
    assert main(["study", "04"]) == 0 and "toy: a toy." in capsys.readouterr().out
    assert main(["study", "04", "nope"]) == 2 and "declared: ['toy']" in capsys.readouterr().err


def test_chapter_4_studies_are_declared_with_fresh_seeds():
    """The declared studies build, use member seeds that no chapter run used (the chapters use 0-9), and the
    screen's rule adopts a candidate only with MARGIN more solvers at a similar cost."""
    from iclbook.experiments import modular_arithmetic_studies as ms
    assert set(ms.STUDIES) == {"recipe-screen", "solve-rate", "depth", "gpu-recipe"}
    assert all(st.first_seed >= 1000 for st in ms.STUDIES.values())
    rec = {"points": [{"point": {"n_id": 40, "recipe": r}, "k": k, "n": 6} for r, k in
                      (("today", 3), ("constant-lr", 5), ("grokfast", 4), ("shared-xy", 5))],
           "provenance": {f"n_id = 40, recipe = {r} | {s}": {"wall_seconds": w} for r, w in
                          (("today", 100), ("constant-lr", 105), ("grokfast", 100), ("shared-xy", 150))
                          for s in range(6)}}
    assert ms.adopted(rec) == ("constant-lr", True)  # shared-xy solves as often but costs 1.5x
    rec["points"][1]["k"] = 4
    assert ms.adopted(rec) == ("today", False)  # one more solver is not enough
    rec["points"][1]["k"] = 5
    for s in range(6):  # constant-lr's members cost twice today's; four of them were read from the run store
        rec["provenance"][f"n_id = 40, recipe = constant-lr | {s}"] = \
            {"wall_seconds": 0.5, "trained_entries": 0} if s < 4 else {"wall_seconds": 200}
    assert ms.adopted(rec) == ("today", False)  # reading from the store does not make a recipe cheap


def test_a_chapter_section_shows_the_recorded_study_or_how_to_record_it(toy_study):
    study, run = toy_study
    assert "not recorded yet: run `iclbook study 04 toy`" in studies.section("04_modular_arithmetic", "toy")
    run.run_study("04", "toy")
    assert "| x = 2 | 3 of 3 |" in studies.section("04_modular_arithmetic", "toy")


def test_the_rate_ledger_reads_verdicts_from_the_record_and_marks_stale_ones(toy_study):
    """Issue 33: a study's rate claims enter the chapter's page under its ledger, each with its study and commit;
    a study not recorded is named with its command, and a record of other code is marked stale."""
    study, run = toy_study
    assert "Not recorded yet: `toy` (`iclbook study 04 toy`)" in studies.ledger("04_modular_arithmetic", ["toy"])
    rec = run.run_study("04", "toy")
    page = studies.ledger("04_modular_arithmetic", ["toy"])
    assert f"`toy` at `{rec['commit'][:10]}`" in page and "stale" not in page
    assert all(f"| {c['id']} | {c['statement']} |" in page for c in rec["claims"]) and rec["claims"]
    path = run.path(study)
    import json
    data = json.loads(path.read_text())
    data["fingerprint"] = "0" * 16  # as if its members had run on other code
    path.write_text(json.dumps(data))
    assert "(**stale**)" in studies.ledger("04_modular_arithmetic", ["toy"])


def test_the_gpu_recipe_rehearsal_fails_when_the_gpu_recipe_does_not_learn():
    from iclbook.experiments.modular_arithmetic_studies import GPU_RECIPE, _rehearsal_claim

    def rec(gpu_learned, gpu_solved, cpu_solved):
        def pt(extra, learned, solved):
            members = {str(s): {"learned": s < learned, "solved": s < solved} for s in range(2)}
            return {"point": {"n_id": 40, **extra}, "members": members, "k": solved, "n": 2}
        return {"points": [pt({}, 2, cpu_solved), pt(GPU_RECIPE, gpu_learned, gpu_solved)]}

    assert _rehearsal_claim(rec(2, 1, 1))[1] and _rehearsal_claim(rec(2, 2, 0))[1]
    assert not _rehearsal_claim(rec(1, 1, 1))[1]  # a member stayed on the plateau of its own tasks
    assert not _rehearsal_claim(rec(2, 0, 1))[1]  # it solves unseen tasks less often than the cpu recipe


def test_a_studys_code_includes_the_chapters_parameter_declaration():
    """A member reads its profile's values from the chapter's declaration by name: a changed profile value must make
    the study stale, although no import names that file."""
    from iclbook.experiments.modular_arithmetic_studies import STUDIES
    from iclbook.studies_run import code_of

    _, files = code_of(STUDIES["gpu-recipe"])
    assert "iclbook/chapters/modular_arithmetic.py" in files and "iclbook/experiments/modular_arithmetic.py" in files


def test_a_member_whose_code_changed_while_it_ran_is_refused(toy_study, monkeypatch):
    """The fingerprint a member reports is taken from the files on disk when it finishes: a member module edited
    mid-run does not join the record under the old code's name."""
    study, run = toy_study
    from iclbook.evidence import fingerprint as fpr
    monkeypatch.setattr(run, "code_of", lambda st: ("a" * 16, ["iclbook/claims.py"]))
    monkeypatch.setattr(run, "fingerprint", lambda files, profile=None: "b" * 16)  # the code as the member finished
    with pytest.raises(StudyError, match="ran on other code"):
        run.run_study("04", "toy")
    assert fpr.fingerprint is not run.fingerprint


def test_related_lists_the_studies_rate_claims_about_a_ledger_claim(tmp_path, monkeypatch):
    from iclbook.evidence import records as rec_mod, studies
    monkeypatch.setattr(rec_mod, "results_dir", lambda: tmp_path)
    monkeypatch.setattr(studies, "is_stale", lambda record: record["study"] == "old")
    (tmp_path / "04_x").mkdir()
    claims = [{"id": "1b-rate", "holds": True, "value": "5/8 [0.31, 0.86] at n_id = 44"},
              {"id": "1bb-rate", "holds": True, "value": "x"}, {"id": "2-rate", "holds": False, "value": "flat (p 0.3)"}]
    for name in ("curve", "old"):
        (tmp_path / "04_x" / f"study-{name}.json").write_text(json.dumps({"study": name, "claims": claims, "points": []}))
    assert studies.related("04_x", "1b") == ["✓ 1b-rate 5/8 [0.31, 0.86] at n_id = 44 (curve)",
                                             "✓ 1b-rate 5/8 [0.31, 0.86] at n_id = 44 (old, stale)"]
    assert studies.related("04_x", "2") == ["✗ 2-rate flat (curve)", "✗ 2-rate flat (old, stale)"]
    assert studies.related("04_x", "3") == []


def test_each_point_shows_the_median_cost_of_its_members_that_trained():
    rec = {"study": "s", "chapter": "04", "profile": "cpu", "description": "d", "first_seed": 1000, "commit": "", "success": "ok",
           "keep": ["ok"], "claims": [],
           "points": [{"point": {"recipe": r}, "k": 1, "n": 3, "interval": [0.1, 0.9],
                       "members": {str(s): {"ok": s == 1} for s in range(3)}} for r in ("a", "b")],
           "provenance": {**{f"recipe = a | {s}": {"wall_seconds": w} for s, w in enumerate((60, 120, 600))},
                          **{f"recipe = b | {s}": {"wall_seconds": 30, "trained_entries": 0} for s in range(3)}}}
    md = studies.markdown(rec)
    assert "min per member |" in md
    assert "| recipe = a | 1 of 3 | [0.10, 0.90] | 2.0 |" in md  # the median of 1, 2 and 10 minutes
    assert "| recipe = b | 1 of 3 | [0.10, 0.90] | – |" in md  # read from the store: no training cost


def test_a_ladder_plots_each_value_against_training_compute_relative_to_the_cheapest():
    rec = {"study": "lad", "points": [
        {"point": {"n_embd": w, "steps": s}, "n": 2,
         "members": {"1": {"v": w / 32, "n_layer": 2}, "2": {"v": w / 32 + 1, "n_layer": 2}}}
        for w, s in ((32, 100), (64, 200))] + [{"point": {"n_embd": 128, "steps": 400}, "n": 0, "members": {}}]}
    assert studies.compute_of(rec, rec["points"][1], rec["points"][1]["members"]["1"], ("n_layer", "n_embd",
                                                                                         "steps")) == 2 * 64 * 200
    fig = studies.trend_figure(rec, ["v"], ("n_embd", "n_embd", "steps"))
    ax = fig.axes[0]
    bars = [c for c in ax.containers]  # one error bar per point with members
    assert len(bars) == 2
    xs = sorted(float(b.lines[0].get_xdata()[0]) for b in bars)
    assert xs == [1.0, 8.0]  # (64² × 200) / (32² × 100)
    means = sorted(float(b.lines[0].get_ydata()[0]) for b in bars)
    assert means == [1.5, 2.5]
    with pytest.raises(KeyError, match="'missing'"):
        studies.trend_figure(rec, ["v"], ("missing",))


def test_commit_puts_each_member_in_git_and_nothing_else(toy_study, monkeypatch, tmp_path):
    """--commit: every rewrite of the record is its own commit of that file alone; other staged work stays staged."""
    import subprocess

    study, run = toy_study
    for k, v in (("GIT_AUTHOR_NAME", "t"), ("GIT_AUTHOR_EMAIL", "t@t"), ("GIT_COMMITTER_NAME", "t"),
                 ("GIT_COMMITTER_EMAIL", "t@t")):
        monkeypatch.setenv(k, v)
    git = ["git", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "other.txt").write_text("staged, not the study's\n")
    subprocess.run([*git, "add", "toy_member.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "start"], check=True)
    subprocess.run([*git, "add", "other.txt"], check=True)
    run.run_study("04", "toy", git_commit=True)
    log = subprocess.run([*git, "log", "--format=%s", "--name-only"], capture_output=True, text=True).stdout
    assert log.count("results: toy study of chapter 04") == 6 and "6 of 6 members" in log and "1 of 6" in log
    assert "other.txt" not in log and log.count("results/") == 6
    staged = subprocess.run([*git, "diff", "--cached", "--name-only"], capture_output=True, text=True).stdout
    assert staged.strip() == "other.txt"


def test_an_incomplete_study_shows_its_claims_as_pending_not_failed():
    rec = {"study": "s", "chapter": "04", "profile": "cpu", "description": "d", "first_seed": 1000, "commit": "",
           "success": "ok", "keep": ["ok"], "members_per_point": 3, "provenance": {},
           "claims": [{"id": "r", "kind": "paper", "statement": "rises", "criterion": "c", "value": "too few",
                       "holds": False}],
           "points": [{"point": {"x": x}, "k": 1, "n": n, "interval": [0.1, 0.9],
                       "members": {str(s): {"ok": s == 0} for s in range(n)}} for x, n in ((1, 3), (2, 1))]}
    md = studies.markdown(rec)
    assert "In progress: 4 of 6 members" in md and "| too few | pending (4 of 6 members) |" in md and "✗" not in md
    rec["points"][1].update(n=3, members={str(s): {"ok": False} for s in range(3)})
    assert studies.verdict(rec, rec["claims"][0]) == "✗" and "In progress" not in studies.markdown(rec)
    rec["points"][0]["n"] = 4  # extended with --members 4 at one point: the other now lags
    assert studies.progress(rec) == (7, 8) and studies.verdict(rec, rec["claims"][0]).startswith("pending")


def _depth_rows(k1: int, learned1: int, k2: int, n: int = 8, wall1: float = 130.0, wall2: float = 120.0,
                stored2: bool = False):
    """A depth study (depth 1 at n_i.d. = 44) and a curve whose depth-2 point there has k2 of n solvers."""
    from iclbook.evidence.studies import wilson

    def row(point, k, learned):
        return {"point": point, "k": k, "n": n, "interval": list(wilson(k, n)),
                "members": {str(s): {"solved": s < k, "learned": s < learned} for s in range(n)}}
    one_pt, two_pt = {"n_id": 44, "recipe": "today", "n_layer": 1, "steps": 25000}, {"n_id": 44, "recipe": "today"}
    depth = {"points": [row(one_pt, k1, learned1)],
             "provenance": {f"{studies.point_key(one_pt)} | {s}": {"wall_seconds": wall1} for s in range(n)}}
    curve = {"points": [row({"n_id": 8, "recipe": "today"}, 0, n), row(two_pt, k2, n)],
             "provenance": {f"{studies.point_key(two_pt)} | {s}": {"wall_seconds": wall2,
                                                                   **({"trained_entries": 0} if stored2 else {})}
                            for s in range(n)}}
    return depth, curve


def test_claim_2_fails_where_depth_1_solves_or_the_intervals_overlap_and_holds_on_a_clear_gap(monkeypatch):
    """Claim 2 (depth 2 is the smallest depth that solves unseen tasks) as a rate: it must fail when depth 1 solves
    as often as depth 2, when the two rates' intervals overlap, and when depth 2 does not solve; it holds on 0 of 8
    against 8 of 8, and says when depth 1 did not even learn its own tasks."""
    from iclbook.experiments import modular_arithmetic_studies as ms
    cases = {(6, 8, 7): False, (1, 8, 5): False, (0, 8, 3): False, (0, 8, 8): True, (0, 0, 8): True}
    for (k1, learned1, k2), holds in cases.items():
        depth, curve = _depth_rows(k1, learned1, k2)
        monkeypatch.setattr(ms, "_curve", lambda curve=curve: curve)
        value, ok = ms._depth_claim(depth)
        assert ok is holds, (k1, learned1, k2, value)
        assert ("does not learn even its own tasks" in value) is (learned1 == 0)
    monkeypatch.setattr(ms, "_curve", lambda: None)
    assert ms._depth_claim(_depth_rows(0, 8, 8)[0])[1] is False  # no curve recorded yet: nothing to compare with


def test_the_depth_controls_time_check_reads_trained_members_only(monkeypatch):
    """control-time fails when the depth-1 controls ran for less time than the curve's depth-2 members, and a
    curve read back from the run store (no training time) cannot make it pass."""
    from iclbook.experiments import modular_arithmetic_studies as ms
    for wall1, wall2, stored2, holds in ((130, 120, False, True), (100, 120, False, False), (100, 120, True, False)):
        depth, curve = _depth_rows(0, 8, 8, wall1=wall1, wall2=wall2, stored2=stored2)
        monkeypatch.setattr(ms, "_curve", lambda curve=curve: curve)
        assert ms._control_time(depth)[1] is holds, (wall1, wall2, stored2)
    # the curve ran on two machines: the controls compare with its members on their own machine only
    depth, curve = _depth_rows(0, 8, 8, wall1=130, wall2=100)
    for s, prov in enumerate(curve["provenance"].values()):
        prov.update(cpu_model="A" if s % 2 else "B", wall_seconds=200 if s % 2 else 100)
    for prov in depth["provenance"].values():
        prov["cpu_model"] = "B"
    monkeypatch.setattr(ms, "_curve", lambda: curve)
    value, ok = ms._control_time(depth)
    assert ok and "on B: depth 1 median 2.2 min, depth 2 median 1.7 min" in value  # pooled, the median is 200 s
    for prov in depth["provenance"].values():
        prov["cpu_model"] = "C"  # no depth-2 member trained on C
    assert ms._control_time(depth) == ("no depth-2 member at n_i.d. = 44 trained on a machine of the controls (C)",
                                       False)


def test_the_curve_summary_reads_every_point_and_says_when_the_study_is_incomplete(monkeypatch):
    """The paragraph under a rate curve (issue 33: the curve beside the single-run phase diagram) gives k of n with
    the interval at every point, in the order of x, and says when members are missing or the record is stale."""
    rec = _curve({44: (2, 3), 8: (0, 3)})
    rec.update(study="s", commit="a" * 40, first_seed=2000, success="solved", members_per_point=8)
    monkeypatch.setattr(studies, "is_stale", lambda r: False)
    text = studies.curve_summary(rec, "x")
    lo, hi = wilson(2, 3)
    assert text.index("0 of 3") < text.index(f"2 of 3 [{lo:.2f}, {hi:.2f}] at x = 44")
    assert "6 of 16 members recorded, so its claims are pending" in text and "`aaaaaaaaaa`" in text
    rec["members_per_point"] = 3
    assert "all 6 members" in studies.curve_summary(rec, "x") and "pending" not in studies.curve_summary(rec, "x")
    monkeypatch.setattr(studies, "is_stale", lambda r: True)
    assert "**stale**" in studies.curve_summary(rec, "x")


def test_the_claims_summary_reads_verdicts_and_values_from_the_record(monkeypatch):
    """The line a chapter's section shows for a study's claims gives each named claim's value and verdict from the
    record, and reads "pending" (never a verdict) while members are missing."""
    rec = _curve({44: (2, 3), 8: (0, 3)})
    rec.update(study="s", commit="b" * 40, members_per_point=3, claims=[
        {"id": "2-rate", "value": "depth 1: 0/8", "holds": True}, {"id": "t", "value": "long enough", "holds": False}])
    monkeypatch.setattr(studies, "is_stale", lambda r: False)
    text = studies.claims_summary(rec, ["2-rate", "t"])
    assert "claim 2-rate ✓: depth 1: 0/8" in text and "claim t ✗: long enough" in text and "`bbbbbbbbbb`" in text
    assert "6 of 6 members" in text
    rec["members_per_point"] = 8
    assert "claim 2-rate pending (6 of 16 members)" in studies.claims_summary(rec, ["2-rate"])
    monkeypatch.setattr(studies, "is_stale", lambda r: True)
    assert "**stale**" in studies.claims_summary(rec, ["t"])
