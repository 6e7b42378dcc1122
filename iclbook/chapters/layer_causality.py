"""Chapter 3 (Bar Natan et al. 2023): parameters of the chapter, one value per profile."""
from __future__ import annotations

from ..profiles import ParamSpec
from ..profiles import param as _p


PARAMS = ParamSpec(
    (
        _p("n_classes", int, 4, 4, 4, "C: latent classes of content tokens per task family", low=2, high=64),
        _p("tokens_per_class", int, 8, 8, 16, "content tokens per class", low=1, high=256),
        _p("n_labels", int, 4, 4, 4, "label tokens", low=2, high=64),
        _p("n_x", int, 2, 2, 3, "content tokens per input (x1 … x_n)", low=1, high=16),
        _p("K", int, 8, 8, 16, "demonstrations per prompt (pretraining and test episodes)", low=1, high=64),
        _p("p_default", float, 0.25, 0.25, 0.25, "fraction of prompts that use the family's fixed default map",
           low=0.0, high=1.0),
        _p("n_families", int, 1, 1, 6, "task families (disjoint class sets) standing in for datasets", low=1,
           high=64),
        _p("n_layer", int, 3, 3, 8, "transformer depth", low=1, high=48),
        _p("n_embd", int, 64, 64, 256, "transformer width", low=8, high=4096),
        _p("n_head", int, 4, 4, 8, "attention heads", low=1, high=64),
        _p("steps", int, 800, 3000, 20000, "pretraining steps (Adam)", low=1, high=10**7),
        _p("batch", int, 32, 32, 128, "prompts per pretraining step", low=1, high=65536),
        _p("lr", float, 3e-3, 3e-3, 1e-3, "pretraining peak learning rate", low=1e-6, high=1.0),
        _p("episodes", int, 48, 200, 512, "test episodes per model and seed (per family)", low=4, high=100000),
        _p("lr_grid", float, [0.03, 0.1, 0.3, 1.0], [0.03, 0.1, 0.3, 1.0, 3.0], [0.01, 0.03, 0.1, 0.3, 1.0, 3.0],
           "SGD learning rates tried for FT (picked by FT accuracy)", low=1e-6, high=100.0, is_list=True,
           min_len=1),
        _p("seeds", int, 1, 6, 6, "independent pretraining seeds", low=1, high=64),
        _p("control_depths", int, [3, 12], [3, 6, 12, 24], [8, 16, 24, 32],
           "depths of the extra random-weight controls (the chapter's width) in the depth probe", low=1, high=48,
           is_list=True, min_len=1),
        _p("depth_episodes", int, 16, 64, 256, "test episodes per depth and seed in the depth probe", low=4,
           high=100000),
        _p("control_init", str, "fan_in", "fan_in", "fan_in", "initialisation of the untrained controls and the depth "
           "probe: fan_in (weights N(0, 1/width): each layer's gain ≈ 1, as the paper's 2048-wide models have at "
           "GPT-2's std 0.02) or gpt2 (std 0.02: gain ≈ 0.16 at width 64)", choices=("fan_in", "gpt2")),
        _p("chunk", int, 64, 128, 128, "episodes fine-tuned at once (ensemble members)", low=1, high=100000),
        _p("seed", int, 0, 0, 0, "base random seed", low=0, high=2**32 - 1),
    ),
    checks=(lambda v: None if v["n_embd"] % v["n_head"] == 0 else f"parameter 'n_embd': got {v['n_embd']}, "
            f"allowed: a multiple of n_head = {v['n_head']}",),
)
