"""Judging change: before/after, interrupted time series and difference in differences.

* Before/after: each indicator's rate before and from the reform date, with Newcombe's (1998)
  hybrid score interval (method 10) for the difference of two independent proportions.
* Interrupted time series on monthly rates: segmented regression with a level change and a slope
  change at the reform month. On the rate scale by OLS with Newey-West (HAC) standard errors, the lag
  chosen by the Newey-West (1994) rule ``floor(4 (T/100)^(2/9))``; on the log-odds scale by a
  binomial GLM of the monthly counts (each month weighted by its n) with the same HAC errors; and,
  at row level, a case-mix adjusted logistic version with standard errors clustered by child, whose
  level change is a conditional log-odds effect.
* Pilot area against the rest (difference in differences): a logistic model (log-odds scale) and a
  linear probability model (percentage points) with quarter fixed effects, the pilot indicator and
  the pilot x after interaction, standard errors clustered by child; the pre-period trend check
  tests whether the two groups' monthly trends differed before the start.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from genomlysning import schema
from genomlysning.compare import CASEMIX, Indicator, _covariate_frame, indicator, indicator_rows
from genomlysning.schema import Lang

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DATE_COL = "aktualiseringsdatum"


# ---------------------------------------------------------------------------------------------
# Newcombe's interval for a difference of proportions
# ---------------------------------------------------------------------------------------------

def wilson(x: np.ndarray | float, n: np.ndarray | float,
           level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for x/n (no continuity correction); NaN where n = 0."""
    try:
        from genomlysning import funnel as _funnel

        w = getattr(_funnel, "wilson", None)
    except ImportError:  # funnel.py not landed yet
        w = None
    if w is not None and level == 0.95:
        lo, hi = w(np.asarray(x, dtype=float), np.asarray(n, dtype=float))
        return np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def newcombe_diff(x1: np.ndarray | float, n1: np.ndarray | float, x2: np.ndarray | float,
                  n2: np.ndarray | float,
                  level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference ``x1/n1 - x2/n2`` with Newcombe's hybrid score interval (1998, method 10).

    ``L = d - sqrt((p1 - l1)^2 + (u2 - p2)^2)``, ``U = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)`` where
    ``(l, u)`` are the Wilson score limits of each proportion.
    """
    x1, n1, x2, n2 = (np.asarray(v, dtype=float) for v in (x1, n1, x2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, level)
    l2, u2 = wilson(x2, n2, level)
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
    hybrid score interval. Rows are aktualiseringar in the indicator's denominator.
    """
    recs = []
    for key in indicators:
        ind = indicator(key)
        rows = indicator_rows(df, ind)
        post = _post(rows, reform_datum)
        x0, n0 = int(rows.loc[~post, "y"].sum()), int((~post).sum())
        x1, n1 = int(rows.loc[post, "y"].sum()), int(post.sum())
        d, lo, hi = newcombe_diff(x1, n1, x0, n0, level)
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
    HAC uses the Bartlett kernel with the small-sample correction.
    """
    from statsmodels.genmod.families import Binomial
    from statsmodels.genmod.generalized_linear_model import GLM
    from statsmodels.regression.linear_model import OLS

    s = series[series["n"] > 0].reset_index(drop=True)
    X = segmented_design(s["manad"], reform_datum)
    keep = X["efter"].notna().to_numpy()
    s, X = s[keep].reset_index(drop=True), X[keep].reset_index(drop=True)
    lags = newey_west_lags(len(s)) if maxlags is None else maxlags
    cov = {"cov_type": "HAC", "cov_kwds": {"maxlags": lags, "use_correction": True}}
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
                     pd.Timestamp(reform_datum))


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


def casemix_dummies(rows: pd.DataFrame, covariates: Sequence[str] = CASEMIX) -> pd.DataFrame:
    """Treatment-coded case-mix indicators (reference: each covariate's largest category)."""
    cov = _covariate_frame(rows, covariates)
    blocks = []
    for c in covariates:
        counts = cov[c].value_counts(sort=False)
        ref = counts.sort_values(ascending=False, kind="stable").index[0]
        for lv in sorted(counts.index):
            if lv != ref:
                blocks.append(pd.Series((cov[c] == lv).astype(float).to_numpy(), name=f"{c}={lv}"))
    if not blocks:
        return pd.DataFrame(index=range(len(rows)))
    return pd.concat(blocks, axis=1)


def its_adjusted(df: pd.DataFrame, ind: str | Indicator, reform_datum: str | pd.Timestamp,
                 covariates: Sequence[str] = CASEMIX, level: float = 0.95) -> pd.DataFrame:
    """Row-level segmented logistic regression with case-mix adjustment, clustered by child.

    Terms as in ``segmented_design`` plus the case-mix indicators; the ``efter`` coefficient is the
    level change in the log-odds conditional on case mix. Rows in a transition month are dropped.
    """
    rows = indicator_rows(df, ind).reset_index(drop=True)
    X = segmented_design(rows[DATE_COL], reform_datum)
    X = pd.concat([X, casemix_dummies(rows, covariates)], axis=1)
    keep = X["efter"].notna().to_numpy()
    X = _drop_constant(X[keep].reset_index(drop=True))
    return _logit_clustered(rows.loc[keep, "y"].to_numpy(), X,
                            rows.loc[keep, "barn_id"].astype(str).to_numpy(), level)


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
    period; ``trend``: pre-period check (difference in monthly slope, pilot minus rest, LPM);
    ``quarters``: rates per quarter and group for the figure.
    """

    logit: pd.Series
    lpm: pd.Series
    cells: pd.DataFrame
    trend: pd.Series
    quarters: pd.DataFrame
    n_rows: int
    n_children: int


def did(df: pd.DataFrame, ind: str | Indicator, pilot_omrade: str, start: str | pd.Timestamp,
        covariates: Sequence[str] = CASEMIX, level: float = 0.95) -> DidResult:
    """Difference in differences: pilot area (``omrade == pilot_omrade``) against the rest.

    Models: ``y ~ quarter FE + pilot + pilot:after (+ case mix)``, logistic and linear
    probability, standard errors clustered by child. Rows without ``omrade`` are dropped.
    """
    rows = indicator_rows(df, ind)
    rows = rows[rows["omrade"].notna()].reset_index(drop=True)
    pilot = (rows["omrade"] == pilot_omrade).to_numpy()
    if not pilot.any() or pilot.all():
        raise ValueError(f"omrade {pilot_omrade!r} must mark some but not all rows; values: "
                         f"{sorted(rows['omrade'].unique())}")
    after = _post(rows, start).to_numpy()
    quarter = rows[DATE_COL].dt.to_period("Q").astype(str)
    qd = pd.get_dummies(quarter, prefix="fdr_kvartal", prefix_sep="=", dtype=float, drop_first=True)
    X = pd.concat([pd.DataFrame({"const": 1.0, "pilot": pilot.astype(float),
                                 "pilot_efter": (pilot & after).astype(float)}),
                   qd.reset_index(drop=True), casemix_dummies(rows, covariates)], axis=1)
    X = _drop_constant(X)
    y = rows["y"].to_numpy()
    groups = rows["barn_id"].astype(str).to_numpy()
    logit = _logit_clustered(y, X, groups, level).set_index("term").loc["pilot_efter"]
    lpm = _logit_clustered(y, X, groups, level, linear=True).set_index("term").loc["pilot_efter"]
    cells = (pd.DataFrame({"pilot": pilot, "efter": after, "y": y})
             .groupby(["pilot", "efter"])["y"].agg(x="sum", n="size").reset_index())
    cells["andel"] = cells["x"] / cells["n"]
    trend = pre_trend(rows, pilot, after, level)
    quarters = (pd.DataFrame({"fdr_kvartal": rows[DATE_COL].dt.to_period("Q").dt.start_time,
                              "pilot": pilot, "y": y})
                .groupby(["fdr_kvartal", "pilot"])["y"].agg(x="sum", n="size").reset_index())
    quarters["andel"] = quarters["x"] / quarters["n"]
    return DidResult(logit, lpm, cells, trend, quarters, len(rows), int(pd.Series(groups).nunique()))


def pre_trend(rows: pd.DataFrame, pilot: np.ndarray, after: np.ndarray,
              level: float = 0.95) -> pd.Series:
    """Pre-period check: ``y ~ pilot + month + pilot:month`` (LPM, clustered by child).

    Returns the ``pilot_tid`` row: the difference in monthly slope between the pilot and the rest
    before the start (per month, as a share). A clear difference warns against parallel trends.
    """
    pre = ~after
    r = rows[pre]
    t = segmented_design(r[DATE_COL], r[DATE_COL].max())["tid"].to_numpy()
    pil = pilot[pre].astype(float)
    X = pd.DataFrame({"const": 1.0, "pilot": pil, "tid": t, "pilot_tid": pil * t})
    tab = _logit_clustered(r["y"].to_numpy(), X, r["barn_id"].astype(str).to_numpy(), level,
                           linear=True)
    return tab.set_index("term").loc["pilot_tid"]


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------

def plot_its(res: ItsResult, lang: Lang = "sv", title: str = "", k: int = 5) -> Figure:
    """Observed monthly rates, fitted segments and the counterfactual pre-period trend.

    Months whose counts (x, n - x) are in 1..k-1 are not drawn (the fit still uses them).
    """
    import matplotlib.pyplot as plt

    from genomlysning.compare import suppressed

    f = res.fitted
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=100)
    show = ~suppressed(np.column_stack([f["x"], f["n"] - f["x"], f["n"]]), k)
    ax.scatter(f.loc[show, "manad"], f.loc[show, "andel"], s=18, color="#4d4d4d", zorder=3,
               label=schema.text("fdr_observerad", lang))
    for post in (False, True):
        seg = f[f["efter"] == post]
        ax.plot(seg["manad"], seg["anpassad"], color="#2166ac", lw=2,
                label=schema.text("fdr_anpassad", lang) if not post else None)
    seg = f[f["efter"]]
    ax.plot(seg["manad"], seg["kontrafaktisk"], "--", color="#b2182b", lw=1.5,
            label=schema.text("fdr_kontrafaktisk", lang))
    ax.axvline(res.reform_datum, color="black", lw=1, ls=":")
    ax.annotate(schema.text("fdr_reformdatum", lang), (res.reform_datum, 1), xycoords=("data",
                "axes fraction"), xytext=(3, -12), textcoords="offset points", fontsize=8)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_ylabel(schema.text("andel", lang))
    ax.set_xlabel(schema.label("manad", lang))
    ax.set_title(title, fontsize=11, loc="left")
    ax.legend(fontsize=8, frameon=False, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_did(res: DidResult, start: str | pd.Timestamp, pilot_label: str, lang: Lang = "sv",
             title: str = "", k: int = 5) -> Figure:
    """Quarterly rates in the pilot area and the rest; quarters with small counts not drawn."""
    import matplotlib.pyplot as plt

    from genomlysning.compare import suppressed

    q = res.quarters
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=100)
    for is_pilot, colour, name in ((True, "#b2182b", pilot_label),
                                   (False, "#2166ac", schema.text("fdr_ovriga", lang))):
        g = q[q["pilot"] == is_pilot].copy()
        hide = suppressed(np.column_stack([g["x"], g["n"] - g["x"], g["n"]]), k)
        g.loc[hide, "andel"] = np.nan
        ax.plot(g["fdr_kvartal"], g["andel"], "o-", color=colour, label=name)
    ax.axvline(pd.Timestamp(start), color="black", lw=1, ls=":")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_ylabel(schema.text("andel", lang))
    ax.set_xlabel(schema.text("fdr_kvartal", lang))
    ax.set_title(title, fontsize=11, loc="left")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Tables for 05_change
# ---------------------------------------------------------------------------------------------

def _niva(level: float, lang: Lang) -> str:
    s = f"{level * 100:g}"
    return s.replace(".", ",") if lang == "sv" else s


def before_after_table(ba: pd.DataFrame, k: int = 5, lang: Lang = "sv",
                       level: float = 0.95) -> pd.DataFrame:
    """Labelled before/after table; a side's share (and the difference) hidden when its counts are
    small (``compare.mask_share``)."""
    from genomlysning.compare import mask_share

    t = schema.text
    fore, efter = t("fdr_fore", lang), t("fdr_efter", lang)
    cols = {
        t("jmf_indikator", lang): [indicator(x).label(lang) for x in ba["indikator"]],
        f"{fore}: {t('jmf_taljare', lang).lower()}": ba["x_fore"].to_numpy(),
        f"{fore}: {t('jmf_namnare', lang).lower()}": ba["n_fore"].to_numpy(),
        f"{fore}: {t('andel', lang).lower()}": ba["andel_fore"].to_numpy(),
        f"{efter}: {t('jmf_taljare', lang).lower()}": ba["x_efter"].to_numpy(),
        f"{efter}: {t('jmf_namnare', lang).lower()}": ba["n_efter"].to_numpy(),
        f"{efter}: {t('andel', lang).lower()}": ba["andel_efter"].to_numpy(),
        t("fdr_skillnad", lang): ba["skillnad"].to_numpy(),
        t("jmf_ki_nedre", lang, niva=_niva(level, lang)): ba["skillnad_nedre"].to_numpy(),
        t("jmf_ki_ovre", lang, niva=_niva(level, lang)): ba["skillnad_ovre"].to_numpy(),
    }
    tab = pd.DataFrame(cols)
    n = list(cols)
    diff = n[7:10]
    tab = mask_share(tab, n[1], n[2], [n[3], *diff], k)
    return mask_share(tab, n[4], n[5], [n[6], *diff], k)


_TERMS = ("const", "tid", "efter", "tid_efter")


def coef_table(coef: pd.DataFrame, lang: Lang = "sv", level: float = 0.95,
               terms: Sequence[str] = _TERMS) -> pd.DataFrame:
    """Labelled coefficient rows (estimate, SE, interval, p) of the named terms."""
    t = schema.text
    c = coef.set_index("term").loc[list(terms)]
    return pd.DataFrame({
        t("fdr_term", lang): [t(f"fdr_term_{x}", lang) for x in terms],
        t("fdr_skattning", lang): c["estimate"].to_numpy(),
        t("fdr_medelfel", lang): c["se"].to_numpy(),
        t("jmf_ki_nedre", lang, niva=_niva(level, lang)): c["lower"].to_numpy(),
        t("jmf_ki_ovre", lang, niva=_niva(level, lang)): c["upper"].to_numpy(),
        "p": c["p"].to_numpy(),
    })


def did_table(res: DidResult, lang: Lang = "sv", level: float = 0.95) -> pd.DataFrame:
    """The DiD effect on the log-odds and share scales and the pre-period trend check."""
    t = schema.text
    rows = [("fdr_did_logit", res.logit), ("fdr_did_lpm", res.lpm), ("fdr_pretrend", res.trend)]
    return pd.DataFrame({
        t("fdr_modell", lang): [t(key, lang) for key, _ in rows],
        t("fdr_skattning", lang): [r["estimate"] for _, r in rows],
        t("fdr_medelfel", lang): [r["se"] for _, r in rows],
        t("jmf_ki_nedre", lang, niva=_niva(level, lang)): [r["lower"] for _, r in rows],
        t("jmf_ki_ovre", lang, niva=_niva(level, lang)): [r["upper"] for _, r in rows],
        "p": [r["p"] for _, r in rows],
    })


def did_cells_table(res: DidResult, pilot_label: str, k: int = 5, lang: Lang = "sv") -> pd.DataFrame:
    """Counts and shares of the pilot area and the rest, before and after; suppression applied."""
    from genomlysning.compare import mask_share

    t = schema.text
    c = res.cells.sort_values(["pilot", "efter"], ascending=[False, True])
    tab = pd.DataFrame({
        t("fdr_grupp", lang): [pilot_label if p else t("fdr_ovriga", lang) for p in c["pilot"]],
        t("fdr_period", lang): [t("fdr_efter" if e else "fdr_fore", lang) for e in c["efter"]],
        t("jmf_taljare", lang): c["x"].to_numpy(),
        t("jmf_namnare", lang): c["n"].to_numpy(),
        t("andel", lang): c["andel"].to_numpy(),
    })
    return mask_share(tab, t("jmf_taljare", lang), t("jmf_namnare", lang), [t("andel", lang)], k)
