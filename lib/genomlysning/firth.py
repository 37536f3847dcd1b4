"""Firth's penalised-likelihood logistic regression.

Firth (1993) adds the Jeffreys-prior penalty ``0.5 * log det I(beta)`` to the log-likelihood. The
estimates are always finite, also under complete or quasi-complete separation, and their
small-sample bias is of order 1/n^2 instead of 1/n (Heinze & Schemper 2002, the R package
``logistf``). The modified score is

    U*(beta) = X' (y - m p + h (1/2 - p)),

with ``h`` the diagonal of the hat matrix ``W^1/2 X I^-1 X' W^1/2``, ``W = diag(m p (1 - p))``. It is
solved by Fisher scoring with step-halving on the penalised log-likelihood.

Data may be row level (``trials`` = 1) or aggregated into covariate patterns (``y`` = events,
``trials`` = rows): the Fisher information, hence the penalty and the estimates, are the same, and
aggregation makes profile-likelihood intervals fast. :func:`collapse` does the aggregation.

Confidence intervals: :func:`profile_ci` inverts the penalised likelihood-ratio test (the interval
``logistf`` reports by default, and the one recommended under separation, where Wald intervals based
on ``I^-1`` are unreliable). :func:`cluster_cov` gives a cluster-robust sandwich at the Firth
estimate for delta-method standard errors of derived quantities.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats


@dataclass(frozen=True)
class FirthResult:
    """The Firth fit: estimates, model-based covariance and penalised log-likelihood."""

    params: np.ndarray
    cov: np.ndarray
    loglik: float
    penalised_loglik: float
    n_iter: int
    converged: bool
    fixed: tuple[int, ...] = ()

    @property
    def bse(self) -> np.ndarray:
        """Model-based standard errors (square roots of the diagonal of the inverse information)."""
        return np.sqrt(np.diag(self.cov))


class SingularDesignError(np.linalg.LinAlgError):
    """The design has aliased columns (all zero or linear combinations of earlier columns)."""

    def __init__(self, columns: Sequence[int]) -> None:
        self.columns = tuple(int(j) for j in columns)
        super().__init__("Firth: the Fisher information is singular: design column(s) "
                         f"{list(self.columns)} are constant zero or collinear with earlier columns "
                         "(drop them first, see aliased_columns)")


def aliased_columns(X: np.ndarray, rtol: float = 1e-8) -> np.ndarray:
    """Indices of the columns of ``X`` that are (numerically) linear combinations of earlier columns.

    Householder QR without pivoting: ``|R[j, j]|`` is the norm of column j's residual after projecting
    on columns 0..j-1. A column is aliased when that residual is at most ``rtol`` times its own norm
    (an all-zero column always is). Dropping every aliased column leaves a full-rank design with the
    same column space, and keeps the earliest columns (the intercept, the first terms).
    """
    X = np.asarray(X, dtype=float)
    if X.shape[1] == 0:
        return np.zeros(0, dtype=int)
    r = np.abs(np.diag(np.linalg.qr(X, mode="r"))) if X.shape[0] else np.zeros(X.shape[1])
    r = np.concatenate([r, np.zeros(X.shape[1] - len(r))])
    norms = np.linalg.norm(X, axis=0)
    return np.flatnonzero(r <= rtol * norms)


def collapse(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Aggregate identical rows of ``X``: return (patterns, events, trials, row -> pattern index)."""
    X = np.asarray(X, dtype=float)
    patterns, inverse = np.unique(X, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    trials = np.bincount(inverse, minlength=len(patterns)).astype(float)
    events = np.bincount(inverse, weights=np.asarray(y, dtype=float), minlength=len(patterns))
    return patterns, events, trials, inverse


def _trials(y: np.ndarray, trials: np.ndarray | None) -> np.ndarray:
    return np.ones_like(y, dtype=float) if trials is None else np.asarray(trials, dtype=float)


@dataclass
class _State:
    """Quantities at one coefficient vector, shared by the step and the line search."""

    beta: np.ndarray
    p: np.ndarray
    w: np.ndarray
    chol: np.ndarray | None
    loglik: float
    pll: float


def _state(X: np.ndarray, y: np.ndarray, m: np.ndarray, beta: np.ndarray) -> _State:
    """Evaluate the (penalised) log-likelihood at ``beta``; ``chol`` is None if I(beta) is singular."""
    eta = X @ beta
    loglik = float(np.sum(y * -np.logaddexp(0.0, -eta) + (m - y) * -np.logaddexp(0.0, eta)))
    p = special.expit(eta)
    w = m * p * (1.0 - p)
    try:
        chol = np.linalg.cholesky(X.T @ (w[:, None] * X))
    except np.linalg.LinAlgError:
        return _State(beta, p, w, None, loglik, -np.inf)
    return _State(beta, p, w, chol, loglik, loglik + float(np.sum(np.log(np.diag(chol)))))


def firth_logit(X: np.ndarray, y: np.ndarray, *, trials: np.ndarray | None = None,
                fixed: Mapping[int, float] | None = None, start: np.ndarray | None = None,
                maxiter: int = 200, tol: float = 1e-8, gtol: float = 1e-9,
                max_step: float = 5.0) -> FirthResult:
    """Fit a logistic regression by Firth's penalised likelihood.

    ``fixed`` holds coefficients at given values (for profile likelihood and penalised LR tests);
    the penalty always uses the full design, as in ``logistf``. ``max_step`` caps the largest
    change of one coefficient per iteration (``logistf``'s ``maxstep``). Converged when the
    largest step is below ``tol`` or the largest modified score below ``gtol`` (as ``logistf``'s
    ``xconv`` and ``gconv``).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    m = _trials(y, trials)
    p_cols = X.shape[1]
    fixed = dict(fixed or {})
    free = np.array([j for j in range(p_cols) if j not in fixed], dtype=int)
    beta = np.zeros(p_cols) if start is None else np.array(start, dtype=float)
    for j, v in fixed.items():
        beta[j] = v
    st = _state(X, y, m, beta)
    if st.chol is None:
        raise SingularDesignError(aliased_columns(X[m > 0]))
    converged = free.size == 0
    it = 0
    previous = np.zeros(p_cols)
    while not converged and it < maxiter:
        it += 1
        linv = np.linalg.inv(st.chol)
        inv = linv.T @ linv
        h = st.w * np.sum((X @ inv) * X, axis=1)
        score = X.T @ (y - m * st.p + h * (0.5 - st.p))
        if np.max(np.abs(score[free])) < gtol:
            converged = True
            break
        info = st.chol @ st.chol.T
        step = np.zeros(p_cols)
        step[free] = np.linalg.solve(info[np.ix_(free, free)], score[free])
        biggest = float(np.max(np.abs(step)))
        if biggest > max_step:
            step *= max_step / biggest
        # Fisher scoring ignores the penalty's curvature and can overshoot into a 2-cycle (tiny
        # cells); a step that reverses the previous one is halved, which breaks the cycle.
        lam = 0.5 if float(step @ previous) < 0.0 else 1.0
        previous = step
        cand = _state(X, y, m, st.beta + lam * step)
        while (cand.chol is None or cand.pll < st.pll - 1e-12) and lam > 1e-6:
            lam /= 2.0
            cand = _state(X, y, m, st.beta + lam * step)
        if cand.chol is None:
            break
        st = cand
        converged = biggest * lam < tol
    linv = np.linalg.inv(st.chol)
    return FirthResult(params=st.beta, cov=linv.T @ linv, loglik=st.loglik, penalised_loglik=st.pll,
                       n_iter=it, converged=converged, fixed=tuple(sorted(fixed)))


def penalised_lr_test(X: np.ndarray, y: np.ndarray, fit: FirthResult, cols: Sequence[int], *,
                      trials: np.ndarray | None = None, values: Sequence[float] | None = None
                      ) -> tuple[float, int, float]:
    """Penalised likelihood-ratio test of ``beta[cols] == values`` (default 0): (chi2, df, p)."""
    vals = [0.0] * len(cols) if values is None else list(values)
    start = fit.params.copy()
    restricted = firth_logit(X, y, trials=trials, fixed=dict(zip(cols, vals, strict=True)),
                             start=start)
    stat = max(0.0, 2.0 * (fit.penalised_loglik - restricted.penalised_loglik))
    return stat, len(cols), float(stats.chi2.sf(stat, len(cols)))


def _illinois(f: Callable[[float], float], a: float, fa: float, b: float, fb: float,
              xtol: float = 1e-6, ftol: float = 1e-6, maxiter: int = 60) -> float:
    """Root of ``f`` in the bracket [a, b] (fa < 0 < fb) by the Illinois variant of regula falsi."""
    side = 0
    for _ in range(maxiter):
        c = (a * fb - b * fa) / (fb - fa)
        fc = f(c)
        if abs(fc) < ftol or abs(b - a) < xtol:
            return c
        if (fc < 0) == (fa < 0):
            a, fa = c, fc
            if side == -1:
                fb /= 2.0
            side = -1
        else:
            b, fb = c, fc
            if side == 1:
                fa /= 2.0
            side = 1
    return c


def profile_ci(X: np.ndarray, y: np.ndarray, fit: FirthResult, *, trials: np.ndarray | None = None,
               alpha: float = 0.05, which: Sequence[int] | None = None) -> np.ndarray:
    """Profile penalised-likelihood confidence limits (rows: coefficients; columns: lower, upper).

    A limit is the value ``b`` of one coefficient where twice the drop of the penalised
    log-likelihood, maximised over the others, equals the chi-square(1) quantile. The root is found
    on the signed-root scale sqrt(2 * drop), which is nearly linear in ``b`` (few refits).
    Coefficients not in ``which`` get NaN; a limit that does not exist is +-inf.
    """
    X = np.asarray(X, dtype=float)
    z = float(np.sqrt(stats.chi2.ppf(1.0 - alpha, 1)))
    out = np.full((X.shape[1], 2), np.nan)
    idx = range(X.shape[1]) if which is None else which
    for j in idx:
        est = float(fit.params[j])
        width = max(float(fit.bse[j]) * z, 0.1)
        for col, sign in ((0, -1.0), (1, 1.0)):
            warm = {"start": fit.params.copy()}

            def root(b: float, j: int = j, warm: dict[str, np.ndarray] = warm) -> float:
                r = firth_logit(X, y, trials=trials, fixed={j: b}, start=warm["start"], tol=1e-6)
                warm["start"] = r.params.copy()
                return float(np.sqrt(max(0.0, 2.0 * (fit.penalised_loglik - r.penalised_loglik)))) - z

            inner, f_inner = est, -z
            outer = est + sign * width
            f_outer = root(outer)
            n_expand = 0
            while f_outer < 0.0 and n_expand < 40:
                inner, f_inner = outer, f_outer
                outer = est + sign * abs(outer - est) * 2.0
                f_outer = root(outer)
                n_expand += 1
            if f_outer < 0.0:
                out[j, col] = sign * np.inf
                continue
            out[j, col] = _illinois(root, inner, f_inner, outer, f_outer, ftol=1e-4)
    return out


def cluster_cov(X: np.ndarray, y: np.ndarray, fit: FirthResult, groups: np.ndarray, *,
                correction: bool = True) -> np.ndarray:
    """Cluster-robust sandwich covariance at a Firth estimate (row-level data).

    Bread: the inverse Fisher information; meat: outer products of the per-cluster sums of the
    modified score contributions. ``correction`` applies the factor G/(G-1) * (N-1)/(N-K) that
    statsmodels uses for ``cov_type="cluster"`` (Stata's convention).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    p = special.expit(X @ fit.params)
    w = p * (1.0 - p)
    h = w * np.sum((X @ fit.cov) * X, axis=1)
    contrib = X * (y - p + h * (0.5 - p))[:, None]
    _, g = np.unique(np.asarray(groups), return_inverse=True)
    g = g.ravel()
    sums = np.zeros((g.max() + 1, X.shape[1]))
    np.add.at(sums, g, contrib)
    meat = sums.T @ sums
    cov = fit.cov @ meat @ fit.cov
    if correction:
        n_g, n, k = sums.shape[0], X.shape[0], X.shape[1]
        cov *= n_g / (n_g - 1.0) * (n - 1.0) / (n - k)
    return cov
