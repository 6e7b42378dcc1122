"""Chapter 5's claims on synthetic inputs: each paper claim fails where it is false and holds where it is true."""
from __future__ import annotations

import numpy as np
import pytest

from iclbook.analysis.concept_probes import fit_exponential_rate
from iclbook.experiments.multi_concept_claims import (attention_correct, bayes_reached, control_fails,
                                                      eps_law_linear, exponential_not_power_law, ood_near_bayes,
                                                      weights_align)

# the ci evaluation grid: every 5 steps up to 400, every 25 after, to 1000; the test set resolves 1e-3
T = np.array(sorted(set(range(0, 401, 5)) | set(range(0, 1001, 25))), float)
RES = 1e-3


def power_law(a: float, t0: float) -> np.ndarray:
    """A plateau at 1/2, then c·t^-a timed from the start of training (reaching 1/2 at t0)."""
    return np.minimum(0.5, 0.5 * (np.maximum(T, 1.0) / t0) ** -a)


def exponential(rate: float, t0: float, jitter: float = 0.0, seed: int = 0) -> np.ndarray:
    """A plateau at 1/2 left along a logistic, i.e. an exponential decay at ``rate`` after t0; optional SGD-like
    multiplicative jitter."""
    e = 0.5 / (1 + np.exp(rate * (T - t0)))
    return e * np.exp(jitter * np.random.default_rng(seed).standard_normal(len(T)))


@pytest.mark.parametrize("a", [3, 4])
@pytest.mark.parametrize("t0", [20, 100])
def test_claim_1b_fails_on_power_laws(a, t0):
    curve = power_law(a, t0)
    # the old criterion (R² > 0.9 of the log-linear envelope fit) passes these power laws
    assert fit_exponential_rate(T, curve, start=0.3, resolution=RES, envelope=True)["r2"] > 0.9
    r = exponential_not_power_law([(T, curve), (T, curve)], RES)
    assert not r.holds() and r.value < 0.5


@pytest.mark.parametrize("rate,t0", [(0.02, 300), (0.05, 400), (0.03, 150)])
def test_claim_1b_holds_on_an_exponential(rate, t0):
    curves = [(T, exponential(rate, t0, jitter=0.15, seed=s)) for s in range(2)]
    r = exponential_not_power_law(curves, RES)
    assert r.holds(), r


def test_claim_1b_fails_when_one_seed_slows_down():
    r = exponential_not_power_law([(T, exponential(0.03, 300)), (T, power_law(3, 50))], RES)
    assert not r.holds()


def test_claim_1a_fails_above_the_bayes_error():
    assert not bayes_reached([0.0, 0.02], 0.11, 0.1).holds()


def test_claim_1a_holds_at_the_bayes_error():
    assert bayes_reached([0.0, 0.001], 0.1, 0.1).holds()


def test_claim_2_fails_on_unsharpened_attention():
    assert not attention_correct([0.78, 0.95], 0.5).holds()  # the median of two is their mean: 0.865


def test_claim_2_holds_on_sharp_attention():
    assert attention_correct([0.93, 0.95], 0.5).holds()


def _products(part: str, spec: float, comp: float, noise: float) -> dict:
    return {f"{part}_specific": spec, f"{part}_complement": comp, f"{part}_noise": noise}


@pytest.mark.parametrize("claim,part", [("3a", "attn"), ("3b", "mlp")])
def test_claims_3a_3b_fail_when_complement_or_noise_grow_as_much(claim, part):
    assert not weights_align([_products(part, 1.0, 0.1, 0.1), _products(part, 1.0, 0.6, 0.1)], part).holds()
    assert not weights_align([_products(part, 1.0, 0.1, 0.6)], part).holds()


@pytest.mark.parametrize("claim,part", [("3a", "attn"), ("3b", "mlp")])
def test_claims_3a_3b_hold_when_the_specific_product_dominates(claim, part):
    assert weights_align([_products(part, 1.0, 0.1, 0.2), _products(part, 2.0, 0.5, 0.1)], part).holds()


def _sets(errs_by_set: dict[str, list[float]], control: float = 0.5) -> dict:
    return {n: {"model": [{"err": e} for e in errs], "control": {"err": control}} for n, errs in errs_by_set.items()}


def test_claim_4a_fails_when_one_shift_breaks_one_seed():
    ind = _sets({"in": [0.1, 0.1]})["in"]
    r = ood_near_bayes(ind, _sets({"L = 2": [0.1, 0.14], "skewed concepts": [0.1, 0.1]}), 0.1)
    assert not r.holds() and "L = 2" in r.detail


def test_claim_4a_holds_near_bayes_on_every_shift():
    ind = _sets({"in": [0.1, 0.1]})["in"]
    assert ood_near_bayes(ind, _sets({"L = 2": [0.11, 0.12], "skewed concepts": [0.1, 0.1]}), 0.1).holds()


def test_check_4b_fails_when_the_control_reads_labels():
    ind = _sets({"in": [0.1]}, control=0.5)["in"]
    assert not control_fails(ind, _sets({"a": [0.1]}, control=0.2)).holds()
    assert control_fails(ind, _sets({"a": [0.1]}, control=0.48)).holds()


def test_check_5_reads_the_eps_law():
    eps = np.array([0.2, 0.1, 0.05, 0.02, 0.01])
    assert eps_law_linear(eps, np.array([300 + 20 * np.log(1 / eps)])).holds()
    assert not eps_law_linear(eps, np.array([[300, 300, 300, 300, 900]])).holds()


def test_reading_records_value_criterion_and_detail():
    from iclbook.claims import Ledger

    led = Ledger("05", "ci")
    attention_correct([0.95], 0.5).record(led, "2", "attention", kind="paper", source="(paper: abstract only)")
    c = led["2"]
    assert c.holds and c.value == 0.95 and c.criterion == "> 0.9" and "at init 0.50" in c.detail
