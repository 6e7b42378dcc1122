"""The claim ledger: each paper claim, the number this run measured, the criterion (code) and whether it held.

Claims are computed, never typed: a criterion is a small callable object whose ``str`` is what the table shows,
so the text and the check cannot drift apart.

Every entry has a *kind*, because a reader must not count a test of our own method as a reproduced result:
``paper`` (a result a paper states about trained models), ``extension`` (our own claim about trained models,
beyond the paper) and ``check`` (a test of our method: a closed form against simulation, a baseline, a control
built to fail, estimator health).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from .atomic import atomic_write_text
from .profiles import PROFILES

KINDS = ("paper", "extension", "check")


@dataclass(frozen=True)
class Criterion:
    """A named check ``test(value) -> bool`` whose description is shown in the ledger."""

    text: str
    test: Callable[[Any], bool]

    def __call__(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except (TypeError, ValueError):
            return False

    def __str__(self) -> str:
        return self.text


def below(limit: float) -> Criterion:
    return Criterion(f"< {limit:g}", lambda v: math.isfinite(v) and v < limit)


def above(limit: float) -> Criterion:
    return Criterion(f"> {limit:g}", lambda v: math.isfinite(v) and v > limit)


def at_least(limit: float) -> Criterion:
    return Criterion(f"≥ {limit:g}", lambda v: math.isfinite(v) and v >= limit)


def between(low: float, high: float) -> Criterion:
    return Criterion(f"in [{low:g}, {high:g}]", lambda v: math.isfinite(v) and low <= v <= high)


def near(target: float, tol: float) -> Criterion:
    return Criterion(f"within {tol:g} of {target:g}", lambda v: math.isfinite(v) and abs(v - target) <= tol)


def is_true(text: str = "true") -> Criterion:
    return Criterion(text, lambda v: v is True)


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    value: Any  # a number, or a bool for qualitative checks
    criterion: str
    holds: bool
    expected_at: tuple[str, ...]  # profiles at which the claim is meant to hold
    detail: str = ""
    source: str = ""  # the paper's number or wording it is compared with
    kind: str = "paper"  # one of KINDS

    def status(self, profile: str) -> str:
        if self.holds:
            return "holds"
        if profile in self.expected_at:
            return "FAILS"
        return f"not reproduced at `{profile}` (needs {'/'.join(self.expected_at)})"


class Ledger:
    """The claims of one chapter run; ``add`` computes the verdict, ``show`` renders, ``save`` writes JSON."""

    def __init__(self, chapter: str, profile: str) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}")
        self.chapter, self.profile = chapter, profile
        self.claims: list[Claim] = []
        self.provenance: dict[str, Any] = {}  # what the run was computed with (iclbook.provenance)

    def add(
        self,
        id: str,
        statement: str,
        value: Any,
        criterion: Criterion,
        *,
        kind: str,
        expected_at: Sequence[str] = PROFILES,
        detail: str = "",
        source: str = "",
    ) -> None:
        """Compute the verdict of one claim and record it (returns nothing, so a notebook cell prints nothing).

        ``kind`` has no default: whether an entry is a paper's result or a check of our method is a decision."""
        if any(c.id == id for c in self.claims):
            raise ValueError(f"claim {id!r} added twice")
        if kind not in KINDS:
            raise ValueError(f"claim {id!r}: kind {kind!r} is not one of {', '.join(KINDS)}")
        bad = [p for p in expected_at if p not in PROFILES]
        if bad:
            raise ValueError(f"unknown profiles {bad}")
        if hasattr(value, "item"):  # numpy / torch scalars
            value = value.item()
        claim = Claim(id, statement, value, str(criterion), criterion(value), tuple(expected_at), detail, source,
                      kind)
        self.claims.append(claim)

    def __getitem__(self, id: str) -> Claim:
        for c in self.claims:
            if c.id == id:
                return c
        raise KeyError(id)

    def markdown(self) -> str:
        rows = ["| # | kind | claim | measured | criterion | expected at | status |",
                "|---|---|---|---|---|---|---|"]
        for c in self.claims:
            value = fmt_value(c.value) + (f" ({c.detail})" if c.detail else "")
            rows.append(
                f"| {c.id} | {c.kind} | {c.statement} | {value} | {c.criterion} | {', '.join(c.expected_at)} "
                f"| {c.status(self.profile)} |"
            )
        return "\n".join(rows) + "\n\n" + tally_text(tally([asdict(c) for c in self.claims], self.profile))

    def show(self) -> None:
        """Display the ledger as a table in the notebook (a plain print outside IPython)."""
        try:
            from IPython.display import Markdown, display

            display(Markdown(self.markdown()))
        except ImportError:  # pragma: no cover
            print(self.markdown())

    def glue(self) -> None:
        """Glue each claim's value and status (``claim<id>_value`` / ``claim<id>_status``) for the prose."""
        from myst_nb import glue

        for c in self.claims:
            glue(f"claim{c.id}_value", fmt_value(c.value), display=False)
            glue(f"claim{c.id}_status", c.status(self.profile), display=False)

    def to_dict(self) -> dict:
        return {"chapter": self.chapter, "profile": self.profile, "claims": [asdict(c) for c in self.claims],
                "provenance": self.provenance}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, default=_json_default))
        return path


def tally(claims: Sequence[dict], profile: str) -> dict[str, dict[str, int]]:
    """Count a ledger's entries per kind: held, expected only at a larger profile, and failed where expected.

    Entries are dicts as in ``claims.json``; one written before kinds existed counts as ``paper``."""
    out = {k: {"holds": 0, "later": 0, "fails": 0} for k in KINDS}
    for c in claims:
        row = out[c.get("kind", "paper")]
        if c["holds"]:
            row["holds"] += 1
        elif profile in c["expected_at"]:
            row["fails"] += 1
        else:
            row["later"] += 1
    return out


def tally_text(counts: dict[str, dict[str, int]]) -> str:
    """One sentence: the paper claims first, then extensions and checks apart."""
    parts = []
    for kind, label in (("paper", "paper claims"), ("extension", "extensions"), ("check", "checks of our method")):
        c = counts[kind]
        n = sum(c.values())
        if n == 0:
            continue
        parts.append(f"{label}: {c['holds']} of {n} hold, {c['later']} expected only at a larger profile, "
                     f"{c['fails']} fail where expected")
    return ("; ".join(parts) + ".") if parts else "No claims."


def load(path: str | Path) -> dict:
    """Read a ``claims.json`` written by :meth:`Ledger.save`."""
    return json.loads(Path(path).read_text())


def fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3g}" if math.isfinite(v) else str(v)
    return str(v)


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(type(o))
