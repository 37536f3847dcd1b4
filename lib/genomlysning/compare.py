"""Comparing municipalities: funnel plots (Spiegelhalter 2005) and case-mix adjustment.

Units are municipalities (or city districts). Every rate is a share of aktualiseringar (rows) unless
the indicator says otherwise; the denominator of each indicator is stated in ``INDICATORS``.

Funnel plots follow Spiegelhalter (2005), *Funnel plots for comparing institutional performance*,
Stat Med 24:1185-1202: the target is the pooled rate, control limits are exact binomial (Poisson for
ratios) quantiles with his interpolation so the limits are smooth in the volume, and overdispersion
is tested with the winsorised standardised Pearson z-scores; when it is significant the limits are
widened by an additive random-effects variance (tau^2, DerSimonian-Laird moment estimator) or,
optionally, multiplicatively by phi.

Case-mix adjustment is indirect standardisation: a pooled logistic model of the case-mix predictors
(without municipality) predicts each row's probability; a municipality's expected count is the sum
of its predictions and its standardised ratio is observed/expected. The between-municipality
variation that case mix does not explain is summarised by the median odds ratio (MOR) from a
random-intercept model estimated in two stages: municipality fixed effects (with the case-mix
predictors) and cluster-robust variances by child, then the method-of-moments (DerSimonian-Laird)
variance of the intercepts with a Q-profile interval.

All models are fitted on aggregated cells (one row per combination of municipality and case-mix
categories) - the binomial likelihood of the cells equals the Bernoulli likelihood of the rows, so
nothing is sampled and a run over ~100 000 rows takes well under a second.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import stats

from genomlysning import disclose, schema
from genomlysning.schema import Lang

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

LimitMethod = Literal["exact", "normal"]
Adjustment = Literal["additive", "multiplicative", "none"]

#: Control-limit levels of a funnel plot: 95 % (about 2 SD) and 99.8 % (about 3 SD).
LEVELS: tuple[float, float] = (0.95, 0.998)
#: Winsorisation of the z-scores before phi is estimated (Spiegelhalter 2005: 10 % at each end).
WINSOR: float = 0.10
#: Case-mix predictors (issue 4): ärendetyp group, reporter, age group, sex, re-referral.
CASEMIX: tuple[str, ...] = ("arendetyp", "anmalare", "aldersgrupp", "kon", "ateraktualisering")
#: Category used for a missing case-mix value (indirect standardisation keeps every row).
MISSING = "saknas"


# ---------------------------------------------------------------------------------------------
# Indicators
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Indicator:
    """A share: rows where ``numerator`` is true among rows where ``denominator`` is true.

    ``denominator=None`` means every aktualisering. Rows flagged in any ``exclude`` column (cases
    still open at the end of the period, whose outcome is not known yet: censored) and rows whose
    numerator is missing (censored timeliness, barnsamtal of rows added to another utredning) are
    left out of the denominator.
    """

    key: str
    numerator: str
    denominator: str | None
    exclude: tuple[str, ...] = ()

    def label(self, lang: Lang = "sv") -> str:
        """Readable name: what is counted and what it is a share of."""
        return schema.text(f"jmf_ind_{self.key}", lang)

    def unit(self, lang: Lang = "sv") -> str:
        """The counting unit of the denominator and what is left out of it."""
        return schema.text(f"jmf_enhet_{self.key}", lang)


_OPEN_FB = "fb_oppen_vid_periodslut"
_OPEN_UTR = "utredning_oppen_vid_periodslut"
INDICATORS: dict[str, Indicator] = {
    "utredning_inledd": Indicator("utredning_inledd", "utredning_inledd", None, (_OPEN_FB,)),
    "insats_erbjuden": Indicator("insats_erbjuden", "insats_erbjuden", None, (_OPEN_FB, _OPEN_UTR)),
    "barnsamtal": Indicator("barnsamtal", "barnsamtal", "utredning_inledd", (_OPEN_UTR,)),
    "fb_inom_frist": Indicator("fb_inom_frist", "fb_inom_frist", None),
    "insats_accepterad": Indicator("insats_accepterad", "insats_accepterad", "insats_erbjuden"),
    "utredning_inom_frist": Indicator("utredning_inom_frist", "utredning_inom_frist", None),
}
#: The indicators of the funnel plots in 04_compare.
FUNNEL_INDICATORS: tuple[str, ...] = ("utredning_inledd", "insats_erbjuden", "barnsamtal",
                                      "fb_inom_frist")


def indicator(key: str | Indicator) -> Indicator:
    """Return the indicator called ``key`` (KeyError listing the valid keys otherwise)."""
    if isinstance(key, Indicator):
        return key
    try:
        return INDICATORS[key]
    except KeyError:
        raise KeyError(f"unknown indicator {key!r}; valid: {', '.join(INDICATORS)}") from None


def indicator_rows(df: pd.DataFrame, ind: str | Indicator,
                   columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows in the indicator's denominator, with a boolean column ``y`` (the numerator); only
    ``columns`` (and ``y``) when given."""
    ind = indicator(ind)
    keep = df[ind.numerator].notna().to_numpy(dtype=bool, copy=True)
    if ind.denominator is not None:
        keep &= df[ind.denominator].fillna(False).astype(bool).to_numpy()
    for col in ind.exclude:
        keep &= ~df[col].fillna(False).astype(bool).to_numpy()
    out = df.loc[keep] if columns is None else df.loc[keep, list(columns)]
    out = out.copy()
    out["y"] = df.loc[keep, ind.numerator].astype(bool).to_numpy()
    return out


def indicator_counts(frames: Mapping[str, pd.DataFrame], ind: str | Indicator,
                     ar: int | None = None) -> pd.DataFrame:
    """Numerator ``x`` and denominator ``n`` per municipality (year ``ar``, or all rows)."""
    recs = []
    for kommun, df in frames.items():
        year = df if ar is None else df[(df["ar"] == ar).fillna(False).to_numpy(dtype=bool)]
        rows = indicator_rows(year, ind, [])
        recs.append({"kommun": kommun, "x": int(rows["y"].sum()), "n": len(rows)})
    out = pd.DataFrame.from_records(recs, columns=["kommun", "x", "n"])
    out["andel"] = np.where(out["n"] > 0, out["x"] / out["n"].where(out["n"] > 0, 1), np.nan)
    return out


# ---------------------------------------------------------------------------------------------
# Control limits
# ---------------------------------------------------------------------------------------------

def _z(level: float) -> float:
    return float(stats.norm.ppf(0.5 + level / 2))


def _interpolated_quantile(dist: stats.rv_discrete, q: float) -> np.ndarray:
    """Spiegelhalter's (2005, appendix A.1.1) continuous version of a discrete quantile.

    With ``r`` the smallest count whose CDF reaches ``q`` and
    ``alpha = (F(r) - q) / (F(r) - F(r - 1))``, the limit on the count scale is ``r - alpha``.
    """
    r = dist.ppf(q)
    f_r = dist.cdf(r)
    f_r1 = dist.cdf(r - 1)
    alpha = np.where(f_r > f_r1, (f_r - q) / np.where(f_r > f_r1, f_r - f_r1, 1.0), 0.0)
    return np.asarray(r - alpha, dtype=float)


def binomial_limits(p0: float, n: Sequence[float] | np.ndarray | float, level: float,
                    method: LimitMethod = "exact") -> tuple[np.ndarray, np.ndarray]:
    """Funnel-plot limits for a proportion with target ``p0`` and denominator ``n``.

    ``exact``: interpolated binomial quantiles divided by ``n`` (Spiegelhalter 2005);
    ``normal``: ``p0 +/- z * sqrt(p0 (1 - p0) / n)``, clipped to [0, 1].
    """
    n = np.asarray(n, dtype=float)
    tail = (1 - level) / 2
    if method == "normal":
        half = _z(level) * np.sqrt(p0 * (1 - p0) / n)
        return np.clip(p0 - half, 0, 1), np.clip(p0 + half, 0, 1)
    if method != "exact":
        raise ValueError(f"method must be 'exact' or 'normal', not {method!r}")
    nn = np.round(n).astype(int)
    dist = stats.binom(nn, p0)
    lo = _interpolated_quantile(dist, tail) / n
    hi = _interpolated_quantile(dist, 1 - tail) / n
    return np.clip(lo, 0, 1), np.clip(hi, 0, 1)


def poisson_limits(e: Sequence[float] | np.ndarray | float, level: float,
                   method: LimitMethod = "exact") -> tuple[np.ndarray, np.ndarray]:
    """Funnel-plot limits for a standardised ratio O/E (target 1) with expected count ``e``.

    ``exact``: interpolated Poisson(E) quantiles divided by E; ``normal``: ``1 +/- z / sqrt(E)``.
    """
    e = np.asarray(e, dtype=float)
    tail = (1 - level) / 2
    if method == "normal":
        half = _z(level) / np.sqrt(e)
        return np.clip(1 - half, 0, None), 1 + half
    if method != "exact":
        raise ValueError(f"method must be 'exact' or 'normal', not {method!r}")
    dist = stats.poisson(e)
    lo = _interpolated_quantile(dist, tail) / e
    hi = _interpolated_quantile(dist, 1 - tail) / e
    return np.clip(lo, 0, None), hi


# ---------------------------------------------------------------------------------------------
# Overdispersion
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Overdispersion:
    """Result of Spiegelhalter's overdispersion test.

    ``phi``: mean of the squared winsorised z-scores; ``chi2 = units * phi`` is compared with a
    chi-squared on ``units - 1`` degrees of freedom (the target is estimated from the same data);
    ``tau2``: DerSimonian-Laird between-unit variance on the scale of the indicator (0 when
    ``chi2 <= units - 1``).
    """

    phi: float
    chi2: float
    df: int
    p_value: float
    tau2: float
    units: int
    winsor: float

    def significant(self, alpha: float = 0.05) -> bool:
        """True when overdispersion is significant at level ``alpha``."""
        return bool(self.p_value < alpha)


def winsorise(z: np.ndarray, fraction: float = WINSOR) -> np.ndarray:
    """Set values below/above the ``fraction``/``1 - fraction`` percentiles to those percentiles.

    Percentiles use linear interpolation between order statistics (numpy's default).
    """
    z = np.asarray(z, dtype=float)
    if fraction <= 0 or z.size == 0:
        return z.copy()
    lo, hi = np.percentile(z, [100 * fraction, 100 * (1 - fraction)])
    return np.clip(z, lo, hi)


def overdispersion(z: np.ndarray, s: np.ndarray, fraction: float = WINSOR) -> Overdispersion:
    """Spiegelhalter (2005) overdispersion test from z-scores ``z`` and standard errors ``s``.

    ``phi = mean(winsorised z^2)``; ``tau2 = (I phi - (I - 1)) / (sum w - sum w^2 / sum w)`` with
    ``w = 1 / s^2`` when ``I phi > I - 1``, else 0.
    """
    z = np.asarray(z, dtype=float)
    s = np.asarray(s, dtype=float)
    units = int(z.size)
    if units < 2:
        return Overdispersion(float("nan"), float("nan"), max(units - 1, 0), float("nan"), 0.0,
                              units, fraction)
    zw = winsorise(z, fraction)
    phi = float(np.mean(zw**2))
    chi2 = units * phi
    df = units - 1
    p = float(stats.chi2.sf(chi2, df))
    w = 1 / s**2
    denom = w.sum() - (w**2).sum() / w.sum()
    tau2 = max(0.0, (chi2 - df) / denom) if denom > 0 else 0.0
    return Overdispersion(phi, chi2, df, p, float(tau2), units, fraction)


def proportion_z(x: np.ndarray, n: np.ndarray, p0: float) -> tuple[np.ndarray, np.ndarray]:
    """Standardised Pearson z-scores ``(x/n - p0) / sqrt(p0 (1 - p0) / n)`` and their SEs."""
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    s = np.sqrt(p0 * (1 - p0) / n)
    return (x / n - p0) / s, s


def ratio_z(o: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standardised z-scores of O/E against 1: ``(O/E - 1) / sqrt(1 / E)``, and the SEs."""
    o = np.asarray(o, dtype=float)
    e = np.asarray(e, dtype=float)
    s = 1 / np.sqrt(e)
    return (o / e - 1) / s, s


def adjusted_limits(target: float, s: np.ndarray, level: float, od: Overdispersion,
                    how: Adjustment = "additive") -> tuple[np.ndarray, np.ndarray]:
    """Limits widened for overdispersion around ``target`` (normal approximation).

    additive: ``target +/- z sqrt(s^2 + tau2)``; multiplicative: ``target +/- z sqrt(phi) s``;
    none: ``target +/- z s``.
    """
    s = np.asarray(s, dtype=float)
    z = _z(level)
    if how == "additive":
        half = z * np.sqrt(s**2 + od.tau2)
    elif how == "multiplicative":
        half = z * np.sqrt(max(od.phi, 1.0)) * s
    elif how == "none":
        half = z * s
    else:
        raise ValueError(f"how must be 'additive', 'multiplicative' or 'none', not {how!r}")
    return target - half, target + half


# ---------------------------------------------------------------------------------------------
# Funnel plot data
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Funnel:
    """Everything a funnel plot shows.

    ``points``: one row per unit (kommun, x, n, value, z, the limits at its volume, the flag
    ``utanfor`` = outside the widest limits in use, ``visas`` = drawn/published). ``curve``: the
    limits on a grid of volumes. ``kind`` is ``proportion`` (value = x/n, volume n) or ``ratio``
    (value = O/E, volume E).
    """

    key: str
    kind: Literal["proportion", "ratio"]
    target: float
    points: pd.DataFrame
    curve: pd.DataFrame
    od: Overdispersion
    method: LimitMethod
    adjustment: Adjustment
    adjusted: bool
    levels: tuple[float, ...] = field(default=LEVELS)


def suppressed(counts: pd.DataFrame | np.ndarray, k: int) -> np.ndarray:
    """True for rows where any count is in 1..k-1 (``disclose.primary_mask``), row-wise."""
    arr = np.asarray(counts, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    return disclose.primary_mask(arr, k).any(axis=1)


def _limit_cols(level: float) -> tuple[str, str]:
    tag = f"{level * 100:g}".replace(".", "_")
    return f"nedre_{tag}", f"ovre_{tag}"


def _grid(lo: float, hi: float, size: int = 200) -> np.ndarray:
    lo = max(lo, 1.0)
    return np.unique(np.round(np.geomspace(lo, max(hi, lo * 1.01), size), 6))


def funnel(counts: pd.DataFrame, key: str = "", k: int = 5, *, kind: Literal["proportion", "ratio"]
           = "proportion", method: LimitMethod = "exact", adjustment: Adjustment = "additive",
           alpha_od: float = 0.05, levels: tuple[float, ...] = LEVELS,
           fraction: float = WINSOR) -> Funnel:
    """Funnel-plot data from ``counts``.

    For ``kind="proportion"`` the columns are ``kommun, x, n`` and the target is the pooled rate
    ``sum x / sum n``; for ``kind="ratio"`` they are ``kommun, o, e`` and the target is 1. Units
    with no denominator are dropped. When overdispersion is significant at ``alpha_od`` the limits
    are adjusted (``adjustment``); otherwise they are the ``method`` limits. Points whose counts
    (x, n - x and n, or O) are in 1..k-1 are flagged ``visas = False`` and must not be drawn.
    """
    pts = counts.copy()
    if kind == "proportion":
        pts = pts[pts["n"] > 0].reset_index(drop=True)
        target = float(pts["x"].sum() / pts["n"].sum())
        pts["varde"] = pts["x"] / pts["n"]
        volume = pts["n"].to_numpy(float)
        z, s = proportion_z(pts["x"].to_numpy(), volume, target)
        pts["visas"] = ~suppressed(np.column_stack([pts["x"], pts["n"] - pts["x"], pts["n"]]), k)
    elif kind == "ratio":
        pts = pts[pts["e"] > 0].reset_index(drop=True)
        target = 1.0
        pts["varde"] = pts["o"] / pts["e"]
        volume = pts["e"].to_numpy(float)
        z, s = ratio_z(pts["o"].to_numpy(), volume)
        pts["visas"] = ~suppressed(pts[["o"]].to_numpy(), k)
    else:
        raise ValueError(f"kind must be 'proportion' or 'ratio', not {kind!r}")
    pts["volym"] = volume
    pts["z"] = z
    od = overdispersion(z, s, fraction) if len(pts) else overdispersion(np.array([]), np.array([]))
    adjusted = adjustment != "none" and od.significant(alpha_od)

    def limits(vol: np.ndarray, level: float, adjust: bool = adjusted) -> tuple[np.ndarray, np.ndarray]:
        if adjust:
            se = np.sqrt(target * (1 - target) / vol) if kind == "proportion" else 1 / np.sqrt(vol)
            lo, hi = adjusted_limits(target, se, level, od, adjustment)
            return (np.clip(lo, 0, 1), np.clip(hi, 0, 1)) if kind == "proportion" else \
                (np.clip(lo, 0, None), hi)
        if kind == "proportion":
            return binomial_limits(target, vol, level, method)
        return poisson_limits(vol, level, method)

    grid = _grid(float(volume.min()) / 2 if len(volume) else 1.0,
                 float(volume.max()) * 1.5 if len(volume) else 10.0)
    if kind == "proportion":
        grid = np.unique(np.round(grid))  # exact binomial limits need whole denominators
    curve = pd.DataFrame({"volym": grid})
    outside = np.zeros(len(pts), dtype=bool)
    for level in levels:
        lo_name, hi_name = _limit_cols(level)
        curve[lo_name], curve[hi_name] = limits(grid, level)
        lo, hi = limits(volume, level)
        pts[lo_name], pts[hi_name] = lo, hi
        if level == max(levels):
            outside = (pts["varde"].to_numpy() < lo) | (pts["varde"].to_numpy() > hi)
    lo95, hi95 = _limit_cols(min(levels))
    pts["utanfor_95"] = (pts["varde"] < pts[lo95]) | (pts["varde"] > pts[hi95])
    pts["utanfor"] = outside
    # the unadjusted widest limits, drawn for comparison when the limits in use are adjusted
    curve["nedre_ojusterad"], curve["ovre_ojusterad"] = limits(grid, max(levels), False)
    lo, hi = limits(volume, max(levels), False)
    pts["nedre_ojusterad"], pts["ovre_ojusterad"] = lo, hi
    pts["utanfor_ojusterad"] = (pts["varde"] < lo) | (pts["varde"] > hi)
    return Funnel(key, kind, target, pts, curve, od, method, adjustment, adjusted, tuple(levels))


# ---------------------------------------------------------------------------------------------
# Case-mix adjustment
# ---------------------------------------------------------------------------------------------

def pooled_rows(frames: Mapping[str, pd.DataFrame], ind: str | Indicator, ar: int | None = None,
                covariates: Sequence[str] = CASEMIX) -> pd.DataFrame:
    """The indicator's rows of every municipality stacked: ``kommun``, the covariates, ``y`` and
    ``cluster`` (an integer id of the child within its municipality, unique across them).

    Covariates are categoricals over their code list plus ``saknas`` (missing values become that
    category, so that no row is dropped); yes/no columns become ``nej``/``ja``/``saknas``.
    """
    ind = indicator(ind)
    needed = list(dict.fromkeys([*covariates, "barn_id", "ar", ind.numerator, *ind.exclude,
                                 *([ind.denominator] if ind.denominator else [])]))
    names = list(frames)
    if not names:
        return pd.DataFrame(columns=["kommun", *covariates, "y", "cluster"])
    stacked = pd.concat([df[needed] for df in frames.values()], ignore_index=True)
    kommun = np.repeat(np.arange(len(names)), [len(df) for df in frames.values()])
    if ar is not None:
        keep = (stacked["ar"] == ar).fillna(False).to_numpy(dtype=bool)
        stacked, kommun = stacked[keep], kommun[keep]
    rows = indicator_rows(stacked, ind, [*covariates, "barn_id"])
    kommun = kommun[stacked.index.get_indexer(rows.index)]
    out = _covariate_frame(rows, covariates)
    out["y"] = rows["y"].to_numpy(dtype=bool)
    child = pd.factorize(rows["barn_id"].astype("string").fillna("").to_numpy(dtype=object))[0]
    out["cluster"] = pd.factorize(kommun.astype(np.int64) * (int(child.max(initial=0)) + 1) + child)[0]
    out["kommun"] = pd.Categorical.from_codes(kommun, categories=names)
    return out


def casemix_cells(frames: Mapping[str, pd.DataFrame], ind: str | Indicator, ar: int | None = None,
                  covariates: Sequence[str] = CASEMIX) -> pd.DataFrame:
    """Aggregate the indicator's rows to cells ``kommun x covariates`` with ``x`` and ``n``.

    Missing covariate values become the category ``saknas`` so that no row is dropped.
    """
    return _cells(pooled_rows(frames, ind, ar, covariates), covariates)


def _cells(rows: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    cells = (rows.groupby(["kommun", *covariates], observed=True, sort=True)["y"]
             .agg(x="sum", n="size").reset_index())
    cells["x"] = cells["x"].astype(int)
    cells["kommun"] = cells["kommun"].astype(str)
    return cells


def _covariate_frame(rows: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """Covariates as categoricals with missing values as ``saknas``."""
    out = {}
    for c in covariates:
        col = rows[c]
        if schema.column(c).dtype == "bool":
            known = col.notna().to_numpy(dtype=bool)
            true = col.fillna(False).to_numpy(dtype=bool)
            values = np.where(~known, MISSING, np.where(true, "ja", "nej"))
            out[c] = pd.Categorical(values, categories=["nej", "ja", MISSING])
        else:
            codes = list(schema.column(c).code_values()) or sorted(col.dropna().astype(str).unique())
            cat = pd.Categorical(col.astype("object").where(col.notna(), MISSING).to_numpy(),
                                 categories=[*codes, MISSING])
            out[c] = cat
    return pd.DataFrame(out, index=rows.index).reset_index(drop=True)


def _design(cells: pd.DataFrame, covariates: Sequence[str], with_kommun: bool) -> pd.DataFrame:
    """Treatment-coded design of the cells; reference = the largest category of each covariate.

    With ``with_kommun`` the municipality enters as one indicator per municipality (no global
    intercept), so each municipality's coefficient is its own intercept.
    """
    blocks = []
    if with_kommun:
        blocks.append(pd.get_dummies(cells["kommun"], prefix="kommun", prefix_sep="=", dtype=float))
    else:
        blocks.append(pd.DataFrame({"const": 1.0}, index=cells.index))
    for c in covariates:
        sizes = cells.groupby(c, observed=True)["n"].sum()
        ref = sizes.sort_values(ascending=False, kind="stable").index[0]
        levels = [lv for lv in sorted(sizes.index) if lv != ref]
        for lv in levels:
            blocks.append(pd.DataFrame({f"{c}={lv}": (cells[c] == lv).astype(float)}))
    return pd.concat(blocks, axis=1)


def _fit_binomial(X: pd.DataFrame | np.ndarray, x: np.ndarray, n: np.ndarray, maxiter: int = 100,
                  tol: float = 1e-10) -> np.ndarray:
    """Maximum-likelihood logistic coefficients for grouped binomial data (Newton-Raphson).

    ``x`` events out of ``n`` trials per row of ``X``. Each step solves the p x p normal
    equations (cheap on aggregated cells) and is halved while the deviance does not decrease.
    Separation (a category with all or no events) makes a coefficient drift; the fitted
    probabilities still converge and only they are used. Checked against statsmodels' GLM.
    """
    A = np.asarray(X, dtype=float)
    return _newton_binomial(lambda b: A @ b, lambda r, w: (A.T @ r, (A * w[:, None]).T @ A),
                            x, n, A.shape[1], maxiter, tol)


def _newton_binomial(linear: Callable[[np.ndarray], np.ndarray],
                     score_info: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
                     x: np.ndarray, n: np.ndarray, size: int, maxiter: int = 100,
                     tol: float = 1e-10) -> np.ndarray:
    """Newton-Raphson with step halving for grouped binomial data (``x`` events of ``n``).

    ``linear(theta)`` gives each cell's linear predictor; ``score_info(r, w)`` the score and the
    information from the residuals ``r = x - n p`` and weights ``w = n p (1 - p)``. Stops when the
    deviance no longer decreases by a relative ``tol``.
    """
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)

    def deviance(t: np.ndarray) -> float:
        eta = linear(t)  # -loglik: n log(1 + e^eta) - x eta
        return float(np.sum(n * np.logaddexp(0.0, eta) - x * eta))

    theta = np.zeros(size)
    dev = deviance(theta)
    for _ in range(maxiter):
        p = _expit(linear(theta))
        grad, info = score_info(x - n * p, n * p * (1 - p))
        step = np.linalg.lstsq(info, grad, rcond=None)[0]
        for _half in range(30):
            new = theta + step
            new_dev = deviance(new)
            if new_dev <= dev + 1e-12:
                break
            step = step / 2
        converged = dev - new_dev < tol * (abs(dev) + 1)
        theta, dev = new, new_dev
        if converged:
            break
    return theta


def _expit(v: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(v)


def poisson_ratio_ci(o: np.ndarray | float, e: np.ndarray | float,
                     level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval for O/E with O Poisson: chi-squared quantiles of 2O and 2O + 2."""
    o = np.asarray(o, dtype=float)
    e = np.asarray(e, dtype=float)
    a = 1 - level
    lo = np.where(o > 0, stats.chi2.ppf(a / 2, 2 * np.maximum(o, 1e-300)) / 2, 0.0)
    hi = stats.chi2.ppf(1 - a / 2, 2 * o + 2) / 2
    return lo / e, hi / e


def standardised_ratios(cells: pd.DataFrame, covariates: Sequence[str] = CASEMIX,
                        level: float = 0.95) -> pd.DataFrame:
    """Indirect standardisation: observed, expected, O/E with exact Poisson interval, adjusted rate.

    The expected count of a municipality is the sum over its cells of ``n * p`` where ``p`` comes
    from the pooled logistic model of the case-mix predictors (no municipality term). The adjusted
    rate is ``O/E * pooled rate`` (with the same interval scaled).
    """
    X = _design(cells, covariates, with_kommun=False)
    beta = _fit_binomial(X, cells["x"].to_numpy(), cells["n"].to_numpy())
    p = _expit(X.to_numpy(float) @ beta)
    tab = (cells.assign(e=cells["n"] * p).groupby("kommun", sort=True)
           .agg(o=("x", "sum"), e=("e", "sum"), n=("n", "sum")).reset_index())
    pooled = float(tab["o"].sum() / tab["n"].sum())
    tab["kvot"] = tab["o"] / tab["e"]
    tab["kvot_nedre"], tab["kvot_ovre"] = poisson_ratio_ci(tab["o"], tab["e"], level)
    tab["andel"] = tab["o"] / tab["n"]
    tab["forvantad_andel"] = tab["e"] / tab["n"]
    tab["justerad_andel"] = tab["kvot"] * pooled
    tab["justerad_nedre"] = tab["kvot_nedre"] * pooled
    tab["justerad_ovre"] = tab["kvot_ovre"] * pooled
    return tab


@dataclass(frozen=True)
class MedianOddsRatio:
    """Between-municipality variation after case mix, from a two-stage random-intercept model.

    ``intercepts``: per municipality, the fixed-effect log-odds intercept (case-mix predictors at
    their reference categories), its cluster-robust variance and the number of clusters (children).
    ``sigma2`` is the DerSimonian-Laird between-municipality variance of the intercepts with its
    Q-profile interval; ``mor = exp(sqrt(2 sigma2) * Phi^-1(0.75))``.
    """

    sigma2: float
    sigma2_lo: float
    sigma2_hi: float
    mor: float
    mor_lo: float
    mor_hi: float
    q: float
    df: int
    p_value: float
    intercepts: pd.DataFrame


def median_odds_ratio(sigma2: float | np.ndarray) -> float | np.ndarray:
    """MOR = exp(sqrt(2 sigma^2) * Phi^-1(0.75)) (Larsen & Merlo 2005)."""
    return np.exp(np.sqrt(2 * np.asarray(sigma2, dtype=float)) * stats.norm.ppf(0.75))


def dersimonian_laird(est: np.ndarray, var: np.ndarray,
                      level: float = 0.95) -> tuple[float, float, float, float, float]:
    """Moment estimate of the between-unit variance and its Q-profile interval (Viechtbauer 2007).

    Returns ``(tau2, lo, hi, Q, p)`` where ``Q`` is Cochran's heterogeneity statistic on
    ``len(est) - 1`` degrees of freedom and ``p`` its upper-tail p-value.
    """
    from scipy.optimize import brentq

    est = np.asarray(est, dtype=float)
    var = np.asarray(var, dtype=float)
    k = est.size
    if k < 2:  # no between-unit variance can be estimated from one unit
        return float("nan"), float("nan"), float("nan"), float("nan"), float("nan")
    w = 1 / var
    mean = np.sum(w * est) / w.sum()
    q = float(np.sum(w * (est - mean) ** 2))
    df = k - 1
    denom = w.sum() - np.sum(w**2) / w.sum()
    tau2 = max(0.0, (q - df) / denom) if denom > 0 else 0.0

    def q_gen(t2: float) -> float:
        ww = 1 / (var + t2)
        m = np.sum(ww * est) / ww.sum()
        return float(np.sum(ww * (est - m) ** 2))

    a = 1 - level
    upper_q, lower_q = stats.chi2.ppf(1 - a / 2, df), stats.chi2.ppf(a / 2, df)

    def solve(target: float) -> float:
        if q_gen(0.0) <= target:
            return 0.0
        hi = max(tau2, float(np.var(est)), 1e-8)
        while q_gen(hi) > target:
            hi *= 2
        return float(brentq(lambda t: q_gen(t) - target, 0.0, hi, xtol=1e-12))

    return tau2, solve(upper_q), solve(lower_q), q, float(stats.chi2.sf(q, df))


def _fe_information(j: np.ndarray, J: int, Xb: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Fisher information of (intercept per municipality, covariate coefficients), assembled from
    blocks: diag(sum w by municipality), sum w x by municipality, X'WX."""
    p = Xb.shape[1]
    info = np.zeros((J + p, J + p))
    info[np.arange(J), np.arange(J)] = np.bincount(j, weights=w, minlength=J)
    if p:
        cross = np.column_stack([np.bincount(j, weights=w * Xb[:, k], minlength=J) for k in range(p)])
        info[:J, J:] = cross
        info[J:, :J] = cross.T
        info[J:, J:] = (Xb * w[:, None]).T @ Xb
    return info


def fit_fixed_effects(j: np.ndarray, Xb: np.ndarray, x: np.ndarray, n: np.ndarray,
                      maxiter: int = 100, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Logistic model with one intercept per municipality (index ``j`` of each cell) and the
    covariate columns ``Xb``, fitted by Newton-Raphson on grouped data without forming municipality
    dummies (the information is assembled from blocks), so hundreds of municipalities cost little.

    Returns (intercepts, coefficients). Equal to ``_fit_binomial`` on the dummy design.
    """
    j = np.asarray(j, dtype=int)
    J = int(j.max()) + 1 if j.size else 0
    Xb = np.asarray(Xb, dtype=float).reshape(len(j), -1)
    theta = _newton_binomial(
        lambda t: t[:J][j] + Xb @ t[J:],
        lambda r, w: (np.concatenate([np.bincount(j, weights=r, minlength=J), Xb.T @ r]),
                      _fe_information(j, J, Xb, w)),
        x, n, J + Xb.shape[1], maxiter, tol)
    return theta[:J], theta[J:]


def fe_cluster_cov(j: np.ndarray, Xb: np.ndarray, n: np.ndarray, p_cell: np.ndarray,
                   row_cell: np.ndarray, y: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """Cluster-robust (CR1) sandwich covariance of (intercepts, coefficients) of
    ``fit_fixed_effects``; rows (``row_cell``, outcome ``y``) are clustered by ``cluster``, and a
    cluster lies within one municipality."""
    j = np.asarray(j, dtype=int)
    J = int(j.max()) + 1
    Xb = np.asarray(Xb, dtype=float).reshape(len(j), -1)
    bread = np.linalg.pinv(_fe_information(j, J, Xb, n * p_cell * (1 - p_cell)))
    resid = y - p_cell[row_cell]
    idx, codes = pd.factorize(cluster)
    G = codes.size
    s_a = np.bincount(idx, weights=resid, minlength=G)  # score of the cluster's own intercept
    kommun_of = np.zeros(G, dtype=int)
    kommun_of[idx] = j[row_cell]
    p = Xb.shape[1]
    s_b = np.column_stack([np.bincount(idx, weights=resid * Xb[row_cell, k], minlength=G)
                           for k in range(p)]) if p else np.zeros((G, 0))
    # meat = S'S with S = [one-hot(kommun) * s_a, s_b], assembled by blocks (S is never formed)
    meat = np.zeros((J + p, J + p))
    meat[np.arange(J), np.arange(J)] = np.bincount(kommun_of, weights=s_a**2, minlength=J)
    if p:
        cross = np.column_stack([np.bincount(kommun_of, weights=s_a * s_b[:, k], minlength=J)
                                 for k in range(p)])
        meat[:J, J:] = cross
        meat[J:, :J] = cross.T
        meat[J:, J:] = s_b.T @ s_b
    n_rows, kpar = y.size, J + Xb.shape[1]
    corr = G / (G - 1) * (n_rows - 1) / (n_rows - kpar) if G > 1 and n_rows > kpar else 1.0
    return corr * bread @ meat @ bread


def between_variation(frames: Mapping[str, pd.DataFrame], ind: str | Indicator,
                      ar: int | None = None, covariates: Sequence[str] = CASEMIX,
                      level: float = 0.95) -> MedianOddsRatio:
    """MOR between municipalities after case mix (two-stage random-intercept estimate).

    Stage 1: logistic model with one intercept per municipality and the case-mix predictors,
    fitted on cells; cluster-robust (by child) variances of the intercepts. Stage 2: the
    DerSimonian-Laird variance of the intercepts and its Q-profile interval, turned into the MOR.
    """
    rows = pooled_rows(frames, ind, ar, covariates)
    keys = ["kommun", *covariates]
    groups = rows.groupby(keys, observed=True, sort=True)
    row_cell = groups.ngroup().to_numpy()
    cells = groups["y"].agg(x="sum", n="size").reset_index()
    cells["kommun"] = cells["kommun"].astype(str)
    names = list(pd.unique(cells["kommun"]))
    j = pd.Categorical(cells["kommun"], categories=names).codes.astype(int)
    Xb = _design(cells, covariates, with_kommun=False).drop(columns="const").to_numpy(float)
    x, n = cells["x"].to_numpy(float), cells["n"].to_numpy(float)
    a, b = fit_fixed_effects(j, Xb, x, n)
    p_cell = _expit(a[j] + Xb @ b)
    cov = fe_cluster_cov(j, Xb, n, p_cell, row_cell, rows["y"].to_numpy(float),
                         rows["cluster"].to_numpy())
    icpt = pd.DataFrame({"kommun": names, "logodds": a, "varians": np.diag(cov)[:len(names)]})
    icpt["barn"] = (rows.groupby("kommun", observed=True)["cluster"].nunique()
                    .reindex(icpt["kommun"]).to_numpy())
    ok = np.isfinite(icpt["logodds"]) & (icpt["varians"] > 0) & (np.abs(icpt["logodds"]) < 15)
    sigma2, lo, hi, q, p = dersimonian_laird(icpt.loc[ok, "logodds"].to_numpy(),
                                             icpt.loc[ok, "varians"].to_numpy(), level)
    return MedianOddsRatio(sigma2, lo, hi, float(median_odds_ratio(sigma2)),
                           float(median_odds_ratio(lo)), float(median_odds_ratio(hi)), q,
                           int(ok.sum()) - 1, p, icpt)


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------

def draw_funnel(ax: Axes, f: Funnel, lang: Lang = "sv", title: str = "",
                names: Mapping[str, str] | None = None, label_limit: int = 30) -> None:
    """Draw a funnel plot on ``ax``: value against volume with the limits around the target.

    Units flagged ``visas = False`` (small counts) are not drawn; with more than ``label_limit``
    units only those outside the 95 % limits are named.
    """
    import matplotlib.ticker as mticker

    c = f.curve
    styles = {max(f.levels): ("-", "#b2182b"), min(f.levels): ("--", "#ef8a62")}
    for level in sorted(f.levels, reverse=True):
        lo, hi = _limit_cols(level)
        ls, col = styles.get(level, (":", "grey"))
        ax.plot(c["volym"], c[lo], ls, color=col, lw=1.2,
                label=schema.text("jmf_kontrollgrans", lang, niva=_niva(level, lang)))
        ax.plot(c["volym"], c[hi], ls, color=col, lw=1.2)
    if f.adjusted:
        ax.plot(c["volym"], c["nedre_ojusterad"], ":", color="grey", lw=1,
                label=schema.text("jmf_grans_ojusterad", lang, niva=_niva(max(f.levels), lang)))
        ax.plot(c["volym"], c["ovre_ojusterad"], ":", color="grey", lw=1)
    ax.axhline(f.target, color="black", lw=1, label=schema.text(
        "jmf_malvarde_poolad" if f.kind == "proportion" else "jmf_malvarde_kvot", lang))
    pts = f.points[f.points["visas"]]
    colors = np.where(pts["utanfor"], "#b2182b", np.where(pts["utanfor_95"], "#ef8a62", "#2166ac"))
    ax.scatter(pts["volym"], pts["varde"], c=colors, s=36, zorder=3, edgecolor="white", lw=0.5)
    named = pts if len(pts) <= label_limit else pts[pts["utanfor_95"]]
    for _, r in named.iterrows():
        name = (names or {}).get(r["kommun"], str(r["kommun"]))
        ax.annotate(name, (r["volym"], r["varde"]), textcoords="offset points", xytext=(5, 3),
                    fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel(schema.text("jmf_volym_n" if f.kind == "proportion" else "jmf_volym_e", lang),
                  fontsize=8)
    ax.set_ylabel(schema.text("andel" if f.kind == "proportion" else "jmf_kvot_oe", lang),
                  fontsize=8)
    if f.kind == "proportion":
        percent_axis(ax, lang)
    else:
        ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: _fmt(v, 2, lang)))
    ax.tick_params(labelsize=7)
    note = schema.text("jmf_overspridning_justerad" if f.adjusted else "jmf_overspridning_ej", lang,
                       phi=_fmt(f.od.phi, 2, lang), p=_fmt_p(f.od.p_value, lang))
    ax.set_title(title, fontsize=9, loc="left", pad=14)
    ax.text(0.0, 1.01, note, transform=ax.transAxes, ha="left", va="bottom", fontsize=7,
            color="dimgrey")
    ax.grid(alpha=0.3)


def percent_axis(ax: Axes, lang: Lang = "sv", axis: str = "y") -> None:
    """Format an axis holding proportions as percentages with nice ticks (decimal comma in
    Swedish)."""
    import matplotlib.ticker as mticker

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(mticker.MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))

    def fmt(v: float, _pos: object) -> str:
        s = f"{round(v * 100, 6):g}"
        return s.replace(".", ",").replace("-", "−") + " %" if lang == "sv" else s + "%"

    target.set_major_formatter(mticker.FuncFormatter(fmt))


def plot_funnels(fs: Mapping[str, Funnel], lang: Lang = "sv", ncols: int = 2) -> Figure:
    """Funnel plots of several indicators side by side (one panel each, a shared legend)."""
    import matplotlib.pyplot as plt

    n = len(fs)
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.9 * nrows), dpi=100,
                             squeeze=False)
    names = {k: kommun_namn(k) for f in fs.values() for k in f.points["kommun"]}
    for ax, (key, f) in zip(axes.flat, fs.items(), strict=False):
        title = indicator(key).label(lang)
        if f.kind == "ratio":
            title = schema.text("jmf_justerad_titel", lang, ind=title)
        draw_funnel(ax, f, lang, title, names)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    handles, texts = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, texts, loc="lower center", ncol=len(texts), fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.93, bottom=0.1 + 0.02 / nrows, hspace=0.45,
                        wspace=0.22)
    plt.close(fig)
    return fig


def _fmt(v: float, digits: int, lang: Lang = "sv") -> str:
    if v is None or not math.isfinite(v):
        return "–"
    s = f"{v:.{digits}f}"
    return s.replace(".", ",") if lang == "sv" else s


def _fmt_p(p: float, lang: Lang = "sv") -> str:
    """``= 0,123`` or ``< 0,001`` (a p-value after the letter p)."""
    if p is None or not math.isfinite(p):
        return "= –"
    return "< " + _fmt(0.001, 3, lang) if p < 0.001 else "= " + _fmt(p, 3, lang)


def iter_frames(kommuner: Iterable[str]) -> dict[str, pd.DataFrame]:
    """Load the clean table of each municipality (``clean.load_clean``), in the given order."""
    from genomlysning import clean

    return {k: clean.load_clean(k) for k in kommuner}


# ---------------------------------------------------------------------------------------------
# Loading, tables and text for 04_compare
# ---------------------------------------------------------------------------------------------

def available_kommuner(kommuner: Sequence[str] | None = None) -> tuple[list[str], list[str]]:
    """Split the requested municipalities (default: every params file) into those with clean
    data in ``data/processed/<kommun>/`` and those without."""
    from genomlysning import params, paths

    wanted = list(kommuner) if kommuner is not None else params.all_kommuner()
    have = [k for k in wanted if (paths.processed_dir(k) / "aktualiseringar.parquet").is_file()]
    return have, [k for k in wanted if k not in have]


def kommun_namn(kommun: str) -> str:
    """Display name of a municipality (``namn`` in its params file; the code if there is none)."""
    from genomlysning import params

    try:
        return str(params.load(kommun)["namn"])
    except params.ParamsError:
        return kommun


def mask_share(table: pd.DataFrame, x: str, n: str, linked: Sequence[str], k: int) -> pd.DataFrame:
    """Hide a share's numerator and everything computed from it when ``x``, ``n - x`` or ``n`` is
    in 1..k-1, and hide ``n`` itself when it is in 1..k-1.

    Stricter than a cell-by-cell rule: a visible rate on a visible denominator would reveal a small
    numerator, and a share near 100 % would reveal a small complement (n - x).
    """
    out = table.copy()
    xv = pd.to_numeric(out[x], errors="coerce").to_numpy(float)
    nv = pd.to_numeric(out[n], errors="coerce").to_numpy(float)
    hide = disclose.primary_mask(np.column_stack([xv, nv - xv, nv]), k).any(axis=1)
    hide_n = disclose.primary_mask(nv, k)
    for col, mask in [(x, hide), *((c, hide) for c in linked), (n, hide_n)]:
        if mask.any():
            vals = out[col].astype(object).to_numpy(copy=True)
            vals[mask] = disclose.SUPPRESSED
            out[col] = pd.Series(vals, index=out.index, dtype=object)
    return out


def _level_tag(level: float) -> str:
    return f"{level * 100:g}".replace(".", "")


def _niva(level: float, lang: Lang) -> str:
    s = f"{level * 100:g}"
    return s.replace(".", ",") if lang == "sv" else s


def labels(lang: Lang = "sv", keys: Iterable[str] = INDICATORS,
           levels: Sequence[float] = LEVELS) -> dict[str, str]:
    """Column labels of every table this module makes (for ``report.save_table``/``display_table``)."""
    t = schema.text
    out = {
        "kommun": schema.label("kommun", lang), "antal": t("jmf_taljare", lang),
        "n": t("jmf_namnare", lang), "andel": t("andel", lang),
        "antal_observerat": t("jmf_observerat", lang), "forvantat": t("jmf_forvantat", lang),
        "kvot": t("jmf_kvot_oe", lang), "andel_forvantad": t("jmf_forv_andel", lang),
        "andel_justerad": t("jmf_just_andel", lang), "lage": t("jmf_lage", lang),
        "indikator": t("jmf_indikator", lang), "andel_mal": t("jmf_malvarde", lang),
        "enheter": t("jmf_antal_enheter", lang), "fg": t("jmf_fg", lang), "phi": "φ",
        "chi2": "χ²", "p": "p", "tau2": "τ²", "justerat": t("jmf_justerat", lang),
        "sigma2": t("jmf_sigma2", lang), "mor": "MOR", "q": "Q", "z": "z",
        "n_aktualiseringar": t("aktualiseringar", lang), "n_barn": t("barn", lang),
    }
    for base in ("kvot", "andel_justerad", "sigma2", "mor"):
        out[f"{base}_lo"] = t("jmf_ki_nedre", lang, niva=_niva(0.95, lang))
        out[f"{base}_hi"] = t("jmf_ki_ovre", lang, niva=_niva(0.95, lang))
    for level in levels:
        tag, niva = _level_tag(level), _niva(level, lang)
        for base in ("andel", "kvot"):
            out[f"{base}_grans{tag}_lo"] = t("jmf_grans_nedre", lang, niva=niva)
            out[f"{base}_grans{tag}_hi"] = t("jmf_grans_ovre", lang, niva=niva)
    for key in keys:
        ind = schema.label(indicator(key).numerator, lang)  # short: the headline table is wide
        out[f"antal_{key}"] = t("jmf_kol_antal", lang, ind=ind)
        out[f"n_{key}"] = t("jmf_kol_namnare", lang, ind=ind)
        out[f"andel_{key}"] = t("jmf_kol_andel", lang, ind=ind)
        out[f"kvot_{key}"] = t("jmf_kol_kvot", lang, ind=ind)
    return out


def headline_table(frames: Mapping[str, pd.DataFrame], ar: int, k: int = 5,
                   keys: Sequence[str] = FUNNEL_INDICATORS,
                   ratios: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """One row per municipality: volumes and each indicator's count, denominator and share in year
    ``ar`` (plus the case-mix standardised ratio O/E where ``ratios`` has it), suppression applied.

    Columns: kommun, n_aktualiseringar, n_barn, then ``antal_<key>``, ``n_<key>``,
    ``andel_<key>`` (0-1) and ``kvot_<key>`` per indicator (labels: ``labels``).
    """
    recs = []
    for kommun, df in frames.items():
        d = df[df["ar"] == ar]
        recs.append({"kommun": kommun_namn(kommun), "n_aktualiseringar": len(d),
                     "n_barn": int(d["barn_id"].nunique())})
    out = pd.DataFrame.from_records(recs, columns=["kommun", "n_aktualiseringar", "n_barn"])
    for key in keys:
        cnt = indicator_counts(frames, key, ar)
        out[f"antal_{key}"] = cnt["x"].to_numpy()
        out[f"n_{key}"] = cnt["n"].to_numpy()
        out[f"andel_{key}"] = cnt["andel"].to_numpy()
        linked = [f"andel_{key}"]
        if ratios is not None and key in ratios:
            sr = ratios[key].set_index("kommun").reindex(list(frames))
            out[f"kvot_{key}"] = sr["kvot"].to_numpy()
            linked.append(f"kvot_{key}")
        out = mask_share(out, f"antal_{key}", f"n_{key}", linked, k)
    for col in ("n_aktualiseringar", "n_barn"):
        out = mask_share(out, col, col, [], k)
    return out


def funnels(frames: Mapping[str, pd.DataFrame], ar: int, k: int = 5,
            keys: Sequence[str] = FUNNEL_INDICATORS, **kwargs: object) -> dict[str, Funnel]:
    """Funnel-plot data of each indicator in year ``ar`` (keyword arguments go to ``funnel``)."""
    return {key: funnel(indicator_counts(frames, key, ar), key, k, **kwargs) for key in keys}


def _position(f: Funnel, lang: Lang) -> pd.Series:
    """Where each point lies: inside, or above/below the 95 % or 99.8 % limits."""
    p = f.points
    out = pd.Series(schema.text("jmf_lage_inom", lang), index=p.index, dtype=object)
    for level in sorted(f.levels):
        lo, hi = _limit_cols(level)
        niva = _niva(level, lang)
        out[p["varde"] > p[hi]] = schema.text("jmf_lage_over", lang, niva=niva)
        out[p["varde"] < p[lo]] = schema.text("jmf_lage_under", lang, niva=niva)
    return out


def funnel_points_table(f: Funnel, k: int = 5, lang: Lang = "sv") -> pd.DataFrame:
    """The units of a funnel plot with their limits and position, suppression applied.

    Proportions: kommun, antal, n, andel, z, ``andel_grans<level>_lo/_hi``, lage; ratios:
    kommun, antal_observerat, forvantat, kvot, z, ``kvot_grans<level>_lo/_hi``, lage.
    """
    p = f.points
    tab = pd.DataFrame({"kommun": [kommun_namn(x) for x in p["kommun"]]})
    if f.kind == "proportion":
        base, x_col, n_col = "andel", "antal", "n"
        tab["antal"], tab["n"] = p["x"].to_numpy(), p["n"].to_numpy()
    else:
        base, x_col, n_col = "kvot", "antal_observerat", "antal_observerat"
        tab["antal_observerat"], tab["forvantat"] = p["o"].to_numpy(), p["e"].to_numpy()
    tab[base] = p["varde"].to_numpy()
    tab["z"] = p["z"].to_numpy()
    for level in sorted(f.levels):
        lo, hi = _limit_cols(level)
        tab[f"{base}_grans{_level_tag(level)}_lo"] = p[lo].to_numpy()
        tab[f"{base}_grans{_level_tag(level)}_hi"] = p[hi].to_numpy()
    tab["lage"] = _position(f, lang).to_numpy()
    return mask_share(tab, x_col, n_col, [base, "z", "lage"], k)


def overdispersion_table(fs: Mapping[str, Funnel], lang: Lang = "sv") -> pd.DataFrame:
    """One row per funnel: target, units, phi, chi-squared test, tau^2, whether limits were
    adjusted. Columns: indikator, andel_mal (the target; 1 for ratios), enheter, phi, chi2, fg,
    p, tau2, justerat."""
    recs = []
    for key, f in fs.items():
        od = f.od
        name = indicator(key).label(lang)
        if f.kind == "ratio":
            name = schema.text("jmf_justerad_titel", lang, ind=name)
        recs.append({"indikator": name, "andel_mal": f.target if f.kind == "proportion" else None,
                     "enheter": od.units, "phi": od.phi, "chi2": od.chi2, "fg": od.df,
                     "p": od.p_value, "tau2": od.tau2,
                     "justerat": schema.text("ja" if f.adjusted else "nej", lang)})
    return pd.DataFrame.from_records(recs)


def casemix(frames: Mapping[str, pd.DataFrame], ar: int, keys: Sequence[str] = FUNNEL_INDICATORS,
            covariates: Sequence[str] = CASEMIX) -> dict[str, pd.DataFrame]:
    """Indirectly standardised ratios of each indicator in year ``ar``."""
    return {key: standardised_ratios(casemix_cells(frames, key, ar, covariates), covariates)
            for key in keys}


def ratio_funnel(sr: pd.DataFrame, key: str, k: int = 5, **kwargs: object) -> Funnel:
    """Funnel-plot data of the standardised ratios O/E (volume = expected count E)."""
    return funnel(sr[["kommun", "o", "e"]], key, k, kind="ratio", **kwargs)


def casemix_table(sr: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """Observed, expected, O/E with exact 95 % interval, crude, expected and adjusted shares;
    suppression applied. Columns: kommun, n, antal_observerat, forvantat, kvot(_lo/_hi), andel,
    andel_forvantad, andel_justerad(_lo/_hi)."""
    tab = pd.DataFrame({
        "kommun": [kommun_namn(x) for x in sr["kommun"]],
        "n": sr["n"].to_numpy(), "antal_observerat": sr["o"].to_numpy(),
        "forvantat": sr["e"].to_numpy(), "kvot": sr["kvot"].to_numpy(),
        "kvot_lo": sr["kvot_nedre"].to_numpy(), "kvot_hi": sr["kvot_ovre"].to_numpy(),
        "andel": sr["andel"].to_numpy(), "andel_forvantad": sr["forvantad_andel"].to_numpy(),
        "andel_justerad": sr["justerad_andel"].to_numpy(),
        "andel_justerad_lo": sr["justerad_nedre"].to_numpy(),
        "andel_justerad_hi": sr["justerad_ovre"].to_numpy(),
    })
    return mask_share(tab, "antal_observerat", "n",
                      ["kvot", "kvot_lo", "kvot_hi", "andel", "andel_justerad", "andel_justerad_lo",
                       "andel_justerad_hi"], k)


def between(frames: Mapping[str, pd.DataFrame], ar: int, keys: Sequence[str] = FUNNEL_INDICATORS,
            covariates: Sequence[str] = CASEMIX) -> dict[str, MedianOddsRatio]:
    """``between_variation`` of each indicator in year ``ar``."""
    return {key: between_variation(frames, key, ar, covariates) for key in keys}


def mor_table(mors: Mapping[str, MedianOddsRatio], lang: Lang = "sv") -> pd.DataFrame:
    """One row per indicator: sigma^2 and the MOR with 95 % intervals and Cochran's Q test.
    Columns: indikator, enheter, sigma2(_lo/_hi), mor(_lo/_hi), q, fg, p."""
    recs = [{"indikator": indicator(key).label(lang), "enheter": m.df + 1, "sigma2": m.sigma2,
             "sigma2_lo": m.sigma2_lo, "sigma2_hi": m.sigma2_hi, "mor": m.mor, "mor_lo": m.mor_lo,
             "mor_hi": m.mor_hi, "q": m.q, "fg": m.df, "p": m.p_value} for key, m in mors.items()]
    return pd.DataFrame.from_records(recs)


def standouts(f: Funnel) -> dict[str, list[str]]:
    """Visible units above/below the widest limits (``over``/``under``), only the 95 % ones, and
    (``ojusterad``) those outside the unadjusted widest limits only, when limits were adjusted."""
    p = f.points[f.points["visas"]]
    lo_w, hi_w = _limit_cols(max(f.levels))
    lo_n, hi_n = _limit_cols(min(f.levels))
    raw = p["utanfor_ojusterad"] & ~p["utanfor"]
    return {
        "over": sorted(p.loc[p["varde"] > p[hi_w], "kommun"]),
        "under": sorted(p.loc[p["varde"] < p[lo_w], "kommun"]),
        "ojusterad": sorted(p.loc[raw, "kommun"]) if f.adjusted else [],
        "over_95": sorted(p.loc[(p["varde"] > p[hi_n]) & (p["varde"] <= p[hi_w]), "kommun"]),
        "under_95": sorted(p.loc[(p["varde"] < p[lo_n]) & (p["varde"] >= p[lo_w]), "kommun"]),
    }


def standouts_text(fs: Mapping[str, Funnel], lang: Lang = "sv") -> str:
    """Markdown bullet list: per funnel, which municipalities lie outside the 99.8 % limits."""
    lines = []
    for key, f in fs.items():
        name = indicator(key).label(lang)
        if f.kind == "ratio":
            name = schema.text("jmf_justerad_titel", lang, ind=name)
        s = standouts(f)
        parts = [schema.text(f"jmf_text_{side}", lang,
                             kommuner=", ".join(kommun_namn(x) for x in s[side]))
                 for side in ("over", "under") if s[side]]
        body = "; ".join(parts) if parts else schema.text("jmf_text_ingen", lang)
        if s["ojusterad"]:
            body += schema.text("jmf_text_ojusterad", lang,
                                kommuner=", ".join(kommun_namn(x) for x in s["ojusterad"]))
        lines.append(f"- **{name}**: {body}.")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Notebook sections: build, save (reports/jamforelse/) and return what the notebook shows
# ---------------------------------------------------------------------------------------------

#: The report folder of the cross-municipality notebook.
OUT = "jamforelse"
#: Columns shown with significant digits rather than the report's default two decimals.
_SIGNIFICANT = ("phi", "chi2", "tau2", "sigma2", "sigma2_lo", "sigma2_hi", "q", "z")
#: Columns shown with exactly two decimals.
_TWO_DECIMALS = ("kvot", "kvot_lo", "kvot_hi", "mor", "mor_lo", "mor_hi", "forvantat")


def format_significant(v: object, lang: Lang = "sv", digits: int = 3) -> object:
    """A number with ``digits`` significant digits (at least two decimals) as text; other values
    (``..``, text, missing) unchanged."""
    if isinstance(v, str) or v is None or v is pd.NA:
        return v
    x = float(v)
    if not math.isfinite(x):
        return ""
    dec = 2 if x == 0 else max(2, digits - 1 - int(math.floor(math.log10(abs(x)))))
    s = f"{x:.{dec}f}"
    return s.replace(".", ",").replace("-", "−") if lang == "sv" else s


def publish(tab: pd.DataFrame, name: str, *, title: str, unit: str, ar: int, k: int,
            lang: Lang = "sv", note: str = "", kommun: str = OUT) -> pd.DataFrame:
    """Save a table (``report.save_table``, checked against ``k``) and return its display view."""
    from genomlysning import report

    lab = labels(lang)
    report.save_table(tab, kommun, name, title=title, unit=unit,
                      source=schema.text("jmf_kalla", lang, ar=ar), note=note, lang=lang, k=k,
                      labels=lab)
    shown = tab.copy()
    for col in _SIGNIFICANT:
        if col in shown.columns:
            shown[col] = [format_significant(v, lang) for v in shown[col]]
    for col in _TWO_DECIMALS:
        if col in shown.columns:
            shown[col] = [v if isinstance(v, str) or v is None else _fmt(float(v), 2, lang)
                          for v in shown[col]]
    if "p" in shown.columns:
        shown["p"] = [format_p(v, lang) for v in tab["p"]]
    return report.display_table(shown, lang, labels=lab)


def format_p(p: object, lang: Lang = "sv") -> object:
    """A p-value as text: ``< 0,001`` below 0.001, otherwise three decimals."""
    if isinstance(p, str) or p is None or p is pd.NA or not math.isfinite(float(p)):
        return p
    return "< " + _fmt(0.001, 3, lang) if float(p) < 0.001 else _fmt(float(p), 3, lang)


def section_headline(frames: Mapping[str, pd.DataFrame], ar: int, k: int, lang: Lang,
                     ratios: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The side-by-side table of headline figures (saved as ``04_nyckeltal``)."""
    tab = headline_table(frames, ar, k, ratios=ratios)
    return publish(tab, "04_nyckeltal", title=schema.text("jmf_titel_nyckeltal", lang, ar=ar),
                   unit=schema.text("jmf_enhet_nyckeltal", lang), ar=ar, k=k, lang=lang,
                   note=schema.text("jmf_not_nyckeltal", lang))


@dataclass(frozen=True)
class Section:
    """What a notebook section shows: a figure, display tables and a short Markdown summary."""

    figure: Figure | None
    tables: dict[str, pd.DataFrame]
    summary: str
    funnels: dict[str, Funnel]


def section_funnels(frames: Mapping[str, pd.DataFrame], ar: int, k: int, lang: Lang,
                    keys: Sequence[str] = FUNNEL_INDICATORS) -> Section:
    """Crude-rate funnel plots (figure ``04_trattdiagram``), one points table per indicator
    (``04_tratt_<key>``) and the overdispersion table (``04_overspridning``)."""
    from genomlysning import report

    fs = funnels(frames, ar, k, keys)
    fig = plot_funnels(fs, lang)
    report.save_figure(fig, OUT, "04_trattdiagram")
    for key, f in fs.items():
        publish(funnel_points_table(f, k, lang), f"04_tratt_{key}",
                title=schema.text("jmf_titel_tratt", lang, ind=indicator(key).label(lang), ar=ar),
                unit=indicator(key).unit(lang), ar=ar, k=k, lang=lang,
                note=schema.text("jmf_not_tratt", lang))
    od = publish(overdispersion_table(fs, lang), "04_overspridning",
                 title=schema.text("jmf_titel_overspridning", lang, ar=ar),
                 unit=schema.text("jmf_enhet_indikatorer", lang), ar=ar, k=k, lang=lang,
                 note=schema.text("jmf_not_overspridning", lang))
    return Section(fig, {"overspridning": od}, standouts_text(fs, lang), fs)


def section_casemix(frames: Mapping[str, pd.DataFrame], ar: int, k: int, lang: Lang,
                    ratios: Mapping[str, pd.DataFrame], max_rows: int = 30) -> Section:
    """Standardised ratios: funnel plots of O/E (figure ``04_trattdiagram_justerade``) and one
    table per indicator (``04_justerad_<key>``; with more than ``max_rows`` municipalities only
    those outside the 95 % limits are returned for display - the saved table has them all)."""
    from genomlysning import report

    fs = {key: ratio_funnel(sr, key, k) for key, sr in ratios.items()}
    fig = plot_funnels(fs, lang)
    report.save_figure(fig, OUT, "04_trattdiagram_justerade")
    tables = {}
    for key, sr in ratios.items():
        ind = indicator(key).label(lang)
        shown = publish(casemix_table(sr, k), f"04_justerad_{key}",
                        title=schema.text("jmf_titel_casemix", lang, ind=ind, ar=ar),
                        unit=indicator(key).unit(lang), ar=ar, k=k, lang=lang,
                        note=schema.text("jmf_not_casemix", lang))
        if len(shown) > max_rows:  # many municipalities: show those outside the 95 % limits
            out = fs[key].points.set_index("kommun").reindex(sr["kommun"])
            shown = shown[(out["utanfor_95"] & out["visas"]).fillna(False).to_numpy(dtype=bool)]
        tables[key] = shown.reset_index(drop=True)
    return Section(fig, tables, standouts_text(fs, lang), fs)


def section_mor(frames: Mapping[str, pd.DataFrame], ar: int, k: int, lang: Lang,
                keys: Sequence[str] = FUNNEL_INDICATORS) -> tuple[pd.DataFrame,
                                                                  dict[str, MedianOddsRatio]]:
    """Median odds ratios (table ``04_mor``); returns the display table and the estimates."""
    mors = between(frames, ar, keys)
    shown = publish(mor_table(mors, lang), "04_mor", title=schema.text("jmf_titel_mor", lang, ar=ar),
                    unit=schema.text("jmf_enhet_indikatorer", lang), ar=ar, k=k, lang=lang,
                    note=schema.text("jmf_not_mor", lang))
    return shown, mors


def results(ar: int, kommuner: Sequence[str], crude: Mapping[str, Funnel],
            adjusted: Mapping[str, Funnel], mors: Mapping[str, MedianOddsRatio]) -> dict[str, object]:
    """Headline figures of 04_compare for ``results.json`` (municipality codes, no counts)."""
    out: dict[str, object] = {"ar": ar, "kommuner": list(kommuner)}
    for key, f in crude.items():
        s, a = standouts(f), standouts(adjusted[key]) if key in adjusted else {}
        m = mors.get(key)
        out[key] = {
            "poolad_andel": f.target, "phi": f.od.phi, "p_overspridning": f.od.p_value,
            "tau2": f.od.tau2, "justerade_granser": f.adjusted,
            "over_998": s["over"], "under_998": s["under"],
            "justerat_over_998": a.get("over", []), "justerat_under_998": a.get("under", []),
            "mor": m.mor if m else None, "mor_lo": m.mor_lo if m else None,
            "mor_hi": m.mor_hi if m else None,
        }
    return out


def intro_text(kommuner: Sequence[str], utan_data: Sequence[str], ar: int, lang: Lang = "sv") -> str:
    """Which municipalities are compared (and which were asked for but have no clean data)."""
    out = schema.text("jmf_text_intro", lang, ar=ar,
                      kommuner=", ".join(kommun_namn(k) for k in kommuner) or "–")
    if utan_data:
        out += schema.text("jmf_text_utan", lang, kommuner=", ".join(kommun_namn(k) for k in utan_data))
    return out


def workbook_title(lang: Lang = "sv") -> str:
    """Title of the comparison workbook."""
    return schema.text("jmf_arbetsbok", lang)
