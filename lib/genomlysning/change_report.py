"""The publishing layer of the change notebook (05): protect, draw and write.

:func:`analyse` runs the analyses of :mod:`genomlysning.change` (which only compute), registers
every count 05 publishes in one many-year ledger (:mod:`genomlysning.change_ledger`) together
with what 02 and 03 already published for the unit, and protects them all at once; then
:func:`publish` writes the masked tables, the figures (drawn from the masked tables only), the
ledger's definitions and returns what the notebook shows.

**Counts are cells.** The number of aktualiseringar (``05_underlag``), the before/after counts
(``05_fore_efter``), the monthly points of the time series (``05_its_manader``), the pilot
area's cells (``05_did_celler``) and the points of the pilot figure (``05_did_perioder``) are
registered with their definitions; shares, differences and intervals are linked to their
counts; a hidden point is not drawn.

**Model estimates are not cells.** The coefficients of the segmented regressions and of the
difference in differences are not linear in counts, so the ledger cannot hold them; they are
published unless one is, given what else is published, a deterministic function of a hidden
count:

* The rate-scale segmented OLS (``05_its_andel``) is a linear function of the monthly shares,
  and the binomial GLM (``05_its_logodds``) solves score equations in the monthly counts: with
  every other month published, the coefficients determine a hidden month's share. Both tables
  are hidden (every estimate ``..``) when any month of the fit has a hidden count, and the fitted
  lines are then not drawn.
* The case-mix adjusted models (``05_its_justerad``, ``05_did``) are fitted per aktualisering on
  case-mix cells that 05 does not publish: no published count determines them. But when a cell
  of the pilot comparison holds only 1..k-1 aktualiseringar (or all but 1..k-1 of them have the
  outcome), the pilot x after (or area) term fits those few rows alone and the estimate reveals
  their outcomes (a logistic estimate running off to infinity says "all" or "none"): then the
  whole ``05_did`` table is hidden.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from genomlysning import audit, change, change_ledger, disclose, report, schema
from genomlysning.compare import format_p, indicator, kommun_namn, suppressed
from genomlysning.ledger import Ledger
from genomlysning.schema import Lang

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DATE_COL = change.DATE_COL
#: Coefficient tables: the model estimates of the notebook.
ESTIMATES: tuple[str, ...] = ("05_its_andel", "05_its_logodds", "05_its_justerad", "05_did")
_NUMERIC = ("skattning", "skattning_lo", "skattning_hi", "medelfel", "p")


@dataclass
class ChangeReport:
    """Everything 05 computes for one municipality, its ledger and the masked tables."""

    kommun: str
    k: int
    lang: Lang
    reform_datum: str | None
    pilot_omrade: str | None
    start: str | None
    outcome: str
    pilot_outcome: str
    fran: str
    till: str
    raw: dict[str, pd.DataFrame]
    ledger: Ledger
    masked: dict[str, pd.DataFrame] = field(default_factory=dict)
    ba: pd.DataFrame | None = None
    rate: change.ItsResult | None = None
    logodds: change.ItsResult | None = None
    adjusted: pd.DataFrame | None = None
    did: change.DidResult | None = None
    did_months: int = 3
    hidden_estimates: frozenset[str] = frozenset()


def _small_cells(cells: pd.DataFrame, k: int) -> bool:
    """Does any cell have x, n - x or n in 1..k-1?"""
    return bool(suppressed(np.column_stack([cells["x"], cells["n"] - cells["x"], cells["n"]]), k).any())


def analyse(df: pd.DataFrame, kommun: str, *, reform_datum: str | None, pilot_omrade: str | None,
            start: str | None, outcome: str, pilot_outcome: str, k: int, lang: Lang = "sv",
            period_slut: str | None = None, cache: object = None,
            keys: Sequence[str] = change.BEFORE_AFTER) -> ChangeReport:
    """Compute every table of 05, register its counts in the unit's ledger (after 02's and 03's
    published tables) and protect them. Nothing is written."""
    from genomlysning import funnel

    reform = str(reform_datum) if reform_datum else None
    pilot_start = str(start) if (pilot_omrade and start) else None
    d = df[DATE_COL]
    fran, till = (d.min().date().isoformat(), d.max().date().isoformat()) if len(d) else ("", "")
    raw: dict[str, pd.DataFrame] = {}
    ba = rate = logodds = adjusted = res = None
    did_months = 3
    if reform:
        ba = change.before_after(df, reform, keys)
        raw["05_fore_efter"] = change.before_after_table(ba, lang)
        series = change.monthly_counts(df, outcome)
        rate, logodds = change.its(series, reform, "andel"), change.its(series, reform, "logodds")
        adjusted = change.its_adjusted(df, outcome, reform, k=k)
        raw["05_its_manader"] = change.its_points_table(rate)
    if pilot_start:
        res = change.did(df, pilot_outcome, str(pilot_omrade), pilot_start, k=k)
        points = res.quarters
        if _small_cells(points[points["pilot"]], k):
            points, did_months = change.half_years(points), 6
        raw["05_did_celler"] = change.did_cells_table(res, str(pilot_omrade), lang)
        raw["05_did_perioder"] = change.did_points_table(points, str(pilot_omrade), lang)
    raw["05_underlag"] = pd.DataFrame({"underlag": [schema.text("fdr_underlag_rad", lang, fran=fran,
                                                                till=till)], "n": [len(df)]})
    cuts = change_ledger.time_cuts(d, [reform, pilot_start], months=bool(reform),
                                   quarters=bool(pilot_start) and did_months == 3,
                                   halves=bool(pilot_start) and did_months == 6)
    # 02's publication is fixed here; 03's files declare model dimensions this ledger does not
    # rebuild: the unit's audit after its last notebook checks 03 and 05 together (and withholds)
    files, tables = audit.published(kommun, before="03")
    year = change_ledger.child_scope(files)
    children = df[df["ar"].astype("string").isin(year).fillna(False).to_numpy(dtype=bool)] if year else None
    led = Ledger(k, scope={"barn": {"ar": year}} if year else None)
    slut = funnel.period_end(df, kommun, period_slut)
    change_ledger.declare(led, df, slut, cuts, children)
    if files:
        led.add_published(files, tables)
    change_ledger.register_total(led, "05_underlag", raw["05_underlag"])
    if reform and ba is not None:
        change_ledger.register_before_after(led, "05_fore_efter", raw["05_fore_efter"], list(ba["indikator"]),
                                            cuts, reform)
        change_ledger.register_months(led, "05_its_manader", raw["05_its_manader"], outcome, cuts)
    if res is not None and pilot_start:
        areas = list(led.dims["akt"]["omrade"].codes)
        change_ledger.register_did_cells(led, "05_did_celler", raw["05_did_celler"],
                                         change.did_cells_order(res), pilot_outcome, cuts, pilot_start,
                                         str(pilot_omrade), areas)
        flags = sorted(points["pilot"], reverse=True)
        change_ledger.register_did_points(led, "05_did_perioder", raw["05_did_perioder"], flags,
                                          pilot_outcome, cuts, did_months, str(pilot_omrade), areas)
    led.protect(cache)  # type: ignore[arg-type]
    rep = ChangeReport(kommun, k, lang, reform, pilot_omrade, pilot_start, outcome, pilot_outcome, fran, till,
                       raw, led, ba=ba, rate=rate, logodds=logodds, adjusted=adjusted, did=res,
                       did_months=did_months)
    rep.masked = {name: led.masked(name) for name in raw}
    hidden: set[str] = set()
    if rate is not None:
        pts = rep.masked["05_its_manader"]
        if pts[["antal", "n"]].map(disclose.is_suppressed).to_numpy().any():
            hidden |= {"05_its_andel", "05_its_logodds"}
        raw["05_its_andel"] = change.coef_table(rate.coef, lang, scale=100.0)
        raw["05_its_logodds"] = change.coef_table(logodds.coef, lang) if logodds is not None else None
        raw["05_its_justerad"] = change.coef_table(adjusted, lang)
    if res is not None:
        if _small_cells(res.cells, k):
            hidden.add("05_did")
        raw["05_did"] = change.did_table(res, lang)
    rep.hidden_estimates = frozenset(hidden)
    for name in ESTIMATES:
        if name in raw:
            rep.masked[name] = hide_estimates(raw[name]) if name in hidden else raw[name]
    return rep


def hide_estimates(tab: pd.DataFrame) -> pd.DataFrame:
    """Every estimate of a coefficient table as ``..``."""
    out = tab.copy()
    for col in _NUMERIC:
        if col in out.columns:
            out[col] = pd.Series([disclose.SUPPRESSED] * len(out), index=out.index, dtype=object)
    return out


# ---------------------------------------------------------------------------------------------
# Display helpers
# ---------------------------------------------------------------------------------------------

def labels(lang: Lang = "sv") -> dict[str, str]:
    """Column labels of the tables of 05 (for ``report.save_table``/``display_table``)."""
    from genomlysning import compare

    t = schema.text
    fore, efter = t("fdr_fore", lang), t("fdr_efter", lang)
    ci_lo = t("jmf_ki_nedre", lang, niva=compare._niva(0.95, lang))
    ci_hi = t("jmf_ki_ovre", lang, niva=compare._niva(0.95, lang))
    out = {
        "indikator": t("jmf_indikator", lang), "antal": t("jmf_taljare", lang),
        "n": t("jmf_namnare", lang), "andel": t("andel", lang),
        "skillnad": t("fdr_skillnad", lang) + " (" + t("fdr_procentenheter", lang) + ")",
        "term": t("fdr_term", lang),
        "modell": t("fdr_modell", lang), "skattning": t("fdr_skattning", lang),
        "medelfel": t("fdr_medelfel", lang), "p": "p", "grupp": t("fdr_grupp", lang),
        "period": t("fdr_period", lang), "manad": schema.label("manad", lang),
        "underlag": t("fdr_titel_underlag", lang),
    }
    for side, name in (("fore", fore), ("efter", efter)):
        out[f"antal_{side}"] = f"{name}: {t('jmf_taljare', lang).lower()}"
        out[f"n_{side}"] = f"{name}: {t('jmf_namnare', lang).lower()}"
        out[f"andel_{side}"] = f"{name}: {t('andel', lang).lower()}"
    for base in ("skillnad", "skattning"):
        out[f"{base}_lo"], out[f"{base}_hi"] = ci_lo, ci_hi
    return out


def format_estimates(tab: pd.DataFrame, lang: Lang = "sv", digits: int = 3) -> pd.DataFrame:
    """Display copy of a coefficient table: estimates with ``digits`` significant digits (at least
    two decimals), p-values as ``< 0.001`` below 0.001; decimal comma in Swedish; ``..`` kept."""
    out = tab.copy()

    def num(v: object) -> str:
        if disclose.is_suppressed(v):
            return disclose.SUPPRESSED
        x = float(v)  # type: ignore[arg-type]
        if not np.isfinite(x):
            return ""
        dec = max(2, digits - 1 - int(math.floor(math.log10(abs(x))))) if x != 0 else 2
        s = f"{x:.{dec}f}"
        return s.replace(".", ",").replace("-", "−") if lang == "sv" else s

    for col in out.columns:
        if col in ("term", "modell"):
            continue
        if col == "p":
            out[col] = [v if disclose.is_suppressed(v) else format_p(v, lang) for v in out[col]]
        else:
            out[col] = [num(v) for v in out[col]]
    return out


def _num(v: float, lang: Lang, digits: int = 2) -> str:
    s = f"{v:.{digits}f}"
    return s.replace(".", ",").replace("-", "−") if lang == "sv" else s


def _with_interval(tab: pd.DataFrame, base: str, lang: Lang, decimals: int | None) -> pd.DataFrame:
    """Display copy with ``base``, ``base_lo``, ``base_hi`` merged into "x (lo till hi)" text
    (``decimals`` fixed, or the values as already formatted); hidden values stay ``..``."""
    to = " till " if lang == "sv" else " to "

    def txt(v: object) -> str:
        if isinstance(v, str):
            return v
        if v is None or not np.isfinite(float(v)):  # type: ignore[arg-type]
            return ""
        return _num(float(v), lang, decimals if decimals is not None else 2)  # type: ignore[arg-type]

    out = tab.drop(columns=[f"{base}_lo", f"{base}_hi"])
    out[base] = [v if v in ("", disclose.SUPPRESSED) else f"{v} ({lo}{to}{hi})"
                 for v, lo, hi in zip((txt(x) for x in tab[base]), (txt(x) for x in tab[f"{base}_lo"]),
                                      (txt(x) for x in tab[f"{base}_hi"]), strict=True)]
    return out


# ---------------------------------------------------------------------------------------------
# Figures (from the masked tables only)
# ---------------------------------------------------------------------------------------------

def _visible(values: pd.Series) -> np.ndarray:
    return ~values.map(disclose.is_suppressed).to_numpy(dtype=bool)


def plot_its(res: change.ItsResult, points: pd.DataFrame, lang: Lang = "sv", title: str = "",
             lines: bool = True) -> Figure:
    """Observed monthly shares (the visible points of the masked ``05_its_manader``), and, when
    the coefficients are published (``lines``), the fitted segments and the counterfactual."""
    import matplotlib.pyplot as plt

    from genomlysning.compare import percent_axis

    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=100)
    show = _visible(points["andel"])
    ax.scatter(pd.to_datetime(points.loc[show, "manad"]), points.loc[show, "andel"].astype(float), s=18,
               color="#4d4d4d", zorder=3, label=schema.text("fdr_observerad", lang))
    if lines:
        f = res.fitted
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
    percent_axis(ax, lang)
    ax.set_ylabel(schema.text("andel", lang))
    ax.set_xlabel(schema.label("manad", lang))
    ax.set_title(title, fontsize=10, loc="left")
    ax.legend(fontsize=8, frameon=False, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_did(points: pd.DataFrame, start: str | pd.Timestamp, pilot_label: str, months: int,
             lang: Lang = "sv", title: str = "") -> Figure:
    """Shares per period in the pilot area and the rest: the visible points of the masked
    ``05_did_perioder`` (a hidden point is a gap)."""
    import matplotlib.pyplot as plt

    from genomlysning.compare import percent_axis

    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=100)
    for name, colour in ((pilot_label, "#b2182b"), (schema.text("fdr_ovriga", lang), "#2166ac")):
        g = points[points["grupp"] == name]
        y = [float(v) if not disclose.is_suppressed(v) else np.nan for v in g["andel"]]
        ax.plot(pd.to_datetime(g["period"]), y, "o-", color=colour, label=name)
    ax.axvline(pd.Timestamp(start), color="black", lw=1, ls=":")
    percent_axis(ax, lang)
    ax.set_ylabel(schema.text("andel", lang))
    ax.set_xlabel(schema.text("fdr_kvartal" if months == 3 else "fdr_halvar", lang))
    ax.set_title(title, fontsize=10, loc="left")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)
    return fig


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

@dataclass
class Published:
    """What the notebook shows: display tables and figures (everything already written)."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)


def _source(rep: ChangeReport) -> str:
    return schema.text("fdr_kalla", rep.lang, namn=kommun_namn(rep.kommun), fran=rep.fran, till=rep.till)


def _save(rep: ChangeReport, name: str, *, title: str, unit: str, note: str = "",
          estimates: bool = False) -> pd.DataFrame:
    """Write the masked table ``name`` and return its display view."""
    lang, lab = rep.lang, labels(rep.lang)
    tab = rep.masked[name]
    if name in rep.hidden_estimates:
        note = " ".join(x for x in (note, schema.text("fdr_not_dolda_skattningar", lang)) if x)
    report.save_table(tab, rep.kommun, name, title=title, unit=unit, source=_source(rep), note=note,
                      lang=lang, k=rep.k, labels=lab)
    shown = format_estimates(tab, lang) if estimates else tab
    for base in ("skattning", "skillnad"):
        if base in shown.columns:
            shown = _with_interval(shown, base, lang, 1 if base == "skillnad" else None)
    return report.display_table(shown, lang, labels=lab)


def publish(rep: ChangeReport) -> Published:
    """Write 05's ledger definitions, masked tables and figures under reports/<kommun>/."""
    lang, t = rep.lang, schema.text
    out = Published()
    report.save_ledger(rep.ledger.definitions_json(), rep.kommun, "05")
    out.tables["05_underlag"] = _save(rep, "05_underlag", title=t("fdr_titel_underlag", lang),
                                      unit=t("aktualiseringar", lang))
    if rep.rate is not None and rep.reform_datum:
        name = indicator(rep.outcome).label(lang)
        out.tables["05_fore_efter"] = _save(
            rep, "05_fore_efter", title=t("fdr_titel_fore_efter", lang, datum=rep.reform_datum),
            unit=t("fdr_enhet_fore_efter", lang), note=t("fdr_not_fore_efter", lang))
        out.tables["05_its_manader"] = _save(
            rep, "05_its_manader", title=t("fdr_titel_its_manader", lang, ind=name),
            unit=indicator(rep.outcome).unit(lang))
        lines = "05_its_andel" not in rep.hidden_estimates
        fig = plot_its(rep.rate, rep.masked["05_its_manader"], lang, t("fdr_titel_its", lang, ind=name),
                       lines)
        report.save_figure(fig, rep.kommun, "05_its")
        out.figures["05_its"] = fig
        lags = rep.rate.maxlags
        out.tables["05_its_andel"] = _save(
            rep, "05_its_andel", title=t("fdr_titel_its_andel", lang, ind=name, lags=lags),
            unit=t("fdr_enhet_procentenheter", lang), estimates=True)
        out.tables["05_its_logodds"] = _save(
            rep, "05_its_logodds", title=t("fdr_titel_its_logodds", lang, ind=name,
                                           lags=rep.logodds.maxlags if rep.logodds else lags),
            unit=t("fdr_enhet_logodds", lang), estimates=True)
        out.tables["05_its_justerad"] = _save(
            rep, "05_its_justerad", title=t("fdr_titel_its_justerad", lang, ind=name),
            unit=t("fdr_enhet_logodds", lang), estimates=True, note=t("fdr_not_its_justerad", lang))
    if rep.did is not None and rep.start and rep.pilot_omrade:
        pilot, name = rep.pilot_omrade, indicator(rep.pilot_outcome).label(lang)
        unit = indicator(rep.pilot_outcome).unit(lang)
        period = t("fdr_period_kvartal" if rep.did_months == 3 else "fdr_period_halvar", lang)
        fig = plot_did(rep.masked["05_did_perioder"], rep.start, pilot, rep.did_months, lang,
                       t("fdr_titel_did", lang, pilot=pilot, ind=name))
        report.save_figure(fig, rep.kommun, "05_did")
        out.figures["05_did"] = fig
        out.tables["05_did_celler"] = _save(
            rep, "05_did_celler", title=t("fdr_titel_did_celler", lang, pilot=pilot, ind=name), unit=unit,
            note=t("fdr_not_antal_beskrivande", lang))
        out.tables["05_did_perioder"] = _save(
            rep, "05_did_perioder",
            title=t("fdr_titel_did_perioder", lang, pilot=pilot, ind=name, period=period), unit=unit,
            note=t("fdr_not_antal_beskrivande", lang))
        out.tables["05_did"] = _save(rep, "05_did", title=t("fdr_titel_did", lang, pilot=pilot, ind=name),
                                     unit=t("fdr_enhet_did", lang), estimates=True,
                                     note=t("fdr_not_did", lang))
    return out


# ---------------------------------------------------------------------------------------------
# Text and results.json (from the masked tables)
# ---------------------------------------------------------------------------------------------

def _count_text(v: object, lang: Lang) -> str:
    if disclose.is_suppressed(v):
        return disclose.SUPPRESSED
    return f"{int(v):,}".replace(",", "\u00a0")  # type: ignore[call-overload]


def intro_text(rep: ChangeReport) -> str:
    """One Markdown paragraph: the municipality, its period and volume, the date evaluated."""
    n = rep.masked["05_underlag"]["n"].iloc[0]
    return schema.text("fdr_text_intro", rep.lang, namn=kommun_namn(rep.kommun), n=_count_text(n, rep.lang),
                       fran=rep.fran, till=rep.till, datum=rep.reform_datum or "–",
                       ind=indicator(rep.outcome).label(rep.lang))


def _est(coef: pd.DataFrame, term: str, hidden: bool) -> dict[str, object]:
    r = coef.set_index("term").loc[term]
    if hidden:
        return {key: disclose.SUPPRESSED for key in ("skattning", "nedre", "ovre", "p")}
    return {"skattning": float(r["estimate"]), "nedre": float(r["lower"]), "ovre": float(r["upper"]),
            "p": float(r["p"])}


def its_summary(rep: ChangeReport) -> str:
    """The level and slope changes in words (rate scale and case-mix adjusted odds ratio)."""
    assert rep.rate is not None and rep.adjusted is not None
    lang = rep.lang
    rate = _est(rep.rate.coef, "efter", "05_its_andel" in rep.hidden_estimates)

    def pp(v: object) -> str:
        return disclose.SUPPRESSED if disclose.is_suppressed(v) else _num(100 * float(v), lang, 1)  # type: ignore[arg-type]

    adj = rep.adjusted.set_index("term")
    lvl, slope = adj.loc["efter"], adj.loc["tid_efter"]
    return schema.text(
        "fdr_text_its", lang, pp=pp(rate["skattning"]), pp_lo=pp(rate["nedre"]), pp_hi=pp(rate["ovre"]),
        orr=_num(math.exp(lvl["estimate"]), lang), or_lo=_num(math.exp(lvl["lower"]), lang),
        or_hi=_num(math.exp(lvl["upper"]), lang), slope=_num(slope["estimate"], lang, 3),
        slope_lo=_num(slope["lower"], lang, 3), slope_hi=_num(slope["upper"], lang, 3))


def did_summary(rep: ChangeReport) -> str:
    """The pilot effect in words (odds ratio and percentage points) and the pre-trend test."""
    assert rep.did is not None
    r, lang, hide = rep.did, rep.lang, "05_did" in rep.hidden_estimates

    def f(v: float, scale: str, digits: int) -> str:
        if hide:
            return disclose.SUPPRESSED
        return _num(math.exp(v) if scale == "or" else 100 * v if scale == "pp" else v, lang, digits)

    return schema.text(
        "fdr_text_did", lang, pilot=rep.pilot_omrade,
        orr=f(r.logit["estimate"], "or", 2), or_lo=f(r.logit["lower"], "or", 2),
        or_hi=f(r.logit["upper"], "or", 2),
        pp=f(r.lpm["estimate"], "pp", 1), pp_lo=f(r.lpm["lower"], "pp", 1), pp_hi=f(r.lpm["upper"], "pp", 1),
        p=f(float(r.trend["p"]), "p", 3))


def results(rep: ChangeReport) -> dict[str, object]:
    """Headline figures of 05 for ``results.json`` (estimates only, hidden ones ``..``)."""
    out: dict[str, object] = {"reform_datum": rep.reform_datum, "utfall": rep.outcome}
    if rep.rate is not None and rep.adjusted is not None:
        lvl = _est(rep.rate.coef, "efter", "05_its_andel" in rep.hidden_estimates)
        out["nivaforandring_procentenheter"] = {
            key: 100 * v if key != "p" and not disclose.is_suppressed(v) else v  # type: ignore[operator]
            for key, v in lvl.items()}
        out["nivaforandring_logodds_justerad"] = _est(rep.adjusted, "efter", False)
        out["trendforandring_logodds_justerad"] = _est(rep.adjusted, "tid_efter", False)
    if rep.did is not None:
        r, hide = rep.did, "05_did" in rep.hidden_estimates

        def est(row: pd.Series, scale: float = 1.0, p: bool = True) -> dict[str, object]:
            keys = {"skattning": "estimate", "nedre": "lower", "ovre": "upper", **({"p": "p"} if p else {})}
            return {a: disclose.SUPPRESSED if hide else float(row[b]) * (scale if a != "p" else 1.0)
                    for a, b in keys.items()}

        out["pilot"] = {"omrade": rep.pilot_omrade, "utfall": rep.pilot_outcome, "logodds": est(r.logit),
                        "procentenheter": est(r.lpm, 100.0, p=False),
                        "p_fortrend": disclose.SUPPRESSED if hide else float(r.trend["p"])}
    return out
