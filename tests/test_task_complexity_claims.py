"""Chapter 1's paper claims on synthetic inputs: each criterion fails where the claim is false and holds where it
is true (the claims are read by functions of iclbook.experiments.task_complexity)."""
import math

import numpy as np

from iclbook.claims import above, below
from iclbook.chapters.task_complexity import COUNT_REACH, t_count_range
from iclbook.experiments.task_complexity import (decaying_need_fewer, optimality_readout, pretrain_sgd_sweep, rate_fit,
                                                 tasks_growth, tasks_needed, unreached_note)

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


def test_claim_2_fails_on_two_log_factors():
    """The schedule costs one log factor (T_eff = T / ln T); log² T / T is slower than the paper's bound allows."""
    assert not _claim_2(0.3 * np.log(T) ** 2 / T)


def test_claim_2_holds_on_one_over_T_and_on_log_T_over_T():
    assert _claim_2(20.0 / T)
    assert _claim_2(3.0 * np.log(T) / T)
    fit = rate_fit(T, _seeds(3.0 * np.log(T) / T))
    assert -0.93 < fit.theory[1] < -0.85  # the log factor's slope over this window


def test_claim_2_holds_on_a_faster_decay():
    """One-sided: the paper bounds the excess risk from above, so a decay faster than 1/T is no evidence against it
    (a slope of -1.03, as in the ci record's seed 3, failed the old two-sided band)."""
    assert _claim_2(20.0 * T**-1.03)
    assert _claim_2(200.0 * T**-1.5)
    fit = rate_fit(T, _seeds(200.0 * T**-1.5))
    assert "≤" in str(fit.criterion()) and fit.limit == fit.theory[1] + 2 * fit.se


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


def test_claims_3a_3b_read_every_d_and_fail_when_the_largest_is_not_reached():
    """d² growth over d = 8…32 but no count at d = 64: the slope must not silently drop d = 64."""
    missing_top = _needed(lambda d: math.inf if d == 64 else 4.0 * d * d, lambda d: 30.0 * d, lambda d: 100.0)
    assert math.isnan(tasks_growth(missing_top, "identity", D)) and not above(1.5)(tasks_growth(missing_top,
                                                                                               "identity", D))
    missing_exp = _needed(lambda d: 4.0 * d * d, lambda d: 30.0 * d, lambda d: math.inf if d == 64 else 100.0)
    assert not below(0.75)(tasks_growth(missing_exp, "exp", D))
    note = unreached_note(missing_top, D, 2**19)
    assert "identity spectrum at d = 64" in note and "3a, 3c fail" in note
    assert unreached_note(_needed(lambda d: 4.0 * d * d, lambda d: 1.0, lambda d: 1.0), D, 2**19).startswith("Every")


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


def test_count_range_reaches_the_flat_count_at_the_largest_d():
    """Claim 3's T range: powers of two from 16 to max(T_grid) or COUNT_REACH · d_max², whichever is larger."""
    cpu = t_count_range([4, 8, 16, 32, 64], [64, 256, 1024, 4096, 16384, 65536])
    assert cpu[0] == 16 and cpu[-1] == 2**19 >= COUNT_REACH * 64**2
    assert all(b == 2 * a for a, b in zip(cpu[:-1], cpu[1:]))
    assert t_count_range([4, 8], [64, 2**20])[-1] == 2**20  # never shorter than claim 2's range


def test_tasks_needed_stops_at_each_count_and_equals_the_full_sweep():
    """The sweep stops at the first T at or below ε; the count is that of the full sweep (the first crossing)."""
    from iclbook import closed_forms as cf
    from iclbook.analysis.scaling import first_crossing
    from iclbook.tasks.regression import RegressionTask
    from iclbook.tasks.spectra import spectrum

    T_fine, seeds, eps = [16, 32, 64, 128, 256, 512, 1024], [0, 1, 2], 0.1
    needed, curves = tasks_needed([2], 4, 1.0, T_fine, seeds, eps, "cpu")
    assert any(len(c) < len(T_fine) for c in curves.values())  # some sweep did stop early
    for name in ("identity", "power", "exp"):
        lam = spectrum(name, 2)
        psi2 = 1.0 / float(lam.sum())
        task = RegressionTask(d=2, K=4, sigma2=1.0, psi2=psi2, H=lam)
        full = pretrain_sgd_sweep(task, T_fine, seeds, cf.suggested_gamma0(lam, 4, 1.0, psi2))
        ex = [float(np.median((cf.risk(full[t], lam, 4, 1.0, psi2) - cf.risk_star(lam, 4, 1.0, psi2)).numpy()))
              for t in T_fine]
        n = len(curves[name, 2])
        assert np.allclose(curves[name, 2], ex[:n]) and needed[name, 2] == first_crossing(T_fine, ex, eps)
        assert n == len(T_fine) or (ex[n - 1] <= eps and all(e > eps for e in ex[:n - 1]))
