"""Chapter 2 (Raventós et al. 2023; Carroll et al. 2025): parameters of the chapter, one value per profile."""
from __future__ import annotations

from ..profiles import ParamSpec
from ..profiles import param as _p


def _half_powers(top: int) -> list[int]:
    """The half-power-of-two grid 1, 2, 3, 4, 6, 8, 11, … up to 2^top (Carroll et al.)."""
    return sorted({round(2 ** (k / 2)) for k in range(2 * top + 1)})


PARAMS = ParamSpec(
    (
        _p("D", int, 4, 4, 8, "input dimension D", low=1, high=256),
        _p("K", int, 8, 8, 16, "context length K (pairs per sequence)", low=2, high=1024),
        _p("sigma2", float, 0.125, 0.125, 0.125, "label-noise variance σ²", low=1e-6, high=100.0),
        _p("Ms", int, [4, 8], [1, 4, 8, 13, 16, 64], _half_powers(15),
           "finite task-pool sizes M (M = ∞ is always added)", low=1, high=2**24, is_list=True, min_len=2),
        _p("M_transient", int, 8, 13, 64, "the intermediate M at which the transient is looked for (claims 2, 3)",
           low=1, high=2**24),
        _p("tokens", str, "pair", "pair", "pair",
           "token format: 'pair' = [x_k, x_{k−1}, y_{k−1}], 'interleaved' = the papers' [0, x_k], [y_k, 0…0]",
           choices=("pair", "interleaved")),
        _p("n_layer", int, 2, 2, 2, "transformer depth", low=1, high=48),
        _p("n_embd", int, 64, 64, 128, "transformer width", low=8, high=4096),
        _p("n_head", int, 2, 2, 2, "attention heads", low=1, high=64),
        _p("mlp_ratio", int, 4, 4, 8, "MLP hidden width / width", low=1, high=16),
        _p("steps", int, 3000, 32000, 150000, "training steps", low=10, high=10**7),
        _p("batch", int, 64, 64, 256, "sequences per step and model", low=1, high=65536),
        _p("lr", float, 3e-3, 3e-3, 3e-3, "peak Adam learning rate", low=1e-6, high=1.0),
        _p("schedule", str, "warmup_constant", "triangle", "triangle",
           "learning-rate schedule ('triangle' = Carroll et al.'s linear rise for half the steps, then linear fall)",
           choices=("warmup_constant", "triangle")),
        _p("warmup", float, 0.05, 0.5, 0.5, "warm-up as a fraction of the steps", low=0.0, high=1.0),
        _p("n_eval", int, 256, 512, 2048, "OOD / ID evaluation sequences", low=16, high=10**6),
        _p("n_probe", int, 64, 64, 64, "root-task probe sequences for the trajectory PCA", low=4, high=10**5),
        _p("n_linear", int, 20, 40, 100, "linearly spaced checkpoints", low=2, high=10**4),
        _p("n_log", int, 15, 25, 50, "log-spaced checkpoints", low=0, high=10**4),
        _p("llc_eps", float, 0.0, 0.0, 0.0, "SGLD step size ε (0: the largest ε of a fixed grid at which every chain "
           "of every M stays finite)", low=0.0, high=1.0),
        _p("llc_nbeta", float, 60.0, 60.0, 60.0, "SGLD nβ", low=1e-3, high=1e9),
        _p("llc_gamma", float, 6.0, 6.0, 6.0, "SGLD localisation γ", low=0.0, high=1e9),
        _p("llc_chains", int, 2, 4, 8, "SGLD chains per model", low=1, high=1000),
        _p("llc_burn_in", int, 50, 100, 200, "SGLD burn-in steps per chain", low=0, high=10**6),
        _p("llc_draws", int, 100, 400, 1000, "SGLD draws per chain", low=1, high=10**6),
        _p("llc_n", int, 4096, 8192, 65536, "size n of each model's LLC data set", low=64, high=10**8),
        _p("llc_batch", int, 64, 64, 256, "SGLD minibatch", low=1, high=65536),
        _p("seed", int, 0, 0, 0, "base random seed (initialisation and batches)", low=0, high=2**32 - 1),
        _p("pool_seed", int, 0, 0, 0, "seed of the task sequence t₁, t₂, … that every pool is a prefix of",
           low=0, high=10**6),
    ),
    checks=(
        lambda v: None if v["n_embd"] % v["n_head"] == 0 else
        f"parameter 'n_embd': got {v['n_embd']}, allowed: a multiple of n_head = {v['n_head']}",
        lambda v: None if v["M_transient"] in v["Ms"] else
        f"parameter 'M_transient': got {v['M_transient']}, allowed: one of Ms = {v['Ms']}",
    ),
)
