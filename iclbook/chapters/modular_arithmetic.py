"""Chapter 4 (He et al. 2024): parameters of the chapter, one value per profile."""
from __future__ import annotations

from ..profiles import ParamSpec
from ..tasks.modular import TASK_RULES
from ..profiles import param as _p



def steps_for_p(base: dict, values: dict, overridden: set) -> dict:
    """More steps for a larger p: the plateau before even the few i.d. tasks are learned grows with the p² input
    pairs. At `ci` (800 steps, p = 7), p = 11 learned its 4 tasks by step 600 with one seed and only after step
    1400 with another, so 800 steps held claim 1a for one seed only; (11/7)² · 800 = 1976. Never fewer steps."""
    if "steps" in overridden or values["p"] <= base["p"]:
        return {}
    return {"steps": round(base["steps"] * (values["p"] / base["p"]) ** 2)}


PARAMS = ParamSpec(
    (
        _p("p", int, 7, 7, 29, "the modulus p (a prime; tasks are (a, b) ∈ Z_p²)", low=3, high=97),
        _p("n_ex", int, 12, 16, 32, "examples x y z per sequence", low=2, high=256),
        _p("n_ids", int, [4, 36], [8, 28, 40], [64, 128, 192, 256, 384],
           "numbers of pretraining tasks n_i.d. (multiples of 4 under the rectangle rule)", low=1, high=10**5,
           is_list=True, min_len=2),
        _p("tasks", str, "random", "random", "random",
           "how pretraining tasks are drawn: the paper's rectangle rule, or uniformly at random", choices=TASK_RULES),
        _p("alphas", float, [0.8], [0.8], [0.3, 0.5, 0.7, 0.9],
           "fractions α of the p² input pairs used for training", low=0.01, high=0.99, is_list=True),
        _p("n_layer", int, 2, 2, 2, "depth of the phase-diagram models", low=1, high=48),
        _p("control_layers", int, 1, 1, 1, "depth of the shallow control (claim 2)", low=1, high=48),
        _p("control_embd", int, 0, 0, 0, "width of the shallow control (0: n_embd); claim 2 needs it to learn its "
           "own tasks", low=0, high=4096),
        _p("deep_layers", int, 0, 0, 4, "depth of the deeper model for claim 5 (0: skip)", low=0, high=48),
        _p("n_embd", int, 48, 64, 256, "width", low=8, high=4096),
        _p("n_head", int, 4, 4, 4, "attention heads", low=1, high=64),
        _p("pos", str, "learned", "learned", "learned", "position encoding (the paper: RoPE)", choices=("rope", "learned")),
        _p("bias", bool, True, True, True, "biases in the linear layers and LayerNorms (the paper: none)"),
        _p("steps", int, 800, 10000, 40000, "AdamW steps (left at the profile's value and p raised above the "
           "profile's: scaled by (p / profile p)², see steps_for_p)", low=10, high=10**7),
        _p("batch", int, 128, 128, 128, "sequences per step, balanced over the pretraining tasks", low=4,
           high=65536),
        _p("lr", float, 3e-3, 2e-3, 5e-4, "peak learning rate", low=1e-6, high=1.0),
        _p("weight_decay", float, 1.0, 1.0, 1.0, "AdamW weight decay", low=0.0, high=100.0),
        _p("warmup", float, 0.05, 0.04, 0.04, "warm-up as a fraction of the steps (then cosine to 0.1×)", low=0.0,
           high=1.0),
        _p("n_eval", int, 256, 1024, 2048, "sequences per evaluation set", low=16, high=10**6),
        _p("n_ckpt", int, 4, 10, 40, "evaluations during training", low=2, high=10**4),
        _p("tau", float, 0.5, 0.5, 0.5, "accuracy threshold τ that defines the phases", low=0.0, high=1.0),
        _p("group", int, 1, 1, 0, "grid points per stacked ensemble (0: all; 1 is fastest on a CPU)", low=0,
           high=10**4),
        _p("seed", int, 0, 0, 0, "base random seed", low=0, high=2**32 - 1),
    ),
    checks=(
        lambda v: None if v["control_embd"] % (v["n_head"] * (2 if v["pos"] == "rope" else 1)) == 0 else
        f"parameter 'control_embd': got {v['control_embd']}, allowed: a multiple of n_head = {v['n_head']} "
        "(of 2·n_head with pos = 'rope')",
        lambda v: None if v["n_embd"] % v["n_head"] == 0 else
        f"parameter 'n_embd': got {v['n_embd']}, allowed: a multiple of n_head = {v['n_head']}",
        lambda v: None if v["pos"] != "rope" or (v["n_embd"] // v["n_head"]) % 2 == 0 else
        f"parameter 'n_embd': got {v['n_embd']}, allowed with pos = 'rope': a multiple of 2·n_head = {2 * v['n_head']}",
        lambda v: next((f"parameter 'n_ids': got {v['n_ids']}, allowed with tasks = {v['tasks']!r}: "
                        + ("multiples of 4" if v["tasks"] == "rectangle" else "integers") + f" below p² = {v['p'] ** 2}"
                        for n in v["n_ids"] if (n % 4 and v["tasks"] == "rectangle") or n >= v["p"] ** 2), None),
        lambda v: next((f"parameter 'alphas': got {v['alphas']}, allowed: fractions that leave at least n_ex = "
                        f"{v['n_ex']} train pairs and one test pair of the p² = {v['p'] ** 2}"
                        for a in v["alphas"] if not v["n_ex"] <= round(a * v["p"] ** 2) < v["p"] ** 2), None),
        lambda v: None if all(v["p"] % q for q in range(2, int(v["p"] ** 0.5) + 1)) else
        f"parameter 'p': got {v['p']}, allowed: a prime",
    ),
    derived=(steps_for_p,),
)
