"""Chapter 5's study (issue 36): the chapter's ledger on its own data model and on variants that each change one of
its choices (``multi_concept_family``), seeds 0–2 each.

It has no rate claims: it is a table of where each claim of Bu et al. holds and where it breaks, read off three
members per data model (k of 3 per claim). The chapter's own point repeats the chapter's recorded `ci` seeds 0–2.
"""
from __future__ import annotations

from ..evidence.studies import Study
from .multi_concept_family import KEEP, VARIANTS

STUDIES = {
    "data-model-family": Study(
        name="data-model-family", chapter="05",
        profile="ci",  # most of the ledger holds at ci in every recorded seed (results/05_multi_concept/ci-plain.json)
        points=tuple({"variant": name} for name in VARIANTS), members=3,
        member="iclbook.experiments.multi_concept_family:family_member", keep=KEEP,
        success="1a_holds",  # the paper's headline: the 0-1 error reaches the Bayes error
        first_seed=0,  # the chapter's seeds 0, 1, 2 (its own point repeats its recorded runs)
        description="Chapter 5's ledger on the chapter's data model and on variants that each change one of its "
                    "choices: " + "; ".join(f"{v.name}: {v.reason}" for v in VARIANTS.values()) + "."),
}
