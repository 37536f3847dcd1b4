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

This module only computes: nothing here masks, draws or writes a file for publication. The
pooled numbers (target, limits, overdispersion, expected counts, MOR) are computed over the
municipalities the caller names as the *pool* (``i_malvarde``); which municipalities may be
pooled is decided by the disclosure ledgers in :mod:`genomlysning.compare_report`, which also
masks, draws and saves everything 04_compare publishes.
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
from genomlysning import funnel as funnel_mod
from genomlysning.schema import Lang

if TYPE_CHECKING:
    from matplotlib.axes import Axes

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

    ``denominator=None`` means every aktualisering; a name in :data:`POPULATIONS` is a population
    of the funnel (e.g. closed own utredningar), otherwise it is a yes/no column. Rows flagged in
    any ``exclude`` column (cases still open at the end of the period, whose outcome is not known
    yet: censored) and rows whose numerator is missing (an unrecorded barnsamtal; for timeliness
    every case outside the complete cohort, done or not - see ``clean._censored_deadline``) are
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


def _closed_own_utredning(df: pd.DataFrame) -> np.ndarray:
    """Rows with an own utredning (not added to an ongoing one) closed by the period's end, as
    the funnel counts them (nested stages: the population of 02_funnel's barnsamtal table)."""
    return funnel_mod.own_utredning(df) & funnel_mod.reached(df)["utredning_avslutad"].to_numpy()


#: Denominators that are funnel populations rather than columns: name -> (rows, columns needed).
POPULATIONS: dict[str, tuple[Callable[[pd.DataFrame], np.ndarray], tuple[str, ...]]] = {
    "egen_avslutad_utredning": (_closed_own_utredning, ("fb_beslut", *funnel_mod.STAGES[1:])),
}

_OPEN_FB = "fb_oppen_vid_periodslut"
_OPEN_UTR = "utredning_oppen_vid_periodslut"
INDICATORS: dict[str, Indicator] = {
    "utredning_inledd": Indicator("utredning_inledd", "utredning_inledd", None, (_OPEN_FB,)),
    "insats_erbjuden": Indicator("insats_erbjuden", "insats_erbjuden", None, (_OPEN_FB, _OPEN_UTR)),
    "barnsamtal": Indicator("barnsamtal", "barnsamtal", "egen_avslutad_utredning"),
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
    if ind.denominator in POPULATIONS:
        keep &= POPULATIONS[ind.denominator][0](df)
    elif ind.denominator is not None:
        keep &= df[ind.denominator].fillna(False).astype(bool).to_numpy()
    for col in ind.exclude:
        keep &= ~df[col].fillna(False).astype(bool).to_numpy()
    if _OPEN_UTR in ind.exclude:  # an utredning whose closing is unknown (a påförd row without its
        # utredning) is not known to be settled: out, as the ledger's cells leave it out
        opened = df["utredning_inledd"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        keep &= ~(opened & df["utredning_avslutad"].isna().to_numpy())
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
    """True for rows where any count is in 1..k-1 (``disclose.primary_mask``), row-wise (used
    by :mod:`genomlysning.change`)."""
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


def funnel(counts: pd.DataFrame, key: str = "", *, kind: Literal["proportion", "ratio"] = "proportion",
           method: LimitMethod = "exact", adjustment: Adjustment = "additive", alpha_od: float = 0.05,
           levels: tuple[float, ...] = LEVELS, fraction: float = WINSOR) -> Funnel:
    """Funnel-plot data from ``counts``.

    For ``kind="proportion"`` the columns are ``kommun, x, n`` and the target is the pooled rate
    ``sum x / sum n``; for ``kind="ratio"`` they are ``kommun, o, e`` and the target is 1. Units
    with no denominator (or no expected count) are dropped. An optional boolean column
    ``i_malvarde`` names the units pooled: only they enter the target, the overdispersion test and
    the range of the curve, and only they are flagged ``visas`` (drawn); the limits of the others
    are still given at their volume. When overdispersion is significant at ``alpha_od`` the limits
    are adjusted (``adjustment``); otherwise they are the ``method`` limits.
    """
    pts = counts.copy()
    if "i_malvarde" not in pts.columns:
        pts["i_malvarde"] = True
    if kind == "proportion":
        pts = pts[pts["n"] > 0].reset_index(drop=True)
        pool = pts["i_malvarde"].to_numpy(dtype=bool)
        target = float(pts.loc[pool, "x"].sum() / pts.loc[pool, "n"].sum()) if pool.any() else float("nan")
        pts["varde"] = pts["x"] / pts["n"]
        volume = pts["n"].to_numpy(float)
        z, s = proportion_z(pts["x"].to_numpy(), volume, target)
    elif kind == "ratio":
        pts = pts[pts["e"] > 0].reset_index(drop=True)
        pool = pts["i_malvarde"].to_numpy(dtype=bool)
        target = 1.0
        pts["varde"] = pts["o"] / pts["e"]
        volume = pts["e"].to_numpy(float)
        z, s = ratio_z(pts["o"].to_numpy(), volume)
    else:
        raise ValueError(f"kind must be 'proportion' or 'ratio', not {kind!r}")
    pts["visas"] = pool
    pts["volym"] = volume
    pts["z"] = z
    od = overdispersion(z[pool], s[pool], fraction)
    adjusted = adjustment != "none" and od.significant(alpha_od)

    def limits(vol: np.ndarray, level: float, adjust: bool = adjusted) -> tuple[np.ndarray, np.ndarray]:
        if adjust:
            se = np.sqrt(target * (1 - target) / vol) if kind == "proportion" else 1 / np.sqrt(vol)
            lo, hi = adjusted_limits(target, se, level, od, adjustment)
            return (np.clip(lo, 0, 1), np.clip(hi, 0, 1)) if kind == "proportion" else \
                (np.clip(lo, 0, None), hi)
        if kind == "proportion":
            if not math.isfinite(target):
                return np.full(len(vol), np.nan), np.full(len(vol), np.nan)
            return binomial_limits(target, vol, level, method)
        return poisson_limits(vol, level, method)

    pooled = volume[pool]
    grid = _grid(float(pooled.min()) / 2 if len(pooled) else 1.0,
                 float(pooled.max()) * 1.5 if len(pooled) else 10.0)
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
    denominator = (list(POPULATIONS[ind.denominator][1]) if ind.denominator in POPULATIONS
                   else [ind.denominator] if ind.denominator else [])
    closing = ["utredning_inledd", "utredning_avslutad"] if _OPEN_UTR in ind.exclude else []
    needed = list(dict.fromkeys([*covariates, "barn_id", "ar", ind.numerator, *ind.exclude, *closing,
                                 *denominator]))
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
        if sizes.empty:  # no rows at all (e.g. no municipality records barnsamtal): no column
            continue
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
    rate is ``O/E * pooled rate`` (with the same interval scaled). No cells: an empty table.
    """
    if cells.empty:
        return pd.DataFrame(columns=["kommun", "o", "e", "n", "kvot", "kvot_nedre", "kvot_ovre", "andel",
                                     "forvantad_andel", "justerad_andel", "justerad_nedre", "justerad_ovre"])
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
    No rows: every estimate missing.
    """
    rows = pooled_rows(frames, ind, ar, covariates)
    if rows.empty:
        nan = float("nan")
        return MedianOddsRatio(nan, nan, nan, nan, nan, nan, nan, -1, nan,
                               pd.DataFrame(columns=["kommun", "logodds", "varians", "barn"]))
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


def _fmt(v: float, digits: int, lang: Lang = "sv") -> str:
    if v is None or not math.isfinite(v):
        return "–"
    s = f"{v:.{digits}f}"
    return s.replace(".", ",") if lang == "sv" else s


def headline_counts(frames: Mapping[str, pd.DataFrame], ar: int,
                    keys: Sequence[str] = FUNNEL_INDICATORS) -> pd.DataFrame:
    """One row per municipality (code ``kommun``), unmasked: aktualiseringar and children in year
    ``ar`` (children as the funnel counts them: ``funnel.child_key``, a row without barn_id is
    its own child) and each indicator's ``antal_<key>``, ``n_<key>``, ``andel_<key>``."""
    recs = []
    for kommun, df in frames.items():
        d = funnel_mod.in_year(df, ar)
        recs.append({"kommun": kommun, "n_aktualiseringar": len(d),
                     "n_barn": int(funnel_mod.child_key(d).nunique())})
    out = pd.DataFrame.from_records(recs, columns=["kommun", "n_aktualiseringar", "n_barn"])
    for key in keys:
        cnt = indicator_counts(frames, key, ar)
        out[f"antal_{key}"] = cnt["x"].to_numpy()
        out[f"n_{key}"] = cnt["n"].to_numpy()
        out[f"andel_{key}"] = cnt["andel"].to_numpy()
    return out


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
    """(Per-table rule kept for :mod:`genomlysning.change`; 04_compare's tables go through the
    disclosure ledgers of :mod:`genomlysning.compare_report` instead.)

    Hide a share's numerator and everything computed from it when ``x``, ``n - x`` or ``n`` is
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


Pools = Mapping[str, Sequence[str]]


def _pool(frames: Mapping[str, pd.DataFrame], pools: Pools | None, key: str) -> list[str]:
    """The municipalities pooled for indicator ``key`` (all of ``frames`` when ``pools`` is None)."""
    return list(frames) if pools is None else [m for m in frames if m in set(pools.get(key, ()))]


def funnel_counts(frames: Mapping[str, pd.DataFrame], key: str, ar: int,
                  pools: Pools | None = None) -> pd.DataFrame:
    """``indicator_counts`` with the flag ``i_malvarde`` (pooled for the target)."""
    cnt = indicator_counts(frames, key, ar)
    cnt["i_malvarde"] = cnt["kommun"].isin(_pool(frames, pools, key)).to_numpy()
    return cnt


def funnels(frames: Mapping[str, pd.DataFrame], ar: int, keys: Sequence[str] = FUNNEL_INDICATORS,
            pools: Pools | None = None, **kwargs: object) -> dict[str, Funnel]:
    """Funnel-plot data of each indicator in year ``ar``, pooled over ``pools[key]`` (every
    municipality when None; keyword arguments go to ``funnel``)."""
    return {key: funnel(funnel_counts(frames, key, ar, pools), key, **kwargs)  # type: ignore[arg-type]
            for key in keys}


def casemix(frames: Mapping[str, pd.DataFrame], ar: int, keys: Sequence[str] = FUNNEL_INDICATORS,
            covariates: Sequence[str] = CASEMIX, pools: Pools | None = None) -> dict[str, pd.DataFrame]:
    """Indirectly standardised ratios of each indicator in year ``ar``: the model is fitted on the
    pooled municipalities only (``pools[key]``; all when None), and only they get an expected
    count; every municipality keeps a row with its observed ``o`` and ``n`` (``i_malvarde``
    False and the model's columns missing when it is not pooled). Rows in the order of ``frames``,
    municipalities without rows in the indicator left out."""
    out = {}
    for key in keys:
        pool = _pool(frames, pools, key)
        sr = standardised_ratios(casemix_cells({m: frames[m] for m in pool}, key, ar, covariates), covariates)
        cnt = indicator_counts(frames, key, ar)
        cnt = cnt[cnt["n"] > 0]
        tab = sr.drop(columns=["o", "n"]).set_index("kommun").reindex(cnt["kommun"]).reset_index()
        tab.insert(1, "o", cnt["x"].to_numpy())
        tab.insert(3, "n", cnt["n"].to_numpy())
        tab["i_malvarde"] = tab["kommun"].isin(pool).to_numpy()
        out[key] = tab
    return out


def ratio_funnel(sr: pd.DataFrame, key: str, **kwargs: object) -> Funnel:
    """Funnel-plot data of the standardised ratios O/E (volume = expected count E)."""
    return funnel(sr[["kommun", "o", "e", "i_malvarde"]] if "i_malvarde" in sr.columns
                  else sr[["kommun", "o", "e"]], key, kind="ratio", **kwargs)  # type: ignore[arg-type]


def between(frames: Mapping[str, pd.DataFrame], ar: int, keys: Sequence[str] = FUNNEL_INDICATORS,
            covariates: Sequence[str] = CASEMIX, pools: Pools | None = None) -> dict[str, MedianOddsRatio]:
    """``between_variation`` of each indicator in year ``ar`` over the pooled municipalities."""
    return {key: between_variation({m: frames[m] for m in _pool(frames, pools, key)}, key, ar, covariates)
            for key in keys}


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


#: The report folder of the cross-municipality notebook.
OUT = "jamforelse"


def format_p(p: object, lang: Lang = "sv") -> object:
    """A p-value as text: ``< 0,001`` below 0.001, otherwise three decimals
    (:func:`genomlysning.report.format_p`)."""
    from genomlysning import report

    return report.format_p(p, lang)
