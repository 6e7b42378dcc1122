"""Models: single-layer linear attention (Γ parameterisation) and one GPT-style decoder reused by every chapter."""
from iclbook.models.gpt import GPT, GPTConfig
from iclbook.models.linear_attention import LinearAttention

__all__ = ["GPT", "GPTConfig", "LinearAttention", "pretrain_sgd", "pretrain_sgd_sweep", "step_sizes"]
