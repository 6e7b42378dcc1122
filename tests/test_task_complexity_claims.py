"""Chapter 1's paper claims on synthetic inputs: each criterion fails where the claim is false and holds where it
is true (the claims are read by functions of iclbook.experiments.task_complexity)."""
import math

import numpy as np

from iclbook.claims import above, below
from iclbook.experiments.task_complexity import decaying_need_fewer, optimality_readout, rate_fit, tasks_growth

T = np.array([1024, 4096, 16384, 65536])


def _seeds(curve, n=32, noise=0.2, seed=0):
    """(len(T), n) runs scattered log-normally around ``curve``, as SGD seeds are."""
    gen = np.random.default_rng(seed)
    return curve[:, None] * np.exp(noise * gen.standard_normal((len(curve), n)))


def _claim_2(curve, **kw) -> bool:
    fit = rate_fit(T, _seeds(curve, **kw))
    return fit.criterion()(fit.slope)


def test_claim_2_fails_on_a_slower_rate():
    assert not _claim_2(5.0 * T**-0.7)


def test_claim_2_holds_on_one_over_T_and_on_log_T_over_T():
    assert _claim_2(20.0 / T)
    assert _claim_2(3.0 * np.log(T) / T)
    fit = rate_fit(T, _seeds(3.0 * np.log(T) / T))
    assert -0.93 < fit.theory[1] < -0.85  # the log factor's slope over this window


def test_claim_2_fails_when_the_seeds_cannot_resolve_the_slope():
    fit = rate_fit(T[:2], _seeds(20.0 / T[:2], n=4, noise=1.5))
    assert fit.tol > 0.1 and not fit.criterion()(-1.0)


D = [8, 16, 32, 64]


def _needed(flat, power, exp):
    return {**{("identity", d): f(d) for d, f in zip(D, [flat] * 4)},
            **{("power", d): power(d) for d in D}, **{("exp", d): exp(d) for d in D}}


def test_claims_3a_3b_hold_on_d_squared_and_flat_counts():
    needed = _needed(lambda d: 4.0 * d * d, lambda d: 30.0 * d, lambda d: 100.0)
    assert above(1.5)(tasks_growth(needed, "identity", D))
    assert below(0.75)(tasks_growth(needed, "exp", D))


def test_claims_3a_3b_fail_when_counts_do_not_scale_as_stated():
    needed = _needed(lambda d: 30.0 * d, lambda d: 30.0 * d, lambda d: 10.0 * d)
    assert not above(1.5)(tasks_growth(needed, "identity", D))  # linear, not d²
    assert not below(0.75)(tasks_growth(needed, "exp", D))  # grows with d
    only_one = _needed(lambda d: math.inf if d > 8 else 100.0, lambda d: 1.0, lambda d: 1.0)
    assert math.isnan(tasks_growth(only_one, "identity", D)) and not above(1.5)(math.nan)


def test_claim_3c_holds_when_decaying_spectra_need_fewer():
    assert decaying_need_fewer(_needed(lambda d: 4000.0, lambda d: 900.0, lambda d: 100.0), 64)


def test_claim_3c_fails_when_flat_never_reaches_eps_or_a_decaying_one_needs_more():
    assert not decaying_need_fewer(_needed(lambda d: math.inf, lambda d: 900.0, lambda d: 100.0), 64)
    assert not decaying_need_fewer(_needed(lambda d: 800.0, lambda d: 900.0, lambda d: 100.0), 64)


def test_claim_3d_reads_tasks_over_d_squared():
    assert below(0.5)(100.0 / 64**2) and not below(0.5)(3000.0 / 64**2)


def test_claims_4a_4b_hold_on_a_dip_at_N_and_fail_on_a_flat_or_poor_curve():
    dip = np.array([1.5, 1.2, 1.05, 1.3, 1.6])
    at_N, margin = optimality_readout(dip, 2)
    assert below(1.1)(at_N) and above(0.02)(margin)
    at_N, margin = optimality_readout(np.array([1.06, 1.05, 1.05, 1.05, 1.06]), 2)  # optimal everywhere
    assert below(1.1)(at_N) and not above(0.02)(margin)
    at_N, _ = optimality_readout(np.array([1.6, 1.4, 1.3, 1.4, 1.6]), 2)  # far from Bayes at N
    assert not below(1.1)(at_N)
