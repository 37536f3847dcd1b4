"""Firth's penalised-likelihood logistic regression against closed forms and maximum likelihood."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from genomlysning import firth


def two_by_two(a: int, b: int, c: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-level data: exposed a events / b non-events, unexposed c events / d non-events."""
    X = np.array([[1.0, 1.0]] * (a + b) + [[1.0, 0.0]] * (c + d))
    y = np.array([1.0] * a + [0.0] * b + [1.0] * c + [0.0] * d)
    return X, y


def one_factor(events: list[int], trials: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Aggregated saturated design: intercept (level 0) + one dummy per further level."""
    k = len(events)
    X = np.zeros((k, k))
    X[:, 0] = 1.0
    for j in range(1, k):
        X[j, j] = 1.0
    return X, np.array(events, dtype=float), np.array(trials, dtype=float)


@pytest.mark.parametrize(("a", "b", "c", "d"), [(7, 0, 3, 10), (12, 5, 4, 9), (0, 6, 5, 5), (3, 3, 0, 8)])
def test_two_by_two_log_odds_ratio_is_the_half_corrected_cross_product(a: int, b: int, c: int,
                                                                       d: int) -> None:
    X, y = two_by_two(a, b, c, d)
    fit = firth.firth_logit(X, y)
    assert fit.converged
    assert fit.params[1] == pytest.approx(np.log((a + .5) * (d + .5) / ((b + .5) * (c + .5))), abs=1e-7)
    assert fit.params[0] == pytest.approx(np.log((c + .5) / (d + .5)), abs=1e-7)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.floats(0, 1)), min_size=2, max_size=5))
def test_saturated_one_factor_model_gives_half_corrected_cell_logits(cells: list[tuple[int, float]]) -> None:
    trials = [m for m, _ in cells]
    events = [int(round(m * f)) for m, f in cells]
    X, y, m = one_factor(events, trials)
    fit = firth.firth_logit(X, y, trials=m)
    assert fit.converged
    fitted = special.expit(X @ fit.params)
    expected = (np.array(events) + 0.5) / (np.array(trials) + 1.0)
    np.testing.assert_allclose(fitted, expected, atol=1e-7)


def test_aggregated_and_row_level_fits_agree() -> None:
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(300), rng.integers(0, 2, 300), rng.integers(0, 3, 300) == 1])
    y = (rng.random(300) < special.expit(-0.3 + 0.8 * X[:, 1] - 0.5 * X[:, 2])).astype(float)
    row = firth.firth_logit(X, y)
    pats, events, trials, inverse = firth.collapse(X, y)
    agg = firth.firth_logit(pats, events, trials=trials)
    assert len(pats) == 4 and trials.sum() == 300 and events.sum() == y.sum()
    np.testing.assert_array_equal(pats[inverse], X)
    np.testing.assert_allclose(agg.params, row.params, atol=1e-8)
    # the binomial kernel drops the same constant in both, so penalised log-likelihoods agree too
    assert agg.penalised_loglik == pytest.approx(row.penalised_loglik, abs=1e-8)


def test_close_to_maximum_likelihood_for_large_n_without_separation() -> None:
    rng = np.random.default_rng(11)
    n = 20_000
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.normal(size=n)])
    y = (rng.random(n) < special.expit(X @ np.array([-0.5, 0.7, 0.4]))).astype(float)
    ml = sm.Logit(y, X).fit(disp=False)
    fit = firth.firth_logit(X, y)
    diff = np.abs(fit.params - np.asarray(ml.params))
    assert np.all(diff < 0.05 * np.asarray(ml.bse))
    # the Firth correction shrinks towards zero: |Firth| <= |ML| coefficient by coefficient
    assert np.all(np.abs(fit.params[1:]) <= np.abs(np.asarray(ml.params)[1:]) + 1e-12)
    np.testing.assert_allclose(fit.bse, np.asarray(ml.bse), rtol=1e-3)


def test_separation_gives_finite_estimates_and_a_finite_profile_interval() -> None:
    X, y = two_by_two(15, 0, 6, 14)
    fit = firth.firth_logit(X, y)
    assert np.all(np.isfinite(fit.params))
    ci = firth.profile_ci(X, y, fit)
    assert np.all(np.isfinite(ci))
    assert ci[1, 0] < fit.params[1] < ci[1, 1]
    assert ci[1, 0] > 0  # the exposure is clearly associated


def test_profile_limits_solve_the_defining_equation() -> None:
    X, y = two_by_two(9, 2, 5, 12)
    fit = firth.firth_logit(X, y)
    ci = firth.profile_ci(X, y, fit)
    crit = stats.chi2.ppf(0.95, 1)
    for j in range(2):
        for b in ci[j]:
            restricted = firth.firth_logit(X, y, fixed={j: b})
            # the signed root of the drop equals z to the root finder's tolerance (1e-4)
            drop = 2 * (fit.penalised_loglik - restricted.penalised_loglik)
            assert np.sqrt(drop) == pytest.approx(np.sqrt(crit), abs=1e-4)
            # the restricted fit maximises over the other coefficient: the free score is zero
            assert restricted.converged


def test_profile_interval_approaches_wald_for_large_n() -> None:
    rng = np.random.default_rng(5)
    n = 5_000
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n)])
    y = (rng.random(n) < special.expit(-0.2 + 0.5 * X[:, 1])).astype(float)
    pats, events, trials, _ = firth.collapse(X, y)
    fit = firth.firth_logit(pats, events, trials=trials)
    ci = firth.profile_ci(pats, events, fit, trials=trials)
    wald = fit.params[:, None] + np.outer(fit.bse, [-1.96, 1.96])
    np.testing.assert_allclose(ci, wald, atol=0.01)


def test_penalised_lr_test_matches_refit_by_hand() -> None:
    X, y = two_by_two(10, 4, 5, 11)
    fit = firth.firth_logit(X, y)
    stat, df, p = firth.penalised_lr_test(X, y, fit, [1])
    null = firth.firth_logit(X, y, fixed={1: 0.0})
    assert df == 1
    assert stat == pytest.approx(2 * (fit.penalised_loglik - null.penalised_loglik))
    assert p == pytest.approx(stats.chi2.sf(stat, 1))
    assert null.params[1] == 0.0


def test_fixed_coefficients_stay_fixed() -> None:
    X, y = two_by_two(4, 6, 7, 3)
    r = firth.firth_logit(X, y, fixed={0: 0.25, 1: -1.0})
    assert r.params.tolist() == [0.25, -1.0]
    assert r.converged and r.n_iter == 0


def test_cluster_covariance_matches_statsmodels_cluster_ml_for_large_n() -> None:
    rng = np.random.default_rng(8)
    n_children = 3_000
    child = rng.integers(0, n_children, 9_000)
    u = rng.normal(0, 0.8, n_children)[child]
    X = np.column_stack([np.ones(len(child)), rng.integers(0, 2, len(child))])
    y = (rng.random(len(child)) < special.expit(-0.4 + 0.6 * X[:, 1] + u)).astype(float)
    ml = sm.Logit(y, X).fit(disp=False, cov_type="cluster", cov_kwds={"groups": child})
    fit = firth.firth_logit(X, y)
    cov = firth.cluster_cov(X, y, fit, child)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), np.asarray(ml.bse), rtol=0.01)


def test_cluster_covariance_with_singleton_clusters_is_the_sandwich_by_hand() -> None:
    X, y = two_by_two(8, 5, 4, 9)
    fit = firth.firth_logit(X, y)
    cov = firth.cluster_cov(X, y, fit, np.arange(len(y)), correction=False)
    p = special.expit(X @ fit.params)
    h = p * (1 - p) * np.array([x @ fit.cov @ x for x in X])
    scores = X * (y - p + h * (0.5 - p))[:, None]
    expected = fit.cov @ sum(np.outer(s, s) for s in scores) @ fit.cov
    np.testing.assert_allclose(cov, expected, rtol=1e-10)


def test_singular_design_is_reported() -> None:
    X = np.column_stack([np.ones(6), np.zeros(6)])
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        firth.firth_logit(X, np.array([0, 1, 0, 1, 1, 0.0]))


def test_aliased_columns_finds_zero_duplicate_and_complement_columns() -> None:
    a = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    b = np.array([0.0, 1.0, 1.0, 0.0, 0.0, 1.0])
    one = np.ones(6)
    X = np.column_stack([one, a, 1.0 - a, np.zeros(6), b, a + 2.0 * b, 3.0 * b])
    # 1 - a is in span(1, a); the zero column always; a + 2b and 3b once b is in
    np.testing.assert_array_equal(firth.aliased_columns(X), [2, 3, 5, 6])
    assert firth.aliased_columns(np.column_stack([one, a, b])).size == 0
    # more columns than rows: the surplus ones are aliased
    np.testing.assert_array_equal(firth.aliased_columns(np.eye(2, 3)), [2])


def test_singular_design_raises_a_named_error_and_the_reduced_design_fits() -> None:
    X, y = two_by_two(6, 4, 3, 7)
    Xs = np.column_stack([X, 1.0 - X[:, 1]])
    with pytest.raises(firth.SingularDesignError) as err:
        firth.firth_logit(Xs, y)
    assert err.value.columns == (2,) and isinstance(err.value, np.linalg.LinAlgError)
    keep = np.setdiff1d(np.arange(3), firth.aliased_columns(Xs))
    # 2x2 table: Firth = ML on the table with 1/2 added to every cell (closed form)
    fit = firth.firth_logit(Xs[:, keep], y)
    assert fit.params[1] == pytest.approx(np.log((6.5 * 7.5) / (4.5 * 3.5)), abs=1e-7)
