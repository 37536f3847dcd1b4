"""Judging change: before/after, interrupted time series and difference in differences.

* Before/after: each indicator's rate before and from the reform date, with Newcombe's (1998)
  hybrid score interval (method 10) for the difference, on Wilson limits adjusted for the
  clustering of aktualiseringar by child (``funnel.effective_n``).
* Interrupted time series on monthly rates: segmented regression with a level change and a slope
  change at the reform month (t-based inference, df = months - 4). On the rate scale by OLS with
  Newey-West (HAC) standard errors, the lag
  chosen by the Newey-West (1994) rule ``floor(4 (T/100)^(2/9))``; on the log-odds scale by a
  binomial GLM of the monthly counts (each month weighted by its n) with the same HAC errors; and,
  at row level, a case-mix adjusted logistic version with standard errors clustered by child, whose
  level change is a conditional log-odds effect.
* Pilot area against the rest (difference in differences): a logistic model (log-odds scale) and a
  linear probability model (percentage points) with quarter fixed effects, the pilot indicator and
  the pilot x after interaction, standard errors clustered by child; the pre-period trend check
  tests whether the two groups' monthly trends differed before the start.

This module only computes: unsuppressed tables and model fits. It never masks, draws or writes;
:mod:`genomlysning.change_ledger` registers every count it publishes with its definition and
:mod:`genomlysning.change_report` protects, draws and writes them (the publishing layer).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from genomlysning import schema
from genomlysning.compare import CASEMIX, Indicator, indicator, indicator_rows
from genomlysning.funnel import _wilson_eff, child_key, effective_n, wilson
from genomlysning.schema import Lang

DATE_COL = "aktualiseringsdatum"


# ---------------------------------------------------------------------------------------------
# Newcombe's interval for a difference of proportions
# ---------------------------------------------------------------------------------------------

def newcombe_diff(x1: np.ndarray | float, n1: np.ndarray | float, x2: np.ndarray | float,
                  n2: np.ndarray | float, level: float = 0.95, n_eff1: np.ndarray | float | None = None,
                  n_eff2: np.ndarray | float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference ``x1/n1 - x2/n2`` with Newcombe's hybrid score interval (1998, method 10).

    ``L = d - sqrt((p1 - l1)^2 + (u2 - p2)^2)``, ``U = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)`` where
    ``(l, u)`` are the Wilson score limits of each proportion (``funnel.wilson``). With
    ``n_eff1``/``n_eff2`` (aktualiseringar clustered by child, ``funnel.effective_n``) the limits
    are the design-effect-adjusted Wilson limits, so the difference inherits the clustering. A
    child with aktualiseringar on both sides makes the two shares positively correlated; treating
    them as independent, as the formula does, then errs on the wide side.
    """
    x1, n1, x2, n2 = (np.asarray(v, dtype=float) for v in (x1, n1, x2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, level) if n_eff1 is None else _wilson_eff(x1, n1, np.asarray(n_eff1), level)
    l2, u2 = wilson(x2, n2, level) if n_eff2 is None else _wilson_eff(x2, n2, np.asarray(n_eff2), level)
    d = p1 - p2
    lo = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, lo, hi


# ---------------------------------------------------------------------------------------------
# Before / after
# ---------------------------------------------------------------------------------------------

def _post(df: pd.DataFrame, reform_datum: str | pd.Timestamp) -> pd.Series:
    return df[DATE_COL] >= pd.Timestamp(reform_datum)


def before_after(df: pd.DataFrame, reform_datum: str | pd.Timestamp,
                 indicators: Sequence[str | Indicator], level: float = 0.95) -> pd.DataFrame:
    """Each indicator before and from ``reform_datum``: counts, rates, difference and interval.

    The difference is after minus before (percentage points as a fraction) with Newcombe's
    hybrid score interval built on design-effect-adjusted Wilson limits (rows are aktualiseringar
    in the indicator's denominator, clustered by child: ``funnel.effective_n``).
    """
    recs = []
    for key in indicators:
        ind = indicator(key)
        rows = indicator_rows(df, ind)
        post = _post(rows, reform_datum).to_numpy(dtype=bool)
        y = rows["y"].to_numpy(dtype=bool)
        x0, n0 = int(y[~post].sum()), int((~post).sum())
        x1, n1 = int(y[post].sum()), int(post.sum())
        children = child_key(rows)
        eff1 = effective_n(y & post, post, children)[0]
        eff0 = effective_n(y & ~post, ~post, children)[0]
        d, lo, hi = newcombe_diff(x1, n1, x0, n0, level, eff1, eff0)
        recs.append({"indikator": ind.key, "x_fore": x0, "n_fore": n0, "andel_fore": _ratio(x0, n0),
                     "x_efter": x1, "n_efter": n1, "andel_efter": _ratio(x1, n1),
                     "skillnad": float(d), "skillnad_nedre": float(lo), "skillnad_ovre": float(hi)})
    return pd.DataFrame.from_records(recs)


def _ratio(x: float, n: float) -> float:
    return x / n if n else float("nan")


# ---------------------------------------------------------------------------------------------
# Interrupted time series
# ---------------------------------------------------------------------------------------------

def newey_west_lags(n_periods: int) -> int:
    """Newey-West (1994) rule of thumb for the HAC truncation lag: floor(4 (T/100)^(2/9))."""
    return int(math.floor(4 * (n_periods / 100) ** (2 / 9))) if n_periods > 0 else 0


def monthly_counts(df: pd.DataFrame, ind: str | Indicator) -> pd.DataFrame:
    """Numerator ``x``, denominator ``n`` and rate per calendar month, every month in the span."""
    rows = indicator_rows(df, ind)
    month = rows[DATE_COL].dt.to_period("M")
    g = rows.groupby(month)["y"].agg(x="sum", n="size")
    if g.empty:
        return pd.DataFrame(columns=["manad", "x", "n", "andel"])
    full = pd.period_range(g.index.min(), g.index.max(), freq="M")
    g = g.reindex(full, fill_value=0)
    out = pd.DataFrame({"manad": full.to_timestamp(), "x": g["x"].astype(int).to_numpy(),
                        "n": g["n"].astype(int).to_numpy()})
    out["andel"] = np.where(out["n"] > 0, out["x"] / out["n"].where(out["n"] > 0, 1), np.nan)
    return out


def segmented_design(months: pd.Series, reform_datum: str | pd.Timestamp) -> pd.DataFrame:
    """Design of a segmented regression: const, tid (months since the earliest), efter, tid_efter.

    ``efter`` is 1 from the first month starting on or after the reform date; ``tid_efter`` counts
    months since that month (0 in it). A month that contains the reform date without starting on it
    is a transition month and gets ``efter = NaN`` (callers drop it). ``months`` may repeat (one
    entry per row) and need not be sorted.
    """
    d = pd.to_datetime(months)
    ordinal = (d.dt.year * 12 + d.dt.month - 1).to_numpy(dtype=float)  # months since year 0
    reform = pd.Timestamp(reform_datum)
    first_post = reform.to_period("M") if reform.day == 1 else reform.to_period("M") + 1
    origin = ordinal.min() if len(ordinal) else 0.0
    t = ordinal - origin
    t0 = first_post.year * 12 + first_post.month - 1 - origin
    post = (t >= t0).astype(float)
    if reform.day != 1:
        post[ordinal == reform.year * 12 + reform.month - 1] = np.nan
    return pd.DataFrame({"const": 1.0, "tid": t, "efter": post,
                         "tid_efter": np.where(post == 1, t - t0, 0.0)}, index=months.index)


@dataclass(frozen=True)
class ItsResult:
    """A fitted segmented regression.

    ``coef``: term, estimate, se, lower, upper, p for const, tid, efter (level change), tid_efter
    (slope change); ``scale`` is ``andel`` (rate, OLS) or ``logodds`` (binomial GLM / logit).
    ``fitted``: month, observed rate, n, fitted and counterfactual (pre-period trend continued).
    """

    scale: str
    coef: pd.DataFrame
    fitted: pd.DataFrame
    maxlags: int
    n_months: int
    reform_datum: pd.Timestamp
    df_resid: int = 0  #: degrees of freedom of the t-based intervals and p-values (months - 4)

    def term(self, name: str) -> pd.Series:
        """The coefficient row of ``name``."""
        return self.coef.set_index("term").loc[name]


def _coef_table(res: object, names: Sequence[str], level: float) -> pd.DataFrame:
    params = np.asarray(res.params)
    bse = np.asarray(res.bse)
    ci = np.asarray(res.conf_int(alpha=1 - level))
    pv = np.asarray(res.pvalues)
    return pd.DataFrame({"term": list(names), "estimate": params, "se": bse, "lower": ci[:, 0],
                         "upper": ci[:, 1], "p": pv})


def its(series: pd.DataFrame, reform_datum: str | pd.Timestamp, scale: str = "andel",
        maxlags: int | None = None, level: float = 0.95) -> ItsResult:
    """Segmented regression of a monthly series (``monthly_counts``) with HAC errors.

    ``scale="andel"``: OLS of the monthly rate (each month weighs the same); ``"logodds"``:
    binomial GLM of x out of n (months weighted by n). ``maxlags`` defaults to the Newey-West rule;
    HAC uses the Bartlett kernel with the small-sample correction. Intervals and p-values use the
    t distribution with ``months - 4`` degrees of freedom (``df_resid``): with 36 months the normal
    distribution would make them too narrow.
    """
    from statsmodels.genmod.families import Binomial
    from statsmodels.genmod.generalized_linear_model import GLM
    from statsmodels.regression.linear_model import OLS

    s = series[series["n"] > 0].reset_index(drop=True)
    X = segmented_design(s["manad"], reform_datum)
    keep = X["efter"].notna().to_numpy()
    s, X = s[keep].reset_index(drop=True), X[keep].reset_index(drop=True)
    lags = newey_west_lags(len(s)) if maxlags is None else maxlags
    cov = {"cov_type": "HAC", "cov_kwds": {"maxlags": lags, "use_correction": True}, "use_t": True}
    if scale == "andel":
        res = OLS(s["andel"].to_numpy(float), X.to_numpy(float)).fit(**cov)
    elif scale == "logodds":
        endog = np.column_stack([s["x"], s["n"] - s["x"]]).astype(float)
        res = GLM(endog, X.to_numpy(float), family=Binomial()).fit(**cov)
    else:
        raise ValueError(f"scale must be 'andel' or 'logodds', not {scale!r}")
    Xa = X.to_numpy(float)
    cf = Xa.copy()
    cf[:, 2:] = 0.0  # counterfactual: no level or slope change
    fitted = pd.DataFrame({"manad": s["manad"], "andel": s["andel"], "x": s["x"], "n": s["n"],
                           "efter": X["efter"].astype(bool), "anpassad": res.predict(Xa),
                           "kontrafaktisk": res.predict(cf)})
    return ItsResult(scale, _coef_table(res, list(X.columns), level), fitted, lags, len(s),
                     pd.Timestamp(reform_datum), int(round(float(res.df_resid))))


def _logit_clustered(y: np.ndarray, X: pd.DataFrame, groups: np.ndarray, level: float,
                     linear: bool = False) -> pd.DataFrame:
    """Logistic (or linear probability) model with standard errors clustered by ``groups``."""
    from statsmodels.genmod.families import Binomial
    from statsmodels.genmod.generalized_linear_model import GLM
    from statsmodels.regression.linear_model import OLS
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    codes, _ = pd.factorize(groups)
    cov = {"cov_type": "cluster", "cov_kwds": {"groups": codes}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        if linear:
            res = OLS(y.astype(float), X.to_numpy(float)).fit(**cov)
        else:
            res = GLM(y.astype(float), X.to_numpy(float), family=Binomial()).fit(**cov)
    return _coef_table(res, list(X.columns), level)


def casemix_design(rows: pd.DataFrame, ind: str | Indicator, covariates: Sequence[str] = CASEMIX,
                   k: int = 5) -> pd.DataFrame:
    """Case-mix design columns for ``rows`` (no intercept), indexed like the rows kept.

    Built by ``models.prepare``: the same reference categories and pooling of small categories as
    the models of 03_models; rows with a missing case-mix value are dropped (their count is in
    ``models.missing_table``).
    """
    if not covariates:
        return pd.DataFrame(index=rows.index)
    from genomlysning import models

    ind = indicator(ind)
    out = models.Outcome(ind.key, ind.numerator, (), ind.label("sv"), ind.label("en"))
    prep = models.prepare(rows, out, formula=" + ".join(covariates), k=k)
    X = models.design_matrix(prep.terms, prep.data)[:, 1:]
    return pd.DataFrame(X, columns=list(models.column_names(prep.terms)[1:]), index=prep.data.index)


def its_adjusted(df: pd.DataFrame, ind: str | Indicator, reform_datum: str | pd.Timestamp,
                 covariates: Sequence[str] = CASEMIX, level: float = 0.95, k: int = 5) -> pd.DataFrame:
    """Row-level segmented logistic regression with case-mix adjustment, clustered by child.

    Terms as in ``segmented_design`` plus the case-mix columns of ``casemix_design``; the
    ``efter`` coefficient is the level change in the log-odds conditional on case mix. Rows in a
    transition month are dropped.
    """
    rows = indicator_rows(df, ind)
    cm = casemix_design(rows, ind, covariates, k)
    rows = rows.loc[cm.index]
    X = pd.concat([segmented_design(rows[DATE_COL], reform_datum), cm], axis=1)
    keep = X["efter"].notna().to_numpy()
    X = _drop_constant(X[keep].reset_index(drop=True))
    return _logit_clustered(rows["y"].to_numpy()[keep], X,
                            rows["barn_id"].astype(str).to_numpy()[keep], level)


def _drop_constant(X: pd.DataFrame) -> pd.DataFrame:
    """Drop indicator columns that are constant (all 0 or all 1) except the intercept."""
    keep = [c for c in X.columns if c == "const" or X[c].nunique() > 1]
    return X[keep]


# ---------------------------------------------------------------------------------------------
# Difference in differences
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DidResult:
    """Pilot area against the rest of the district.

    ``logit`` / ``lpm``: the ``pilot_efter`` rows (interaction = the DiD effect) of the logistic
    (log-odds) and linear probability (share) models; ``cells``: counts and rates by group and
    period (every row with an area, also those the models drop for a missing case mix);
    ``trend``: pre-period check (difference in monthly slope, pilot minus rest, LPM);
    ``quarters``: rates per quarter and group for the figure.
    """

    logit: pd.Series
    lpm: pd.Series
    cells: pd.DataFrame
    trend: pd.Series
    quarters: pd.DataFrame
    n_rows: int
    n_children: int


def _area_dummies(omrade: pd.Series, pilot_omrade: str) -> pd.DataFrame:
    """Area fixed effects: one indicator per area except the largest area that is not the pilot."""
    counts = omrade.value_counts(sort=False)
    ref = counts.drop(pilot_omrade).sort_values(ascending=False, kind="stable").index[0]
    return pd.DataFrame({f"omrade={a}": (omrade == a).to_numpy(dtype=float)
                         for a in sorted(counts.index) if a != ref}, index=omrade.index)


def did(df: pd.DataFrame, ind: str | Indicator, pilot_omrade: str, start: str | pd.Timestamp,
        covariates: Sequence[str] = CASEMIX, level: float = 0.95, k: int = 5) -> DidResult:
    """Difference in differences: pilot area (``omrade == pilot_omrade``) against the rest.

    Models: ``y ~ area FE + quarter FE + pilot:after (+ case mix)``, logistic and linear
    probability, standard errors clustered by child. Rows without ``omrade`` are dropped; rows
    without a complete case mix are dropped from the models only (``n_rows``).
    """
    rows = indicator_rows(df, ind)
    rows = rows[rows["omrade"].notna().to_numpy()]
    areas = rows["omrade"].astype(str)
    if pilot_omrade not in set(areas) or areas.nunique() < 2:
        raise ValueError(f"omrade {pilot_omrade!r} must mark some but not all rows; values: "
                         f"{sorted(areas.unique())}")
    cells, quarters = _did_counts(rows, areas == pilot_omrade, _post(rows, start))
    cm = casemix_design(rows, ind, covariates, k)
    rows, areas = rows.loc[cm.index], areas.loc[cm.index]
    pilot = (areas == pilot_omrade).to_numpy()
    after = _post(rows, start).to_numpy()
    quarter = rows[DATE_COL].dt.to_period("Q").astype(str)
    qd = pd.get_dummies(quarter, prefix="kvartal", prefix_sep="=", dtype=float, drop_first=True)
    X = pd.concat([pd.DataFrame({"const": 1.0, "pilot_efter": (pilot & after).astype(float)},
                                index=rows.index),
                   _area_dummies(areas, pilot_omrade), qd, cm], axis=1).reset_index(drop=True)
    X = _drop_constant(X)
    y = rows["y"].to_numpy()
    groups = rows["barn_id"].astype(str).to_numpy()
    logit = _logit_clustered(y, X, groups, level).set_index("term").loc["pilot_efter"]
    lpm = _logit_clustered(y, X, groups, level, linear=True).set_index("term").loc["pilot_efter"]
    trend = pre_trend(rows, areas, pilot_omrade, after, level)
    return DidResult(logit, lpm, cells, trend, quarters, len(rows), int(pd.Series(groups).nunique()))


def _did_counts(rows: pd.DataFrame, pilot: pd.Series, after: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts and rates by group and period, and by quarter and group, of every row with an
    area (the models drop rows without a complete case mix; these descriptive counts do not)."""
    y = rows["y"].to_numpy()
    p, a = pilot.to_numpy(dtype=bool), after.to_numpy(dtype=bool)
    cells = (pd.DataFrame({"pilot": p, "efter": a, "y": y})
             .groupby(["pilot", "efter"])["y"].agg(x="sum", n="size").reset_index())
    cells["andel"] = cells["x"] / cells["n"]
    quarters = (pd.DataFrame({"kvartal": rows[DATE_COL].dt.to_period("Q").dt.start_time.to_numpy(),
                              "pilot": p, "y": y})
                .groupby(["kvartal", "pilot"])["y"].agg(x="sum", n="size").reset_index())
    quarters["andel"] = quarters["x"] / quarters["n"]
    return cells, quarters


def pre_trend(rows: pd.DataFrame, areas: pd.Series, pilot_omrade: str, after: np.ndarray,
              level: float = 0.95) -> pd.Series:
    """Pre-period check: ``y ~ area FE + month + pilot:month`` (LPM, clustered by child).

    Returns the ``pilot_tid`` row: the difference in monthly slope between the pilot and the rest
    before the start (per month, as a share). A clear difference warns against parallel trends.
    """
    pre = ~after
    r, a = rows[pre], areas[pre]
    t = segmented_design(r[DATE_COL], r[DATE_COL].max())["tid"].to_numpy()
    pil = (a == pilot_omrade).to_numpy(dtype=float)
    X = pd.concat([pd.DataFrame({"const": 1.0, "tid": t, "pilot_tid": pil * t}, index=r.index),
                   _area_dummies(a, pilot_omrade)], axis=1).reset_index(drop=True)
    tab = _logit_clustered(r["y"].to_numpy(), X, r["barn_id"].astype(str).to_numpy(), level,
                           linear=True)
    return tab.set_index("term").loc["pilot_tid"]



def half_years(quarters: pd.DataFrame) -> pd.DataFrame:
    """Quarterly counts summed to half-years (January-June, July-December)."""
    q = quarters.copy()
    q["kvartal"] = [pd.Timestamp(t.year, 1 if t.month < 7 else 7, 1) for t in q["kvartal"]]
    out = q.groupby(["kvartal", "pilot"], as_index=False)[["x", "n"]].sum()
    out["andel"] = out["x"] / out["n"]
    return out


# ---------------------------------------------------------------------------------------------
# Tables for 05_change (unsuppressed; change_report masks them through the ledger)
# ---------------------------------------------------------------------------------------------

#: Indicators of the before/after table.
BEFORE_AFTER: tuple[str, ...] = ("utredning_inledd", "insats_erbjuden", "barnsamtal",
                                 "fb_inom_frist", "insats_accepterad")


def before_after_table(ba: pd.DataFrame, lang: Lang = "sv") -> pd.DataFrame:
    """Before/after table with tidy columns (the difference in percentage points), one row per
    row of ``ba`` in its order."""
    return pd.DataFrame({
        "indikator": [indicator(x).label(lang) for x in ba["indikator"]],
        "antal_fore": ba["x_fore"].to_numpy(), "n_fore": ba["n_fore"].to_numpy(),
        "andel_fore": ba["andel_fore"].to_numpy(),
        "antal_efter": ba["x_efter"].to_numpy(), "n_efter": ba["n_efter"].to_numpy(),
        "andel_efter": ba["andel_efter"].to_numpy(),
        "skillnad": 100 * ba["skillnad"].to_numpy(),
        "skillnad_lo": 100 * ba["skillnad_nedre"].to_numpy(),
        "skillnad_hi": 100 * ba["skillnad_ovre"].to_numpy(),
    })


def its_points_table(res: ItsResult) -> pd.DataFrame:
    """The observed monthly points of an ITS fit (the months the fit uses): manad, antal, n, andel."""
    f = res.fitted
    return pd.DataFrame({"manad": pd.to_datetime(f["manad"]).dt.date.astype(str).to_numpy(),
                         "antal": f["x"].astype(int).to_numpy(), "n": f["n"].astype(int).to_numpy(),
                         "andel": f["andel"].to_numpy(dtype=float)})


_TERMS = ("const", "tid", "efter", "tid_efter")


def coef_table(coef: pd.DataFrame, lang: Lang = "sv", terms: Sequence[str] = _TERMS,
               scale: float = 1.0) -> pd.DataFrame:
    """Labelled coefficient rows of the named terms: term, skattning(_lo/_hi), medelfel, p.

    ``scale`` multiplies estimates, bounds and standard errors (100 turns a share into
    percentage points).
    """
    c = coef.set_index("term").loc[list(terms)]
    return pd.DataFrame({
        "term": [schema.text(f"fdr_term_{x}", lang) for x in terms],
        "skattning": c["estimate"].to_numpy() * scale,
        "skattning_lo": c["lower"].to_numpy() * scale,
        "skattning_hi": c["upper"].to_numpy() * scale,
        "medelfel": c["se"].to_numpy() * scale,
        "p": c["p"].to_numpy(),
    })


def did_table(res: DidResult, lang: Lang = "sv") -> pd.DataFrame:
    """The DiD effect on the log-odds scale and in percentage points, and the pre-period trend
    check (percentage points per month): modell, skattning(_lo/_hi), medelfel, p."""
    rows = [("fdr_did_logit", res.logit, 1.0), ("fdr_did_lpm", res.lpm, 100.0),
            ("fdr_pretrend", res.trend, 100.0)]
    return pd.DataFrame({
        "modell": [schema.text(key, lang) for key, _, _ in rows],
        "skattning": [r["estimate"] * f for _, r, f in rows],
        "skattning_lo": [r["lower"] * f for _, r, f in rows],
        "skattning_hi": [r["upper"] * f for _, r, f in rows],
        "medelfel": [r["se"] * f for _, r, f in rows],
        "p": [r["p"] for _, r, _ in rows],
    })


def did_cells_order(res: DidResult) -> pd.DataFrame:
    """The DiD cells in the order of the published table: pilot first, before then after."""
    return res.cells.sort_values(["pilot", "efter"], ascending=[False, True]).reset_index(drop=True)


def did_cells_table(res: DidResult, pilot_label: str, lang: Lang = "sv") -> pd.DataFrame:
    """Counts and shares of the pilot area and the rest, before and after (rows as
    :func:`did_cells_order`). Columns: grupp, period, antal, n, andel."""
    c = did_cells_order(res)
    return pd.DataFrame({
        "grupp": [pilot_label if p else schema.text("fdr_ovriga", lang) for p in c["pilot"]],
        "period": [schema.text("fdr_efter" if e else "fdr_fore", lang) for e in c["efter"]],
        "antal": c["x"].to_numpy(), "n": c["n"].to_numpy(), "andel": c["andel"].to_numpy(),
    })


def did_points_table(points: pd.DataFrame, pilot_label: str, lang: Lang = "sv") -> pd.DataFrame:
    """The points of the DiD figure (``quarters`` or :func:`half_years`): period (first day),
    grupp, antal, n, andel; pilot rows first."""
    q = points.sort_values(["pilot", "kvartal"], ascending=[False, True]).reset_index(drop=True)
    return pd.DataFrame({
        "period": pd.to_datetime(q["kvartal"]).dt.date.astype(str).to_numpy(),
        "grupp": [pilot_label if p else schema.text("fdr_ovriga", lang) for p in q["pilot"]],
        "antal": q["x"].astype(int).to_numpy(), "n": q["n"].astype(int).to_numpy(),
        "andel": q["andel"].to_numpy(dtype=float),
    })
