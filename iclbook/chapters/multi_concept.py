"""Chapter 5 (Bu et al. 2024, multi-concept word semantics): parameters of the chapter, one value per profile."""
from __future__ import annotations

from ..profiles import ParamSpec
from ..profiles import param as _p


def _check_sparsity(v) -> str | None:
    """Every task concept needs |S|-1 partners among the held-out (test) pairs as well as the training pairs."""
    from ..tasks.concepts import combo_mask

    s_max = max([v["S"], *v["S_grid"]])
    partners = int(combo_mask(v["K"], "test").sum(1).min())
    if s_max - 1 > partners:
        return (f"parameter 'S': |S| = {s_max} needs {s_max - 1} co-concepts, but with K = {v['K']} some concept has "
                f"only {partners} held-out partners; allowed: |S| <= {partners + 1} (or a larger K)")
    return None


def follow_S(base: dict, values: dict, overridden: set) -> dict:
    """More active concepts than the profile's: K ∝ |S| - 1 (then batch, steps and d follow K, see follow_K).

    A query's co-concepts also sit in some demonstrations, and there they score like the task concept in x_q·W_KQ·z_l,
    since one attention layer cannot tell which shared concept is the task's. With |S| = 3 at K = 8 (ci) that
    happens in most prompts, and on the length shift to L = 2, with no demonstrations to average over, the error
    exceeded Bayes by 0.030-0.043 in seeds 0-2 whether the runs took 1000, 1500 or 2000 steps (claim 4a allows
    0.03); at K = 16 (the cpu profile's pairing) by 0.007 and 0.009 in seeds 0 and 1, with claims 1a-3b holding.
    """
    if values["S"] <= base["S"] or base["S"] < 2:
        return {}
    return {"K": max(base["K"], round(base["K"] * (values["S"] - 1) / (base["S"] - 1)))}


def follow_K(base: dict, values: dict, overridden: set) -> dict:
    """More concepts than the profile's: the same prompts per concept per step (batch ∝ K) and the same number of
    steps per concept (steps, variant_steps, dense_until ∝ K), and room for the 4K directions (d >= 4K).

    Each concept's weights are driven by its own 1/K of the batch, so a fixed budget teaches each concept less: at
    `ci` (1000 steps, batch 256, K = 8) K = 16 ended at correct attention 0.78 in each of seeds 0-6 (claim 2 needs
    0.9), and with 2000 steps at 0.94. The batch keeps the profile's prompts per concept, which the chapter's batch
    section shows matter for the descent. Never fewer steps or a smaller batch (explicit values win, as always).
    """
    if values["K"] <= base["K"]:
        return {}
    f = values["K"] / base["K"]
    out = {k: round(base[k] * f) for k in ("batch", "steps", "variant_steps", "dense_until")}
    if base["d"] < 4 * values["K"]:
        out["d"] = 4 * values["K"]
    return out


PARAMS = ParamSpec(
    (
        _p("d", int, 64, 128, 512, "embedding dimension d (needs d >= 4K; raised to 4K with K, see follow_K)",
           low=8, high=8192),
        _p("K", int, 8, 16, 64, "number of concepts K (∝ |S| - 1 above the profile's |S|, see follow_S)",
           low=2, high=2048),
        _p("L", int, 8, 16, 32, "demonstrations per training prompt L", low=2, high=1024),
        _p("S", int, 2, 3, 3, "concepts active in a word |S| (task concept included)", low=1, high=64),
        _p("m", int, 32, 64, 128, "MLP width m (ReLU neurons, read-out ±1/m)", low=2, high=65536),
        _p("sigma_xi", float, 0.02, 0.02, 0.02, "per-coordinate std σ_ξ of the word noise", low=0.0, high=1.0),
        _p("eta", float, 0.1, 0.1, 0.1, "label-flip probability η of the query (the Bayes error)", low=0.0, high=0.45),
        _p("batch", int, 256, 1024, 4096, "fresh prompts per SGD step (cpu/gpu: ~64 per concept, so that SGD's noise "
           "does not unlearn concepts; see the chapter; ∝ K above the profile's K, see follow_K)", low=1, high=65536),
        _p("lr", float, 1.0, 1.0, 1.0, "SGD step size (constant)", low=1e-5, high=100.0),
        _p("steps", int, 1000, 3000, 4000, "SGD steps of the main runs (the attention keeps sharpening after the error "
           "has converged; ∝ K above the profile's K)", low=10, high=10**7),
        _p("variant_steps", int, 600, 800, 4000, "SGD steps of the variants, controls and sweeps (error curves only; "
           "∝ K)", low=10, high=10**7),
        _p("dense_until", int, 400, 800, 2000, "evaluate every eval_every steps up to here, 5× sparser after (∝ K)",
           low=0, high=10**7),
        _p("kq_init", float, 0.3, 0.3, 0.3, "W_KQ starts at kq_init·I", low=-10.0, high=10.0),
        _p("w_init", float, 1e-3, 1e-3, 1e-3,
           "std of the MLP first-layer weights at init (> 0: at 0 every ReLU is dead and nothing learns)",
           low=1e-8, high=10.0),
        _p("n_test", int, 4096, 8192, 16384, "prompts in each evaluation set", low=256, high=10**7),
        _p("eval_every", int, 5, 5, 10, "steps between evaluations (dense: the descent is short)", low=1, high=10**6),
        _p("seeds", int, 2, 3, 8, "independent runs (dictionary, init and data) of the main model", low=1, high=1024),
        _p("L_test", int, [2, 4, 16, 32], [2, 4, 8, 32, 64], [4, 8, 16, 64, 128],
           "test prompt lengths for the length shift", low=1, high=4096, is_list=True),
        _p("S_grid", int, [], [2], [2, 4, 6], "sweep: sparsity |S| (empty: no sweep)", low=1, high=64,
           is_list=True, min_len=0),
        _p("sigma_grid", float, [], [0.05], [0.01, 0.05, 0.1], "sweep: word noise σ_ξ", low=0.0, high=1.0,
           is_list=True, min_len=0),
        _p("L_grid", int, [], [32], [16, 64], "sweep: training prompt length L", low=2, high=1024,
           is_list=True, min_len=0),
        _p("seed", int, 0, 0, 0, "base random seed", low=0, high=2**32 - 1),
    ),
    checks=(
        lambda v: None if v["d"] >= 4 * v["K"] else f"parameter 'd': got {v['d']}, allowed: d >= 4K = {4 * v['K']}",
        lambda v: None if v["m"] % 2 == 0 else f"parameter 'm': got {v['m']}, allowed: an even number",
        _check_sparsity,
    ),
    derived=(follow_S, follow_K),  # in this order: K may follow |S|, then the rest follows K
)
