"""Figures of the funnel notebook, with Swedish (default) or English labels from the schema.

Every function takes *suppressed* tables (``genomlysning.funnel_report``) and draws no hidden value:
a hidden bar or point is left out and marked ``..``. Labels that come from the data (categories,
titles passed in, which may hold the municipality's name) are drawn through
``genomlysning.report.safe_label``, which masks personnummer-like content. Figures are returned
open so a notebook shows them; save them with ``genomlysning.report.save_figure``
(byte-reproducible PNG).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from genomlysning import disclose, report, schema
from genomlysning.funnel import STAGES, TOTAL, UNITS, Durations

#: Matplotlib settings used by every figure (applied in a context, never globally).
STYLE: dict[str, object] = {
    "figure.dpi": 100, "savefig.dpi": report.DPI, "font.size": 9, "axes.titlesize": 10,
    "axes.titleweight": "bold", "axes.spines.top": False, "axes.spines.right": False,
    "svg.hashsalt": "genomlysning", "path.simplify": True,
}
PALETTE = sns.color_palette("colorblind", 8)


@contextmanager
def _style() -> Iterator[None]:
    """Apply :data:`STYLE` and restore exactly those settings afterwards.

    ``plt.rc_context`` restores *every* rcParam on exit, the backend included, and that switches
    the notebook's inline backend off: later figures were silently not displayed.
    """
    old = {key: mpl.rcParams[key] for key in STYLE}
    mpl.rcParams.update(STYLE)
    try:
        yield
    finally:
        mpl.rcParams.update(old)

HIDDEN_COLOUR = "0.45"


def _num(value: object) -> float:
    """Numeric value of a masked cell (NaN when hidden or missing)."""
    if disclose.is_suppressed(value) or value is None or value is pd.NA:
        return float("nan")
    return float(value)  # type: ignore[arg-type]


def _pct(x: float, lang: schema.Lang) -> str:
    return report.format_number(x, lang, share=True, decimals=0)


def funnel_chart(table: pd.DataFrame, lang: schema.Lang = "sv", *, k: int | None = None,
                 title: str | None = None) -> Figure:
    """Horizontal bars of each stage in both units (a panel per unit), labelled "n (share of the
    first stage)"; hidden stages get no bar and a ".." label."""
    with _style():
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
        labels = [report.column_label(s, lang) for s in STAGES]
        y = np.arange(len(STAGES))[::-1]
        for ax, unit, colour in zip(axes, UNITS, PALETTE, strict=False):
            t = table[table["enhet"] == unit].set_index("steg").reindex(list(STAGES))
            n = np.array([_num(v) for v in t["n"]])
            share = np.array([_num(v) for v in t["andel_forsta"]])
            top = max(float(np.nanmax(n)), 1.0) if np.isfinite(n).any() else 1.0
            ax.barh(y, np.nan_to_num(n), color=colour, height=0.65)
            for yi, ni, si in zip(y, n, share, strict=True):
                if np.isnan(ni):
                    ax.text(top * 0.01, yi, disclose.SUPPRESSED, va="center", color=HIDDEN_COLOUR)
                    continue
                text = report.format_number(ni, lang)
                if not np.isnan(si):
                    text += f" ({_pct(si, lang)})"
                ax.text(ni + top * 0.01, yi, text, va="center")
            ax.set_xlim(0, top * 1.35)
            ax.set_title(schema.text(unit, lang))
            ax.set_xlabel(schema.text("antal", lang))
            ax.set_yticks(y, labels)
        fig.suptitle(report.safe_label(title or schema.text("titel_tratt", lang, ar="").strip()),
                     fontweight="bold")
        if k is not None:
            fig.text(0.01, 0.01, schema.text("dolt", lang, k=k), fontsize=7, color=HIDDEN_COLOUR)
        fig.tight_layout()
    return fig


def rate_plot(table: pd.DataFrame, value: str, *, title: str, lang: schema.Lang = "sv",
              label_col: str = "kategori", variable: str | None = None, n_col: str | None = None,
              k: int | None = None, ax: plt.Axes | None = None, xlabel: str | None = None) -> Figure:
    """Points with 95 % interval whiskers of ``value`` (a share; ``<value>_lo``/``_hi``) for each
    row of ``table``, labelled by category (and ``n`` when ``n_col`` is given; the values of
    ``label_col`` are labelled as values of ``variable``, default: the row's ``variabel``). Hidden
    rows are listed with ".." and not drawn."""
    t = table.reset_index(drop=True)
    labels = []
    for _, row in t.iterrows():
        row_var = variable or (str(row["variabel"]) if "variabel" in t.columns else label_col)
        label = report.value_label(row_var, row[label_col], lang)
        if n_col is not None:
            n = row[n_col]
            label += f" (n = {n if disclose.is_suppressed(n) else report.format_number(n, lang)})"
        labels.append(report.safe_label(label))
    est = np.array([_num(v) for v in t[value]])
    lo = np.array([_num(v) for v in t[f"{value}_lo"]])
    hi = np.array([_num(v) for v in t[f"{value}_hi"]])
    with _style():
        if ax is None:
            fig, ax = plt.subplots(figsize=(8, 0.9 + 0.32 * max(len(t), 1)))
        else:
            fig = ax.figure
        y = np.arange(len(t))[::-1]
        ok = ~np.isnan(est)
        err = [100 * np.clip(est - lo, 0, None)[ok], 100 * np.clip(hi - est, 0, None)[ok]]
        ax.errorbar(100 * est[ok], y[ok], xerr=err, fmt="o",
                    color=PALETTE[0], ecolor=PALETTE[0], elinewidth=1.2, capsize=2.5, markersize=4.5)
        for yi in y[~ok]:
            ax.text(1, yi, disclose.SUPPRESSED, va="center", color=HIDDEN_COLOUR)
        ax.set_yticks(y, labels)
        ax.set_ylim(-0.7, len(t) - 0.3)
        ax.set_xlim(0, 100)
        ax.set_xlabel(schema.text("andel_procent", lang) if xlabel is None else xlabel)
        ax.set_title(report.safe_label(title), loc="left")
        ax.grid(axis="x", color="0.9")
        ax.set_axisbelow(True)
        fig.tight_layout()
        if k is not None and (~ok).any():
            fig.text(0.01, 0.005, schema.text("dolt", lang, k=k), fontsize=7, color=HIDDEN_COLOUR)
    return fig


def stage_rates(breakdown: pd.DataFrame, variable: str, stages: Sequence[str], *, lang: schema.Lang = "sv",
                k: int | None = None) -> Figure:
    """One :func:`rate_plot` panel per stage: share of each category's aktualiseringar (or children)
    reaching the stage, for one breakdown variable of a masked ``funnel.breakdown`` table."""
    t = breakdown[breakdown["variabel"] == variable].reset_index(drop=True)
    unit = str(t["enhet"].iloc[0]) if "enhet" in t.columns and len(t) else "aktualiseringar"
    with _style():
        fig, axes = plt.subplots(1, len(stages), figsize=(4.2 * len(stages), 0.9 + 0.32 * max(len(t), 1)),
                                 sharey=True, squeeze=False)
        for ax, stage in zip(axes[0], stages, strict=True):
            rate_plot(t, f"andel_{stage}", title=report.column_label(stage, lang), lang=lang,
                      n_col="n_aktualisering", ax=ax, xlabel="")
        # one axis label under all panels: side by side, one label per panel would overlap
        fig.supxlabel(schema.text("fig_andel_av", lang, enhet=schema.text(unit, lang).lower()), fontsize=10)
        fig.suptitle(report.column_label(variable, lang), fontweight="bold", x=0.01, ha="left")
        fig.tight_layout()
        if k is not None:
            fig.text(0.01, 0.005, schema.text("dolt", lang, k=k), fontsize=7, color=HIDDEN_COLOUR)
    return fig


def share_plot(shares: pd.DataFrame, utfall: str, variable: str, *, lang: schema.Lang = "sv",
               k: int | None = None) -> Figure:
    """Share with the outcome ``utfall`` of a masked ``funnel.share_table``, total first, then the
    categories of ``variable``."""
    t = shares[(shares["utfall"] == utfall) & shares["variabel"].isin([TOTAL, variable])]
    title = schema.text("fig_andel_ki", lang, utfall=report.column_label(utfall, lang))
    return rate_plot(t, "andel", title=title, lang=lang, n_col="n_bas", k=k)


def time_curves(d: Durations, curves: pd.DataFrame, kind: str, *, k: int, horizon: int,
                lang: schema.Lang = "sv", groups: Sequence[str] | None = None) -> Figure:
    """Kaplan-Meier curves of the share completed, in total and per group, drawn through the
    published table's days only (``curves``, masked by the ledger: a figure shows nothing the
    tables do not, so a daily curve cannot reveal a hidden count), the legal deadline marked, and
    the (masked) number still open at the table's days below. ``d`` names the groups."""
    deadline = schema.FB_FRIST_DAGAR if kind == "fb" else schema.UTREDNING_FRIST_DAGAR
    names = [TOTAL, *(groups if groups is not None else sorted(set(d.group.tolist())))]
    with _style():
        fig, ax = plt.subplots(figsize=(8, 4.6))
        for i, name in enumerate(names):
            c = published_curve(curves, d.variable, name, horizon)
            if c is None:
                continue
            label = report.safe_label(report.value_label(d.variable, name, lang))
            colour = "black" if i == 0 else PALETTE[i - 1]
            ax.plot(c["dag"], 100 * c["andel_klara"], color=colour, marker="o", markersize=3,
                    linewidth=2.0 if i == 0 else 1.2, label=label)
            if name == TOTAL:
                ax.fill_between(c["dag"], 100 * c["andel_klara_lo"], 100 * c["andel_klara_hi"],
                                color="0.85", linewidth=0)
        ax.axvline(deadline, color="0.3", linestyle="--", linewidth=1)
        ax.text(deadline, 101, f"{schema.text('frist', lang)} {deadline}", ha="center", va="bottom",
                fontsize=8)
        ax.set_xlim(0, horizon)
        ax.set_ylim(0, 100)
        ax.set_xlabel(schema.text(f"ax_dagar_{kind}", lang))
        ax.set_ylabel(schema.text(f"ax_klara_{kind}", lang))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="lower right", frameon=False)
        ax.grid(color="0.92")
        total = curves[curves[d.variable] == TOTAL]
        trans = ax.get_xaxis_transform()
        ax.text(-0.07, -0.2, schema.text("n_oppna", lang) + ":", transform=ax.transAxes, ha="right",
                va="top", fontsize=8)
        for day, n in zip(total["dag"], total["n_oppna"], strict=True):
            if day <= horizon:
                text = n if disclose.is_suppressed(n) else report.format_number(n, lang)
                ax.text(day, -0.2, text, transform=trans, ha="center", va="top", fontsize=8)
        fig.text(0.01, 0.01, schema.text("dolt", lang, k=k), fontsize=7, color=HIDDEN_COLOUR)
        fig.tight_layout()
    return fig


def published_curve(curves: pd.DataFrame, variable: str, group: str, horizon: int) -> pd.DataFrame | None:
    """The visible points (day, share done and its bounds) of one group of a masked Kaplan-Meier
    table up to ``horizon``; hidden days are gaps (NaN); None if nothing is visible."""
    rows = curves[(curves[variable] == group) & (curves["dag"] <= horizon)]
    cols = ["andel_klara", "andel_klara_lo", "andel_klara_hi"]
    shown = {c: disclose.visible(rows[c].astype(object)).to_numpy() for c in cols}
    out = pd.DataFrame({"dag": rows["dag"].to_numpy(), **shown})
    return None if out["andel_klara"].isna().all() else out


def mix_plot(mix: pd.DataFrame, *, lang: schema.Lang = "sv", k: int | None = None) -> Figure:
    """Shares of the offered insatser by type (masked ``funnel.insats_mix``)."""
    t = mix[mix["variabel"] == "insats_typ"]
    return rate_plot(t, "andel", title=schema.text("fig_andel_ki", lang, utfall=report.column_label(
        "insats_typ", lang)), lang=lang, n_col="n", k=k)
