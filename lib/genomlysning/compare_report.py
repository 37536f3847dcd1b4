"""Publishing 04_compare: the disclosure ledgers of the compared municipalities, masking, figures
and files under ``reports/jamforelse/`` (:mod:`genomlysning.compare` only computes).

Why a ledger per municipality. Every count 04_compare prints about a municipality M (its
aktualiseringar and children, each indicator's count and denominator, in ``04_nyckeltal``,
``04_tratt_<indikator>`` and ``04_justerad_<indikator>``) is a quantity of M's own records, very
often one M's own report already publishes or hides: ekby's share of förhandsbedömningar decided
within 14 days is 02_funnel's ``tidsfrister`` total, and printing it as 266/304 in the comparison
gave away what ekby's report hid. So the counts about M go through M's ledger, not a ledger of
``jamforelse``:

* **Definitions in the funnel's dimensions.** :func:`indicator_cells` writes each indicator's
  count and denominator as cells of :mod:`genomlysning.funnel_ledger` (the furthest stage
  ``steg``, ``hoppat:<stage>`` where a stage can be skipped, ``barnsamtal`` inside closed own
  utredningar, ``fb_tid`` for the 14-day deadline), so the same quantity has the same key in
  02_funnel and here. No new dimension is needed: the barnsamtal indicator counts closed own
  utredningar with a known answer, as 02_funnel's table does.
* **M's publication first.** :func:`kommun_ledger` declares the funnel's dimensions on M's rows of
  the year (scope ``ar``) and ``add_published``-es every ledger file under ``reports/M/ledger/``
  but this notebook's own (``04.json``): M's visible cells are fixed equations, its hidden cells
  stay protected, and only 04's cells can be hidden now - M's own reports never change.
* **04's tables in M's ledger.** Each comparison table is registered with cells for M's row only
  (None elsewhere); the ledger hides M's cells that are small or that would narrow the range of
  one of M's hidden cells or disjoint cells (e.g. "decided, not within 14 days"; for a union
  such as "insats offered" the difference to its denominator is declared with ``protect``).
  Shares, ratios, z, position and limits of a row are hidden with the counts they are built on.
  The definitions are saved as ``reports/M/ledger/04.json``, whose tables name the published
  tables of another unit (``jamforelse/04_nyckeltal``): ``genomlysning audit --kommun M`` reads
  them and attacks M's own tables and 04's rows about M together.
* **Pooled numbers over visible counts only.** The funnel plot's target p0 = Σx/Σn (readable from
  the control limits), the expected counts of the case-mix model (whose fitted values add up to
  the observed total: ΣE = ΣO) and the MOR are linear or smooth in every pooled count. A
  municipality whose count or denominator of an indicator is hidden is therefore left out of that
  indicator's pool: out of the target, the overdispersion test, the case-mix model and the MOR,
  and not drawn (a note says so). Every pooled number is then a function of published counts,
  and a hidden count appears in none of them (``tests/test_compare_ledger.py`` changes a hidden
  count and finds every pooled number unchanged).

Not modelled: an expected count E also depends on M's case mix (counts by ärendetyp, reporter,
age, sex and re-referral, which are not published) through a non-linear model, as for the model
tables of 03_models.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from genomlysning import audit, compare, funnel, funnel_ledger, ledger, paths, report, schema
from genomlysning.compare import (
    FUNNEL_INDICATORS,
    INDICATORS,
    LEVELS,
    OUT,
    Funnel,
    MedianOddsRatio,
    _fmt,
    _level_tag,
    _limit_cols,
    _niva,
    format_p,
    indicator,
    kommun_namn,
    percent_axis,
    standouts,
)
from genomlysning.funnel_ledger import akt_at_least
from genomlysning.ledger import Cell, Ledger
from genomlysning.schema import Lang

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

A, B = "akt", "barn"
#: This notebook's ledger file in each compared municipality (``reports/<kommun>/ledger/04.json``).
LEDGER_PART = "04"
#: The headline table.
NYCKELTAL = "04_nyckeltal"


def tratt_name(key: str) -> str:
    """Name of the funnel-plot table of indicator ``key``."""
    return f"04_tratt_{key}"


def justerad_name(key: str) -> str:
    """Name of the case-mix table of indicator ``key``."""
    return f"04_justerad_{key}"


# ---------------------------------------------------------------------------------------------
# The indicators in the funnel's dimensions
# ---------------------------------------------------------------------------------------------

def indicator_cells(key: str) -> tuple[Cell, Cell, list[Cell]]:
    """The count, the denominator and the disjoint cells a reader can derive from them (to be
    protected: the denominator minus the count, where that is not a table atom) of an indicator,
    as cells of the funnel's dimensions (:mod:`genomlysning.funnel_ledger`)."""
    if key == "utredning_inledd":  # decided förhandsbedömningar; those that opened an utredning
        return (Cell.of(A, steg=akt_at_least("utredning_inledd")),
                Cell.of(A, steg=akt_at_least("fb_beslutad")), [])
    if key == "insats_erbjuden":
        # settled: decided and no utredning open, i.e. stopped at the decision or past the closed
        # utredning; offered: reached the stage, or offered although the utredning was skipped
        closed = akt_at_least("utredning_avslutad")
        offered = akt_at_least("insats_erbjuden")
        n = Cell.of(A, steg=["fb_beslutad", *closed])
        x = Cell.union(Cell.of(A, steg=offered),
                       Cell.of(A, steg="fb_beslutad", **{"hoppat:insats_erbjuden": "ja"}))
        rest = Cell.union(Cell.of(A, steg="fb_beslutad", **{"hoppat:insats_erbjuden": "nej"}),
                          Cell.of(A, steg=[c for c in closed if c not in offered]))
        return x, n, [rest]
    if key == "barnsamtal":  # closed own utredningar with a known answer (02_funnel's table)
        own = akt_at_least("utredning_avslutad", "egen")
        return Cell.of(A, steg=own, barnsamtal="ja"), Cell.of(A, steg=own, barnsamtal=["ja", "nej"]), []
    if key == "fb_inom_frist":  # complete cohort (14 days passed at period end): decided within 14
        fb, days = funnel.FB_DAYS, schema.FB_FRIST_DAGAR  # days / decided later or still open
        ja = ["kneg", *funnel_ledger._at_or_below("k", fb, days)]
        nej = funnel_ledger._above("k", fb, days) + funnel_ledger._above("o", fb, days)
        return Cell.of(A, fb_kohort="ja", fb_tid=ja), Cell.of(A, fb_kohort="ja", fb_tid=ja + nej), []
    raise KeyError(f"indicator {key!r} has no cell definition in the funnel's dimensions")


def _all_stages(unit: str) -> Cell:
    """Every record of ``unit``, written on the stage dimension (so a table's atoms include the
    records that reached no later stage)."""
    return Cell.of(unit, steg=funnel_ledger.AKT_STEG if unit == A else funnel.STAGES)


# ---------------------------------------------------------------------------------------------
# One ledger per compared municipality
# ---------------------------------------------------------------------------------------------

#: Derived columns of each table: column -> the count columns it is computed from.
def _linked_headline(keys: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key in keys:
        out[f"andel_{key}"] = [f"antal_{key}", f"n_{key}"]
        out[f"kvot_{key}"] = [f"antal_{key}", f"n_{key}"]
    return out


def _linked_tratt(levels: Sequence[float] = LEVELS) -> dict[str, list[str]]:
    out = {c: ["antal", "n"] for c in ("andel", "z", "lage")}
    for level in levels:  # the limits at a unit's volume are a function of n
        tag = _level_tag(level)
        out[f"andel_grans{tag}_lo"] = ["n"]
        out[f"andel_grans{tag}_hi"] = ["n"]
    return out


_JUSTERAD_DERIVED = ("forvantat", "kvot", "kvot_lo", "kvot_hi", "andel", "andel_forvantad", "andel_justerad",
                     "andel_justerad_lo", "andel_justerad_hi")


def _rows_with_denominator(counts: pd.DataFrame, key: str) -> list[str]:
    """The municipalities that are rows of the funnel-plot and case-mix tables of ``key``."""
    return list(counts.loc[counts[f"n_{key}"] > 0, "kommun"])


def kommun_ledger(kommun: str, df: pd.DataFrame, ar: int, k: int) -> Ledger:
    """The ledger of ``kommun`` with its published reports registered: the funnel's dimensions
    declared on its rows of year ``ar`` and 02_funnel's ledger file ``add_published`` (fixed; the
    reports must be current). 03's and 05's files declare dimensions of their own (model
    populations, periods) that this ledger does not rebuild: what they published is checked
    together with 04 by the unit's audit after the comparison (:func:`genomlysning.audit.audit_unit`
    over every file), which withholds the comparison's rows of the unit if a count is disclosed."""
    y = funnel.in_year(df, ar)
    led = Ledger(k, scope=funnel_ledger.scope(ar))
    funnel_ledger.declare(led, y, funnel.period_end(df, kommun))
    files, tables = audit.published(kommun, before="03")
    led.add_published(files, tables)
    return led


def register(led: Ledger, kommun: str, counts: pd.DataFrame, keys: Sequence[str]) -> dict[str, str]:
    """Register 04's tables in ``kommun``'s ledger, with cells for its row only; return the
    published name of each table (in the unit ``jamforelse``)."""
    order = list(counts["kommun"])
    mine = [m == kommun for m in order]
    cells: dict[str, list[Cell | None]] = {
        "n_aktualiseringar": [_all_stages(A) if me else None for me in mine],
        "n_barn": [_all_stages(B) if me else None for me in mine],
    }
    for key in keys:
        x, n, _ = indicator_cells(key)
        cells[f"antal_{key}"] = [x if me else None for me in mine]
        cells[f"n_{key}"] = [n if me else None for me in mine]
    protect = [c for key in keys for c in indicator_cells(key)[2]]
    led.add(NYCKELTAL, counts[list(cells)], cells, linked=_linked_headline(keys), protect=protect)
    names = {NYCKELTAL: f"{OUT}/{NYCKELTAL}"}
    for key in keys:
        x, n, extra = indicator_cells(key)
        rows = _rows_with_denominator(counts, key)
        sub = counts.set_index("kommun").loc[rows, [f"antal_{key}", f"n_{key}"]].reset_index(drop=True)
        own = [m == kommun for m in rows]
        tr = pd.DataFrame({"antal": sub[f"antal_{key}"], "n": sub[f"n_{key}"]})
        led.add(tratt_name(key), tr, {"antal": [x if me else None for me in own],
                                      "n": [n if me else None for me in own]},
                linked=_linked_tratt(), protect=extra)
        ju = pd.DataFrame({"n": sub[f"n_{key}"], "antal_observerat": sub[f"antal_{key}"]})
        led.add(justerad_name(key), ju, {"n": [n if me else None for me in own],
                                         "antal_observerat": [x if me else None for me in own]},
                linked={c: ["antal_observerat", "n"] for c in _JUSTERAD_DERIVED}, protect=extra)
        names[tratt_name(key)] = f"{OUT}/{tratt_name(key)}"
        names[justerad_name(key)] = f"{OUT}/{justerad_name(key)}"
    return names


@dataclass
class Guard:
    """The outcome of protecting every compared municipality: the unmasked counts, per
    municipality the hidden count columns of the headline table (the funnel-plot and case-mix
    tables show the same quantities), the pools and each ledger's definitions."""

    counts: pd.DataFrame
    keys: tuple[str, ...]
    hidden: dict[str, set[str]]
    pools: dict[str, list[str]]
    definitions: dict[str, str]
    stats: dict[str, dict[str, int]]

    def is_hidden(self, kommun: str, column: str) -> bool:
        """Is the headline count ``column`` of ``kommun`` hidden?"""
        return column in self.hidden.get(kommun, set())

    def left_out(self, key: str) -> list[str]:
        """Municipalities with rows in indicator ``key`` that are not pooled."""
        rows = _rows_with_denominator(self.counts, key)
        return [m for m in rows if m not in self.pools[key]]


def protect(frames: Mapping[str, pd.DataFrame], ar: int, k: int,
            keys: Sequence[str] = FUNNEL_INDICATORS) -> Guard:
    """Protect 04's counts about each municipality in its own ledger, and pool each indicator
    over the municipalities whose count and denominator both stay visible."""
    counts = compare.headline_counts(frames, ar, keys)
    hidden: dict[str, set[str]] = {}
    definitions: dict[str, str] = {}
    stats: dict[str, dict[str, int]] = {}
    for kommun in frames:
        led = kommun_ledger(kommun, frames[kommun], ar, k)
        names = register(led, kommun, counts, keys)
        res = led.protect(cache=paths.processed_dir(kommun))
        table = next(t for t in led.tables if t.name == NYCKELTAL)
        i = list(counts["kommun"]).index(kommun)
        hidden[kommun] = {col for col, defs in table.cells.items()
                          if defs[i] is not None and led.canonical(defs[i]).key() in res.hidden}
        definitions[kommun] = led.definitions_json(names)
        keys_mine = {led.canonical(c).key() for t in led.tables if not t.prior
                     for defs in t.cells.values() for c in defs if c is not None}
        stats[kommun] = {"celler": len(led.published_cells()), "egna": len(keys_mine),
                         "primara": len(keys_mine & res.primary), "dolda": len(keys_mine & res.hidden)}
    pools = {key: [m for m in _rows_with_denominator(counts, key)
                   if not ({f"antal_{key}", f"n_{key}"} & hidden[m])] for key in keys}
    return Guard(counts, tuple(keys), hidden, pools, definitions, stats)


def save_ledgers(guard: Guard) -> list[str]:
    """Write each compared municipality's ``ledger/04.json``, and remove the 04 file of units
    that are no longer compared (its rows are gone from the tables it names)."""
    written = []
    for kommun, text in guard.definitions.items():
        written.append(paths.relative(report.save_ledger(text, kommun, LEDGER_PART)))
    for unit in audit.units():
        stale = report.ledger_dir(unit) / f"{LEDGER_PART}.json"
        if unit not in guard.definitions and stale.is_file():
            stale.unlink()
    return written


def _mask_rows(tab: pd.DataFrame, guard: Guard, kommuner: Sequence[str], counts: Mapping[str, str],
               linked: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Hide, per row (municipality ``kommuner[i]``), the count columns ``counts`` (table column ->
    headline column) that its ledger hid, and the derived columns built on them."""
    out = tab.copy().reset_index(drop=True)
    hide: dict[str, np.ndarray] = {
        col: np.array([guard.is_hidden(m, head) for m in kommuner], dtype=bool)
        for col, head in counts.items()}
    return ledger.hide_linked(out, hide, linked)


# ---------------------------------------------------------------------------------------------
# Tables (masked)
# ---------------------------------------------------------------------------------------------

def headline_table(guard: Guard, ratios: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """One row per municipality: volumes and each indicator's count, denominator and share (plus
    O/E where ``ratios`` has it), masked by the municipalities' ledgers.

    Columns: kommun, n_aktualiseringar, n_barn, then ``antal_<key>``, ``n_<key>``,
    ``andel_<key>`` (0-1) and ``kvot_<key>`` per indicator (labels: :func:`labels`)."""
    c = guard.counts
    out = pd.DataFrame({"kommun": [kommun_namn(m) for m in c["kommun"]],
                        "n_aktualiseringar": c["n_aktualiseringar"], "n_barn": c["n_barn"]})
    for key in guard.keys:
        out[f"antal_{key}"] = c[f"antal_{key}"]
        out[f"n_{key}"] = c[f"n_{key}"]
        out[f"andel_{key}"] = c[f"andel_{key}"]
        if ratios is not None and key in ratios:
            out[f"kvot_{key}"] = ratios[key].set_index("kommun")["kvot"].reindex(c["kommun"]).to_numpy()
    cols = {col: col for col in out.columns if col.startswith(("n_", "antal_"))}
    return _mask_rows(out, guard, list(c["kommun"]), cols, _linked_headline(guard.keys))


def _position(f: Funnel, lang: Lang = "sv") -> pd.Series:
    """Where each point lies: inside, or above/below the 95 % or 99.8 % limits."""
    p = f.points
    out = pd.Series(schema.text("jmf_lage_inom", lang), index=p.index, dtype=object)
    for level in sorted(f.levels):
        lo, hi = _limit_cols(level)
        niva = _niva(level, lang)
        out[p["varde"] > p[hi]] = schema.text("jmf_lage_over", lang, niva=niva)
        out[p["varde"] < p[lo]] = schema.text("jmf_lage_under", lang, niva=niva)
    return out


def funnel_points_table(f: Funnel, guard: Guard, lang: Lang = "sv") -> pd.DataFrame:
    """The units of a crude funnel plot (kommun, antal, n, andel, z, ``andel_grans<level>_lo/_hi``,
    lage), masked by the municipalities' ledgers."""
    p = f.points
    tab = pd.DataFrame({"kommun": [kommun_namn(x) for x in p["kommun"]],
                        "antal": p["x"].to_numpy(), "n": p["n"].to_numpy(), "andel": p["varde"].to_numpy(),
                        "z": p["z"].to_numpy()})
    for level in sorted(f.levels):
        lo, hi = _limit_cols(level)
        tab[f"andel_grans{_level_tag(level)}_lo"] = p[lo].to_numpy()
        tab[f"andel_grans{_level_tag(level)}_hi"] = p[hi].to_numpy()
    tab["lage"] = _position(f, lang).to_numpy()
    return _mask_rows(tab, guard, list(p["kommun"]), {"antal": f"antal_{f.key}", "n": f"n_{f.key}"},
                      _linked_tratt(f.levels))


def casemix_table(sr: pd.DataFrame, key: str, guard: Guard) -> pd.DataFrame:
    """Observed, expected, O/E with exact 95 % interval, crude, expected and adjusted shares per
    municipality (model columns empty for those not pooled), masked by their ledgers. Columns:
    kommun, n, antal_observerat, forvantat, kvot(_lo/_hi), andel, andel_forvantad,
    andel_justerad(_lo/_hi)."""
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
    return _mask_rows(tab, guard, list(sr["kommun"]), {"n": f"n_{key}", "antal_observerat": f"antal_{key}"},
                      {c: ["antal_observerat", "n"] for c in _JUSTERAD_DERIVED})


def overdispersion_table(fs: Mapping[str, Funnel], lang: Lang = "sv") -> pd.DataFrame:
    """One row per funnel: target, pooled units, phi, chi-squared test, tau^2, whether limits were
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


def mor_table(mors: Mapping[str, MedianOddsRatio], lang: Lang = "sv") -> pd.DataFrame:
    """One row per indicator: sigma^2 and the MOR with 95 % intervals and Cochran's Q test.
    Columns: indikator, enheter, sigma2(_lo/_hi), mor(_lo/_hi), q, fg, p."""
    recs = [{"indikator": indicator(key).label(lang), "enheter": m.df + 1, "sigma2": m.sigma2,
             "sigma2_lo": m.sigma2_lo, "sigma2_hi": m.sigma2_hi, "mor": m.mor, "mor_lo": m.mor_lo,
             "mor_hi": m.mor_hi, "q": m.q, "fg": m.df, "p": m.p_value} for key, m in mors.items()]
    return pd.DataFrame.from_records(recs)


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


# ---------------------------------------------------------------------------------------------
# Figures (drawn from the pooled, visible points only)
# ---------------------------------------------------------------------------------------------

def _fmt_p(p: float, lang: Lang = "sv") -> str:
    """``= 0,123`` or ``< 0,001`` (a p-value after the letter p)."""
    if p is None or not math.isfinite(p):
        return "= –"
    return "< " + _fmt(0.001, 3, lang) if p < 0.001 else "= " + _fmt(p, 3, lang)


def draw_funnel(ax: Axes, f: Funnel, lang: Lang = "sv", title: str = "",
                names: Mapping[str, str] | None = None, label_limit: int = 30) -> None:
    """Draw a funnel plot on ``ax``: value against volume with the limits around the target.

    Only units flagged ``visas`` (pooled: count and denominator visible) are drawn; with more than
    ``label_limit`` units only those outside the 95 % limits are named.
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
    if math.isfinite(f.target):
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


# ---------------------------------------------------------------------------------------------
# Text, saving and the notebook's sections
# ---------------------------------------------------------------------------------------------

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
    """Save an already masked table (``report.save_table``, checked against ``k``) and return its
    display view."""
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
            shown[col] = [v if isinstance(v, str) or v is None or (isinstance(v, float) and math.isnan(v))
                          else _fmt(float(v), 2, lang) for v in shown[col]]
    if "p" in shown.columns:
        shown["p"] = [format_p(v, lang) for v in tab["p"]]
    return report.display_table(shown, lang, labels=lab)


def pool_note(guard: Guard, lang: Lang = "sv", keys: Sequence[str] | None = None) -> str:
    """The note on pooling: hidden counts are left out of pooled numbers (and who was, if any)."""
    out = schema.text("jmf_not_pool", lang)
    left = {m for key in (keys or guard.keys) for m in guard.left_out(key)}
    if left:
        names = [kommun_namn(m) for m in guard.counts["kommun"] if m in left]
        out += schema.text("jmf_not_pool_utan", lang, kommuner=", ".join(names))
    return out


@dataclass(frozen=True)
class Section:
    """What a notebook section shows: a figure, display tables and a short Markdown summary."""

    figure: Figure | None
    tables: dict[str, pd.DataFrame]
    summary: str
    funnels: dict[str, Funnel]


@dataclass
class Comparison:
    """Everything 04_compare publishes, protected: the guard (ledgers and pools) and the pooled
    estimates computed over the pools."""

    frames: Mapping[str, pd.DataFrame]
    ar: int
    k: int
    lang: Lang
    guard: Guard
    ratios: dict[str, pd.DataFrame]


def prepare(frames: Mapping[str, pd.DataFrame], ar: int, k: int, lang: Lang = "sv",
            keys: Sequence[str] = FUNNEL_INDICATORS) -> Comparison:
    """Protect every municipality's counts in its ledger, save the ledgers (``reports/<kommun>/
    ledger/04.json``) and fit the case-mix model over each indicator's pool."""
    guard = protect(frames, ar, k, keys)
    save_ledgers(guard)
    ratios = compare.casemix(frames, ar, keys, pools=guard.pools)
    return Comparison(frames, ar, k, lang, guard, ratios)


def section_headline(c: Comparison) -> pd.DataFrame:
    """The side-by-side table of headline figures (saved as ``04_nyckeltal``)."""
    lang = c.lang
    return publish(headline_table(c.guard, c.ratios), NYCKELTAL,
                   title=schema.text("jmf_titel_nyckeltal", lang, ar=c.ar),
                   unit=schema.text("jmf_enhet_nyckeltal", lang), ar=c.ar, k=c.k, lang=lang,
                   note=schema.text("jmf_not_nyckeltal", lang) + " " + pool_note(c.guard, lang))


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


def section_funnels(c: Comparison) -> Section:
    """Crude-rate funnel plots (figure ``04_trattdiagram``), one points table per indicator
    (``04_tratt_<key>``) and the overdispersion table (``04_overspridning``)."""
    lang, ar, k = c.lang, c.ar, c.k
    fs = compare.funnels(c.frames, ar, c.guard.keys, pools=c.guard.pools)
    fig = plot_funnels(fs, lang)
    report.save_figure(fig, OUT, "04_trattdiagram")
    for key, f in fs.items():
        publish(funnel_points_table(f, c.guard, lang), tratt_name(key),
                title=schema.text("jmf_titel_tratt", lang, ind=indicator(key).label(lang), ar=ar),
                unit=indicator(key).unit(lang), ar=ar, k=k, lang=lang,
                note=schema.text("jmf_not_tratt", lang) + " " + pool_note(c.guard, lang, [key]))
    od = publish(overdispersion_table(fs, lang), "04_overspridning",
                 title=schema.text("jmf_titel_overspridning", lang, ar=ar),
                 unit=schema.text("jmf_enhet_indikatorer", lang), ar=ar, k=k, lang=lang,
                 note=schema.text("jmf_not_overspridning", lang) + " " + pool_note(c.guard, lang))
    return Section(fig, {"overspridning": od}, standouts_text(fs, lang), fs)


def section_casemix(c: Comparison, max_rows: int = 30) -> Section:
    """Standardised ratios: funnel plots of O/E (figure ``04_trattdiagram_justerade``) and one
    table per indicator (``04_justerad_<key>``; with more than ``max_rows`` municipalities only
    those outside the 95 % limits are returned for display - the saved table has them all)."""
    lang, ar, k = c.lang, c.ar, c.k
    fs = {key: compare.ratio_funnel(sr, key) for key, sr in c.ratios.items()}
    fig = plot_funnels(fs, lang)
    report.save_figure(fig, OUT, "04_trattdiagram_justerade")
    tables = {}
    for key, sr in c.ratios.items():
        ind = indicator(key).label(lang)
        shown = publish(casemix_table(sr, key, c.guard), justerad_name(key),
                        title=schema.text("jmf_titel_casemix", lang, ind=ind, ar=ar),
                        unit=indicator(key).unit(lang), ar=ar, k=k, lang=lang,
                        note=schema.text("jmf_not_casemix", lang) + " " + pool_note(c.guard, lang, [key]))
        if len(shown) > max_rows:  # many municipalities: show those outside the 95 % limits
            out = fs[key].points.set_index("kommun").reindex(sr["kommun"])
            shown = shown[(out["utanfor_95"] & out["visas"]).fillna(False).to_numpy(dtype=bool)]
        tables[key] = shown.reset_index(drop=True)
    return Section(fig, tables, standouts_text(fs, lang), fs)


def section_mor(c: Comparison) -> tuple[pd.DataFrame, dict[str, MedianOddsRatio]]:
    """Median odds ratios over each indicator's pool (table ``04_mor``); returns the display
    table and the estimates."""
    lang, ar = c.lang, c.ar
    mors = compare.between(c.frames, ar, c.guard.keys, pools=c.guard.pools)
    shown = publish(mor_table(mors, lang), "04_mor", title=schema.text("jmf_titel_mor", lang, ar=ar),
                    unit=schema.text("jmf_enhet_indikatorer", lang), ar=ar, k=c.k, lang=lang,
                    note=schema.text("jmf_not_mor", lang) + " " + pool_note(c.guard, lang))
    return shown, mors


def results(c: Comparison, crude: Mapping[str, Funnel], adjusted: Mapping[str, Funnel],
            mors: Mapping[str, MedianOddsRatio]) -> dict[str, object]:
    """Headline figures of 04_compare for ``results.json`` (municipality codes, no counts; the
    municipalities of each indicator's pool under ``i_malvarde``)."""
    out: dict[str, object] = {"ar": c.ar, "kommuner": list(c.frames)}
    for key, f in crude.items():
        s, a = standouts(f), standouts(adjusted[key]) if key in adjusted else {}
        m = mors.get(key)
        out[key] = {
            "poolad_andel": f.target, "phi": f.od.phi, "p_overspridning": f.od.p_value,
            "tau2": f.od.tau2, "justerade_granser": f.adjusted, "i_malvarde": c.guard.pools[key],
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
