"""Every parameter set a chapter's declaration allows runs to the end, or is refused before any training.

For each chapter, parameter sets are drawn with a fixed seed from a small box: each scalar between its low bound
and its `ci` value, plus the boundary values and every choice, with tiny step counts so that a set costs seconds
of training. Each set must either execute to the end or be refused by the declaration (a ParameterError naming a
parameter, before a kernel starts): never a traceback from the middle of a chapter.
"""
import math
import random

import pytest

from iclbook import pipeline
from iclbook.chapters import CHAPTERS, get
from iclbook.profiles import ParameterError

pytestmark = pytest.mark.chapter

# per chapter: overrides that make a run cheap (fixed, never sampled)
TINY = {
    "01": {"T_grid": [64, 1024, 2048], "seeds": 2, "d_grid": [4, 8], "mc_samples": 2000, "gpt_steps": 20},
    "02": {"steps": 20, "n_eval": 64, "n_linear": 3, "n_log": 3, "llc_chains": 1, "llc_burn_in": 2,
           "llc_draws": 6, "llc_n": 256},
    "03": {"steps": 20, "episodes": 8, "depth_episodes": 4, "control_depths": [2], "seeds": 1},
    "04": {"steps": 20, "n_eval": 32, "n_ckpt": 2},
    "05": {"steps": 20, "variant_steps": 20, "dense_until": 10, "n_test": 256, "L_test": [2, 4]},
}
SETS_PER_CHAPTER = 2  # one at the box's low corner, one drawn at random
SAMPLE_SEED = 20261201


def box_value(param, rnd: random.Random, corner: bool):
    """A value between the parameter's low bound and its `ci` value (the low bound itself at the corner)."""
    ci = param.per_profile["ci"]
    if param.choices is not None:
        return rnd.choice(param.choices)
    if param.kind is bool:
        return rnd.choice([True, False])
    if param.kind not in (int, float) or param.low is None:
        return ci

    def one(v):
        lo = param.low
        if corner:
            return type(v)(lo) if param.kind is int else float(lo)
        if param.kind is int:
            return rnd.randint(int(lo), int(max(lo, v)))
        if lo > 0 and v > 0:
            return math.exp(rnd.uniform(math.log(lo), math.log(max(lo, v))))
        return rnd.uniform(lo, max(lo, v))
    if param.is_list:
        return sorted({one(v) for v in ci}) if ci else ci
    return one(ci)


def parameter_sets(chapter_id: str) -> list[dict]:
    ch = get(chapter_id)
    rnd = random.Random(f"{SAMPLE_SEED}-{chapter_id}")
    sets = []
    for i in range(SETS_PER_CHAPTER):
        values = {p.name: box_value(p, rnd, corner=i == 0) for p in ch.params.params
                  if p.name not in TINY[chapter_id] and p.name != "seed"}
        values["seed"] = rnd.randint(0, 2**32 - 1)
        sets.append({**values, **TINY[chapter_id]})
    return sets


@pytest.mark.parametrize("chapter,i", [(c.id, i) for c in CHAPTERS for i in range(SETS_PER_CHAPTER)])
def test_a_parameter_set_from_the_box_runs_or_is_refused_first(chapter, i, tmp_path, monkeypatch):
    monkeypatch.setenv("ICLBOOK_BUILD", str(tmp_path))
    monkeypatch.setenv("ICLBOOK_STORE", str(tmp_path / "store"))
    params = parameter_sets(chapter)[i]
    try:
        get(chapter).params.resolve("ci", params)
    except ParameterError as err:  # refused by the declaration, naming a parameter, before any kernel
        assert "parameter" in str(err)
        return
    pipeline.execute(get(chapter), "ci", params, force=True)  # must run to the end
