"""Chapter 1 (Wu et al. 2023): parameters of the chapter, one value per profile."""
from __future__ import annotations

import math

from ..profiles import ParamSpec
from ..profiles import param as _p



def t_large(d: int) -> int:
    """Where claim 2's 1/T tail starts: T ≥ 16 d², many times the d² entries of Γ. At d = 8 that is T ≥ 1024; at
    d = 16 the excess risk still bends between 1024 and 4096 (slope −0.62 there, −0.93 from 4096 on)."""
    return 16 * d * d


COUNT_REACH = 128  # claim 3's T range reaches COUNT_REACH · d_max² tasks


def t_count_range(d_grid: list[int], T_grid: list[int]) -> list[int]:
    """Claim 3's T values: powers of two from 16 to the larger of max(T_grid) and COUNT_REACH · d_max² (rounded up).

    The flat spectrum needs the most tasks and grows a little faster than d² (history, at commit `094ff62`: 490,
    2214 and 10136 tasks at d = 4, 8, 16, seed 1, i.e. 31, 35 and 40 d², a slope of 2.2), which extrapolates to
    about 51 d² at d = 64 and 58 d² at d = 128; 128 d² leaves a factor of two for seeds and for that drift. The sweep
    stops at each count (``tasks_needed``), so the range costs only where a count lies far out."""
    reach = 2 ** math.ceil(math.log2(COUNT_REACH * max(d_grid) ** 2))
    return [2**k for k in range(4, int(math.log2(max(max(T_grid), reach))) + 1)]

PARAMS = ParamSpec(
    (
        _p("d", int, 8, 8, 32, "dimension of x and of the task β", low=2, high=512),
        _p("N", int, 16, 16, 32, "pretraining context length (number of in-context pairs)", low=1, high=4096),
        _p("psi2", float, 0.125, 0.125, 1 / 32, "prior variance ψ² of β (high-noise regime: ψ² tr H ≲ σ²)",
           low=1e-6, high=1e3),
        _p("sigma2", float, 1.0, 1.0, 1.0, "label noise variance σ²", low=1e-6, high=1e3),
        _p("T_grid", int, [64, 256, 1024, 4096, 16384], [64, 256, 1024, 4096, 16384, 65536],
           [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576],
           "numbers of pretraining tasks T (= one-pass SGD steps)", low=1, high=2**24, is_list=True, min_len=3),
        _p("seeds", int, 32, 32, 32, "independent SGD runs per setting", low=1, high=1024),
        _p("d_grid", int, [4, 8, 16], [4, 8, 16, 32, 64], [8, 16, 32, 64, 128],
           "dimensions compared in the task-count experiment", low=2, high=512, is_list=True, min_len=2),
        _p("mc_samples", int, 50000, 200000, 1000000, "Monte Carlo prompts for risk checks", low=1000, high=10**8),
        _p("gpt_tokens", str, "pair", "pair", "pair", "transformer token format: one token [x_k, x_(k-1), y_(k-1)] "
           "per pair, or the papers' interleaved [0, x_k] / [y_k, 0] tokens", choices=("pair", "interleaved")),
        _p("gpt_steps", int, 600, 6000, 40000, "training steps of the GPT-style transformer (claim 5)",
           low=1, high=10**7),
        _p("gpt_layers", int, 2, 2, 4, "transformer depth", low=1, high=48),
        _p("gpt_width", int, 64, 64, 128, "transformer width", low=8, high=4096),
        _p("gpt_batch", int, 64, 64, 256, "transformer batch size (prompts per step)", low=1, high=65536),
        _p("gpt_lr", float, 3e-3, 3e-3, 1e-3, "transformer peak learning rate (Adam)", low=1e-6, high=1.0),
        _p("seed", int, 0, 0, 0, "base random seed", low=0, high=2**32 - 1),
    ),
    checks=(lambda v: None if v["gpt_width"] % 2 == 0 else f"parameter 'gpt_width': got {v['gpt_width']}, "
            "allowed: an even number (2 heads)",
            lambda v: None if sum(T >= t_large(v["d"]) for T in v["T_grid"]) >= 2 else
            f"parameter 'T_grid': got {v['T_grid']}, allowed: at least two values >= 16·d² = {t_large(v['d'])} at "
            f"d = {v['d']} (claim 2 fits the large-T slope; or lower d)"),
)
