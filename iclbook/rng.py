"""Every random stream of the book: a purpose and integer keys in, a ``torch.Generator`` out.

A stream is named, never computed: ``generator("batch", seed, step)`` and ``generator("eval", seed, 0)`` are
independent for every seed and step, where seed arithmetic (a seed times a prime plus the step, an evaluation
offset plus the seed) collides as soon as a reader picks a large seed. The key words go through numpy's ``SeedSequence``, with two of its pitfalls
closed off: it ignores trailing zero words (``[5]`` and ``[5, 0]`` give one stream) and splits a key ≥ 2³² into
words (``[2**32]`` equals ``[0, 1]``). So every purpose has a fixed number of keys, each checked to lie in
[0, 2³²), and the entropy starts with a stable hash of the purpose's name and the number of keys.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch

# purpose -> the names of its keys (documentation, and the fixed arity)
PURPOSES: dict[str, tuple[str, ...]] = {
    "member": ("seed", "index"),  # the seed of member `index` of a chapter's sweep or seed list
    "init": ("seed",),  # a model's initial weights
    "control": ("seed",),  # the initial weights of an untrained control model
    "batch": ("seed", "step"),  # the training batch of one step
    "tasks": ("seed",),  # a fixed draw of tasks: task pools, input splits, concept dictionaries
    "eval": ("seed", "set"),  # evaluation, test and probe sets; `set` numbers them within one seed
    "mc": ("seed", "index"),  # Monte Carlo draws of closed-form checks and baselines
    "llc": ("seed", "chain"),  # one SGLD chain of an LLC estimate
    "noise": ("seed", "index"),  # random directions and baselines of the analyses
    "test": ("seed",),  # the unit tests' own draws
}
KEY_LIMIT = 2**32


def entropy(purpose: str, *keys: int) -> list[int]:
    """The 32-bit words that seed the stream: hash of the purpose (2 words), the number of keys, the keys."""
    if purpose not in PURPOSES:
        raise ValueError(f"random stream purpose {purpose!r}: allowed {sorted(PURPOSES)}")
    names = PURPOSES[purpose]
    if len(keys) != len(names):
        raise ValueError(f"random stream {purpose!r} takes {len(names)} keys {names}, got {len(keys)}: {keys}")
    for name, k in zip(names, keys):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= int(k) < KEY_LIMIT:
            raise ValueError(f"random stream {purpose!r}: key {name!r} = {k!r} must be an integer in [0, 2**32)")
    digest = hashlib.sha256(purpose.encode()).digest()
    return [int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:8], "little"), len(keys),
            *(int(k) for k in keys)]


def seed_of(purpose: str, *keys: int) -> int:
    """A 64-bit seed for ``torch.Generator.manual_seed``, a pure function of (purpose, keys)."""
    return int(np.random.SeedSequence(entropy(purpose, *keys)).generate_state(1, np.uint64)[0])


def key(purpose: str, *keys: int) -> int:
    """A 32-bit integer derived from (purpose, keys), usable as a key of another stream (e.g. a member's seed)."""
    return int(np.random.SeedSequence(entropy(purpose, *keys)).generate_state(1, np.uint32)[0])


def generator(purpose: str, *keys: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch generator on ``device`` (so that batches are sampled where they are used) for (purpose, keys)."""
    return torch.Generator(device=torch.device(device)).manual_seed(seed_of(purpose, *keys))


def member_seeds(seed: int, n: int) -> list[int]:
    """The seeds of n members (models, runs) of one chapter run with base ``seed``."""
    return [key("member", seed, i) for i in range(n)]


__all__ = ["PURPOSES", "entropy", "seed_of", "key", "generator", "member_seeds"]
