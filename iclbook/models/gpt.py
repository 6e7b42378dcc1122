"""One GPT-style decoder (pre-LN, causal) for every chapter, as an ensemble of E independent members.

Every weight carries a leading axis E (``n_models``) and every activation a leading E axis, so summing the members'
losses and stepping Adam trains E independent models at once (Adam is per-coordinate). Inputs are continuous vectors
(``d_in``, linear read-in: chapter 2) or tokens (``vocab_size``, embedding table: chapters 3 and 4).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


INIT_SCHEMES = ("gpt2", "fan_in")

@dataclass
class GPTConfig:
    n_layer: int = 2  # number of blocks
    n_embd: int = 64  # residual-stream width
    n_head: int = 2  # attention heads (n_embd % n_head == 0)
    block_size: int = 64  # longest sequence (positions)
    mlp_ratio: int = 4  # MLP hidden width = mlp_ratio · n_embd
    activation: str = "gelu"  # "gelu" | "relu"
    pos: str = "learned"  # "learned" | "rope" | "none"
    bias: bool = True  # biases in linear layers and LayerNorms
    d_in: int | None = None  # continuous inputs of this width (linear read-in) ...
    vocab_size: int | None = None  # ... or token inputs from a vocabulary of this size (exactly one of the two)
    d_out: int | None = None  # read-out width; defaults to vocab_size for tokens
    tie_embeddings: bool = False  # read-out = token embeddingᵀ (tokens only, d_out == vocab_size)
    n_models: int = 1  # E: independent ensemble members
    rope_base: float = 10000.0  # RoPE frequency base

    def __post_init__(self):
        for name in ("n_layer", "n_embd", "n_head", "block_size", "mlp_ratio", "n_models"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"GPTConfig.n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.activation not in ("gelu", "relu"):
            raise ValueError(f"GPTConfig.activation must be 'gelu' or 'relu', got {self.activation!r}")
        if self.pos not in ("learned", "rope", "none"):
            raise ValueError(f"GPTConfig.pos must be 'learned', 'rope' or 'none', got {self.pos!r}")
        if self.pos == "rope" and (self.n_embd // self.n_head) % 2:
            raise ValueError(f"GPTConfig.pos='rope' needs an even head size, got n_embd/n_head = "
                             f"{self.n_embd // self.n_head}")
        if (self.d_in is None) == (self.vocab_size is None):
            raise ValueError("GPTConfig: give exactly one of d_in (continuous inputs) and vocab_size (tokens)")
        for name in ("d_in", "vocab_size", "d_out"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValueError(f"GPTConfig.{name} must be a positive integer or None, got {v!r}")
        if self.d_out is None:
            if self.vocab_size is None:
                raise ValueError("GPTConfig.d_out is required with continuous inputs (d_in)")
            self.d_out = self.vocab_size
        if self.tie_embeddings:
            if self.vocab_size is None:
                raise ValueError("GPTConfig.tie_embeddings needs token inputs (vocab_size)")
            if self.d_out != self.vocab_size:
                raise ValueError(f"GPTConfig.tie_embeddings needs d_out == vocab_size, got {self.d_out} != "
                                 f"{self.vocab_size}")


class EnsembleLinear(nn.Module):
    """E independent linear maps: (E, …, n_in) → (E, …, n_out) by one batched matmul over stacked weights."""

    def __init__(self, E: int, n_in: int, n_out: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(E, n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(E, 1, n_out)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        E, shape = x.shape[0], x.shape[1:-1]
        if E == 1:  # one member: a plain addmm (3-5% faster training steps than baddbmm for chapter 2's model)
            x2 = x.reshape(-1, x.shape[-1])
            w = self.weight.squeeze(0)  # views, not selects: their backward needs no zero-filled copy
            y = torch.addmm(self.bias.view(-1), x2, w) if self.bias is not None else x2 @ w
            return y.reshape(1, *shape, y.shape[-1])
        x2 = x.reshape(E, -1, x.shape[-1])
        y = torch.baddbmm(self.bias, x2, self.weight) if self.bias is not None else torch.bmm(x2, self.weight)
        return y.reshape(E, *shape, y.shape[-1])


class EnsembleLayerNorm(nn.Module):
    """LayerNorm with a per-member gain (and bias) of shape (E, C)."""

    is_norm = True  # the trainer never weight-decays a normalisation layer's parameters

    def __init__(self, E: int, C: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(E, C))
        self.bias = nn.Parameter(torch.zeros(E, C)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[0] == 1:  # one member: the fused kernel applies gain and bias itself
            bias = None if self.bias is None else self.bias.view(-1)
            return F.layer_norm(x, x.shape[-1:], self.weight.view(-1), bias, eps=1e-5)
        view = (x.shape[0],) + (1,) * (x.ndim - 2) + (x.shape[-1],)
        y = F.layer_norm(x, x.shape[-1:], eps=1e-5) * self.weight.view(view)
        return y + self.bias.view(view) if self.bias is not None else y


def rope(q: Tensor, base: float) -> Tensor:
    """Rotary position embedding (Su et al. 2021) on (…, T, hs): rotate pairs (i, i + hs/2) by angle t·base^(−2i/hs)."""
    T, hs = q.shape[-2], q.shape[-1]
    inv_freq = base ** (-torch.arange(0, hs // 2, device=q.device, dtype=torch.float32) * 2 / hs)
    ang = torch.arange(T, device=q.device, dtype=torch.float32)[:, None] * inv_freq[None, :]
    cos, sin = ang.cos().to(q.dtype), ang.sin().to(q.dtype)
    q1, q2 = q[..., : hs // 2], q[..., hs // 2:]
    return torch.cat([q1 * cos - q2 * sin, q1 * sin + q2 * cos], dim=-1)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention; fused SDPA by default, explicit when internals are asked for."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        E, C = cfg.n_models, cfg.n_embd
        self.cfg = cfg
        self.c_attn = EnsembleLinear(E, C, 3 * C, cfg.bias)
        self.c_proj = EnsembleLinear(E, C, C, cfg.bias)

    def forward(self, x: Tensor, return_internals: bool = False):
        E, B, T, C = x.shape
        nh = self.cfg.n_head
        q, k, v = self.c_attn(x).split(C, dim=-1)
        q, k, v = (t.reshape(E * B, T, nh, C // nh).transpose(1, 2) for t in (q, k, v))  # (E·B, nh, T, hs)
        if self.cfg.pos == "rope":
            q, k = rope(q, self.cfg.rope_base), rope(k, self.cfg.rope_base)
        logits = None
        if return_internals:
            logits = (q @ k.transpose(-1, -2)) / math.sqrt(C // nh)
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            logits = logits.masked_fill(~mask, float("-inf"))
            y = logits.softmax(dim=-1) @ v
            logits = logits.reshape(E, B, nh, T, T)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = self.c_proj(y.transpose(1, 2).reshape(E, B, T, C))
        return y, logits


class MLP(nn.Module):
    """Position-wise MLP: Linear(C, r·C) → GELU/ReLU → Linear(r·C, C)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        E, C, H = cfg.n_models, cfg.n_embd, cfg.mlp_ratio * cfg.n_embd
        self.c_fc = EnsembleLinear(E, C, H, cfg.bias)
        self.c_proj = EnsembleLinear(E, H, C, cfg.bias)
        self.act = F.gelu if cfg.activation == "gelu" else F.relu

    def forward(self, x: Tensor) -> Tensor:
        return self.c_proj(self.act(self.c_fc(x)))


class Block(nn.Module):
    """Pre-LN transformer block: x + attn(ln_1(x)), then + mlp(ln_2(·))."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1 = EnsembleLayerNorm(cfg.n_models, cfg.n_embd, cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = EnsembleLayerNorm(cfg.n_models, cfg.n_embd, cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x: Tensor, return_internals: bool = False):
        """x (E,B,T,C) → x'; with return_internals, (x', attn_out (E,B,T,C), attn_logits (E,B,nh,T,T))."""
        a, logits = self.attn(self.ln_1(x), return_internals)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return (x, a, logits) if return_internals else x


class GPT(nn.Module):
    """Ensemble GPT decoder: embed → blocks → ln_f → readout; inputs and outputs carry a leading E axis."""

    def __init__(self, cfg: GPTConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.cfg = cfg
        E, C = cfg.n_models, cfg.n_embd
        if cfg.vocab_size is not None:
            self.wte = nn.Parameter(torch.empty(E, cfg.vocab_size, C))
        else:
            self.read_in = EnsembleLinear(E, cfg.d_in, C, cfg.bias)
        if cfg.pos == "learned":
            self.wpe = nn.Parameter(torch.empty(E, cfg.block_size, C))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = EnsembleLayerNorm(E, C, cfg.bias)
        if not cfg.tie_embeddings:
            self.read_out = EnsembleLinear(E, C, cfg.d_out, cfg.bias)
        self.reset_parameters(generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None, scheme: str = "gpt2"):
        """Independent per member; biases 0, LayerNorm gains 1.

        ``gpt2``: every weight N(0, 0.02²), residual projections N(0, (0.02/√(2·n_layer))²). At width C each layer
        then scales its input by about 0.02·√C: ≈ 0.9 at GPT-2's 2048, but ≈ 0.16 at width 64, where an untrained
        network is nearly dead. ``fan_in``: matrix weights N(0, 1/n_in) (gain ≈ 1 at any width, as GPT-2's std
        gives a 2048-wide model), residual projections with the same 1/√(2·n_layer); embeddings as ``gpt2``."""
        if scheme not in INIT_SCHEMES:
            raise ValueError(f"init scheme {scheme!r}: allowed {', '.join(INIT_SCHEMES)}")
        for name, p in self.named_parameters():
            if name.endswith("bias") or name.startswith("ln_f") or ".ln_" in name:
                continue  # LayerNorm gains stay 1, biases 0
            std = 0.02 if scheme == "gpt2" or name in ("wte", "wpe") else 1 / math.sqrt(p.shape[-2])
            if name.endswith("c_proj.weight"):
                std /= math.sqrt(2 * self.cfg.n_layer)
            p.normal_(0.0, std, generator=generator)

    def num_params(self) -> int:
        """Parameters of one member."""
        return sum(p.numel() for p in self.parameters()) // self.cfg.n_models

    # ---- the three stages, exposed so that chapters can run blocks one at a time -------------------------------
    def embed(self, inputs: Tensor) -> Tensor:
        """Tokens (E,B,T) or vectors (E,B,T,d_in) → residual stream (E,B,T,C), learned positions added."""
        E = self.cfg.n_models
        if inputs.shape[0] != E:
            raise ValueError(f"inputs must have a leading ensemble axis of size n_models={E}, got {tuple(inputs.shape)}")
        if self.cfg.vocab_size is not None:
            # F.embedding on the flattened (E·V, C) table: advanced indexing wte[e, token] would accumulate its
            # gradient with index_put_, whose order (and so the rounding) varies from run to run with 2+ CPU threads
            V = self.cfg.vocab_size
            rows = inputs + V * torch.arange(E, device=inputs.device).view(E, 1, 1)
            h = F.embedding(rows, self.wte.reshape(E * V, -1))
        else:
            h = self.read_in(inputs)
        T = h.shape[2]
        if T > self.cfg.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size={self.cfg.block_size}")
        if self.cfg.pos == "learned":
            h = h + self.wpe[:, None, :T]
        return h

    def readout(self, h: Tensor) -> Tensor:
        """Residual stream (after ln_f) (E,B,T,C) → outputs (E,B,T,d_out); tied: h · wteᵀ."""
        if self.cfg.tie_embeddings:
            E, B, T, C = h.shape
            return torch.bmm(h.reshape(E, B * T, C), self.wte.transpose(1, 2)).reshape(E, B, T, -1)
        return self.read_out(h)

    def forward(self, inputs: Tensor, return_internals: bool = False):
        """Outputs (E,B,T,d_out); with return_internals also {attn_out, attn_logits, resid}: lists over layers.

        attn_out[l]: attention sub-layer output before the residual add (E,B,T,C); attn_logits[l]: pre-softmax scores
        q·k/√hs with the causal mask applied as −inf (E,B,nh,T,T); resid[l]: residual stream after block l (E,B,T,C).
        """
        h = self.embed(inputs)
        if not return_internals:
            for block in self.blocks:
                h = block(h)
            return self.readout(self.ln_f(h))
        internals = {"attn_out": [], "attn_logits": [], "resid": []}
        for block in self.blocks:
            h, a, logits = block(h, return_internals=True)
            internals["attn_out"].append(a)
            internals["attn_logits"].append(logits)
            internals["resid"].append(h)
        return self.readout(self.ln_f(h)), internals

    # ---- moving members in and out of an ensemble --------------------------------------------------------------
    def member_state_dict(self, e: int) -> dict[str, Tensor]:
        """Member e's weights, each with a leading axis of size 1: loadable into a model with n_models = 1."""
        return {k: v[e:e + 1].clone() for k, v in self.state_dict().items()}

    @torch.no_grad()
    def load_member(self, e: int, state: dict[str, Tensor]):
        """Overwrite member e with a one-member state dict (as returned by member_state_dict)."""
        own = self.state_dict()
        missing = set(own) ^ set(state)
        if missing:
            raise KeyError(f"state dict keys differ: {sorted(missing)}")
        for k, v in state.items():
            own[k][e:e + 1].copy_(v)
