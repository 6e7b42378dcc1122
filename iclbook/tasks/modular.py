"""In-context modular arithmetic: z = (a·x + b·y) mod p (He, Doshi, Das & Gromov 2024).

A task is a vector (a, b) ∈ Z_p²; a sequence is n examples ``x y z`` of one task, every number one token.
Pretraining tasks follow the paper's *rectangle rule*: draw (a, b), then add (a, y′), (x′, b) and (x′, y′) with fresh
x′, y′, so n_i.d. = 4m and every task shares a component with other tasks. The p² input pairs are shuffled once and
split at a fraction α into train and test inputs; the split is the same for every task. Training only ever sees
pretraining tasks on train inputs. Evaluation crosses {i.d., o.o.d.} tasks with {train, test} inputs.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .. import rng

EVAL_SETS = ("id_train", "id_test", "ood_train", "ood_test")


def rectangle_tasks(m: int, p: int, generator: torch.Generator, max_tries: int = 2_000, restarts: int = 50) -> Tensor:
    """4m distinct task vectors (a, b) by the rectangle rule, as an int64 (4m, 2) tensor.

    Each of the m rectangles needs four task vectors no earlier rectangle used. A greedy random search can paint
    itself into a corner, so it restarts; the search is bounded (``max_tries`` draws per rectangle, ``restarts``
    attempts) and raises with the best it found, because with small p and many tasks the fresh corners run out.
    """
    if m < 1:
        raise ValueError(f"rectangle_tasks: m must be >= 1, got {m}")
    if 4 * m > p * p:
        raise ValueError(f"rectangle_tasks: n_id = 4m = {4 * m} exceeds the p² = {p * p} tasks of p = {p}")
    best = 0
    for _ in range(restarts):
        used: set[tuple[int, int]] = set()
        out: list[tuple[int, int]] = []
        tries = 0
        while len(out) < 4 * m and tries < max_tries:
            a, b, x2, y2 = torch.randint(0, p, (4,), generator=generator).tolist()
            corners = [(a, b), (a, y2), (x2, b), (x2, y2)]
            tries += 1
            if a != x2 and b != y2 and not used.intersection(corners):
                used.update(corners)
                out.extend(corners)
                tries = 0
        if len(out) == 4 * m:
            return torch.tensor(out, dtype=torch.long)
        best = max(best, len(out) // 4)
    raise ValueError(f"rectangle_tasks: found at most {best} of m = {m} rectangles with fresh corners for p = {p} "
                     f"({restarts} searches of {max_tries} draws); ask for fewer tasks (n_id = 4m) or a larger p")


def random_tasks(n: int, p: int, generator: torch.Generator) -> Tensor:
    """n distinct task vectors (a, b) drawn uniformly from the p² tasks, as an int64 (n, 2) tensor."""
    if not 1 <= n <= p * p:
        raise ValueError(f"random_tasks: n_id = {n} must lie in [1, p² = {p * p}]")
    all_tasks = torch.cartesian_prod(torch.arange(p), torch.arange(p))
    return all_tasks[torch.randperm(p * p, generator=generator)[:n]]


TASK_RULES = ("rectangle", "random")


def input_split(p: int, alpha: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """The p² pairs (x, y) shuffled once and split at fraction α: (train (P_train, 2), test (P_test, 2))."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"input_split: alpha must lie in (0, 1), got {alpha}")
    pairs = torch.cartesian_prod(torch.arange(p), torch.arange(p))[torch.randperm(p * p, generator=generator)]
    n_train = round(alpha * p * p)
    if not 1 <= n_train < p * p:
        raise ValueError(f"input_split: alpha = {alpha} leaves no train or no test pairs at p = {p}")
    return pairs[:n_train], pairs[n_train:]


def sequences(tasks: Tensor, context: Tensor, query: Tensor, n_ex: int, p: int, generator: torch.Generator,
              task_index: Tensor | None = None) -> Tensor:
    """Token sequences (B, 3·n_ex): n_ex − 1 context examples from ``context`` pairs, drawn without replacement,
    then one query example from ``query`` pairs. With ``query is context`` all n_ex pairs are distinct draws from it.

    ``task_index`` (B,) picks each row's task from ``tasks``; the row's z tokens are (a·x + b·y) mod p.
    """
    B = task_index.shape[0]
    dev = tasks.device
    same = query is context
    need = n_ex if same else n_ex - 1
    if need > context.shape[0]:
        raise ValueError(f"sequences: {need} distinct context pairs asked for, only {context.shape[0]} available")
    order = torch.rand(B, context.shape[0], generator=generator, device=dev).argsort(dim=1)[:, :need]
    xy = context[order]  # (B, need, 2)
    if not same:
        q = query[torch.randint(0, query.shape[0], (B,), generator=generator, device=dev)]
        xy = torch.cat([xy, q[:, None, :]], dim=1)
    ab = tasks[task_index]  # (B, 2)
    z = (ab[:, None, 0] * xy[..., 0] + ab[:, None, 1] * xy[..., 1]) % p
    return torch.stack([xy[..., 0], xy[..., 1], z], dim=-1).reshape(B, 3 * n_ex)


def balanced_index(n_tasks: int, B: int, generator: torch.Generator, device: torch.device | str) -> Tensor:
    """Row → task for one batch: each task gets ⌊B/n⌋ or ⌈B/n⌉ rows (a random permutation, cycled)."""
    reps = -(-B // n_tasks)
    perm = torch.rand(reps, n_tasks, generator=generator, device=device).argsort(dim=1).reshape(-1)
    return perm[:B]


@dataclass
class ModularTask:
    """One point (n_id, α) of the phase diagram: its pretraining tasks, o.o.d. tasks and input split, fixed by seed."""

    p: int
    n_id: int  # number of pretraining tasks: a multiple of 4 under the rectangle rule
    alpha: float  # fraction of the p² input pairs used for training
    n_ex: int  # examples per sequence
    seed: int = 0
    n_ood_max: int = 256  # o.o.d. tasks kept for evaluation (the paper uses up to 256)
    device: torch.device | str = "cpu"
    rule: str = "rectangle"  # how pretraining tasks are drawn: TASK_RULES

    def __post_init__(self):
        if self.p < 2:
            raise ValueError(f"ModularTask: p must be >= 2, got {self.p}")
        if self.rule not in TASK_RULES:
            raise ValueError(f"ModularTask: rule {self.rule!r}: allowed {TASK_RULES}")
        if self.rule == "rectangle" and self.n_id % 4:
            raise ValueError(f"ModularTask: n_id must be a multiple of 4 (rectangle rule), got {self.n_id}")
        if self.n_ex < 2:
            raise ValueError(f"ModularTask: n_ex must be >= 2, got {self.n_ex}")
        g = rng.generator("tasks", self.seed)
        self.id_tasks = (rectangle_tasks(self.n_id // 4, self.p, g) if self.rule == "rectangle"
                         else random_tasks(self.n_id, self.p, g))
        self.train_pairs, self.test_pairs = input_split(self.p, self.alpha, g)
        if self.n_ex > self.train_pairs.shape[0]:
            raise ValueError(f"ModularTask: n_ex = {self.n_ex} examples need that many distinct train pairs; "
                             f"alpha = {self.alpha} at p = {self.p} gives {self.train_pairs.shape[0]}")
        taken = set(map(tuple, self.id_tasks.tolist()))
        rest = [t for t in torch.cartesian_prod(torch.arange(self.p), torch.arange(self.p)).tolist()
                if tuple(t) not in taken]
        rest = torch.tensor(rest, dtype=torch.long)[torch.randperm(len(rest), generator=g)]
        self.ood_tasks = rest[: self.n_ood_max]
        dev = torch.device(self.device)
        for name in ("id_tasks", "ood_tasks", "train_pairs", "test_pairs"):
            setattr(self, name, getattr(self, name).to(dev))

    def spec(self) -> dict:
        """The plain data that rebuilds this task (``ModularTask(**spec, device=…)``) and keys its store entries;
        ``n_ood_max`` appears only off its default, so that the keys of earlier entries still match."""
        out = dict(p=self.p, n_id=self.n_id, alpha=self.alpha, n_ex=self.n_ex, seed=self.seed, rule=self.rule)
        if self.n_ood_max != 256:
            out["n_ood_max"] = self.n_ood_max
        return out

    def train_batch(self, B: int, generator: torch.Generator) -> Tensor:
        """B fresh sequences of pretraining tasks on train inputs, balanced over the tasks."""
        idx = balanced_index(self.n_id, B, generator, self.id_tasks.device)
        return sequences(self.id_tasks, self.train_pairs, self.train_pairs, self.n_ex, self.p, generator, idx)

    def eval_batch(self, which: str, B: int, generator: torch.Generator, n_ex: int | None = None) -> Tensor:
        """B sequences of one evaluation set: context from train inputs, the last (query) example from the set's inputs.

        ``which`` is one of EVAL_SETS; the tasks are cycled so that every task of the set is used evenly.
        """
        if which not in EVAL_SETS:
            raise ValueError(f"eval set {which!r}: allowed {EVAL_SETS}")
        tasks = self.id_tasks if which.startswith("id") else self.ood_tasks
        query = self.train_pairs if which.endswith("train") else self.test_pairs
        idx = balanced_index(tasks.shape[0], B, generator, tasks.device)
        return sequences(tasks, self.train_pairs, query, n_ex or self.n_ex, self.p, generator, idx)


def z_positions(n_ex: int) -> Tensor:
    """Positions whose outputs predict the z tokens: the y token of each example, 3i + 1."""
    return torch.arange(n_ex) * 3 + 1


def z_logits_targets(logits: Tensor, tokens: Tensor) -> tuple[Tensor, Tensor]:
    """From decoder outputs (…, 3n, p) and tokens (…, 3n): logits (…, n, p) at the y positions and the z targets (…, n)."""
    n_ex = tokens.shape[-1] // 3
    pos = z_positions(n_ex).to(tokens.device)
    return logits[..., pos, :], tokens[..., pos + 1]
