"""Publishing the models notebook: every count through the disclosure ledger, then tables, figures
and results.json.

:mod:`genomlysning.models` fits and tabulates and never writes or masks; this module is where a
published number of 03 is checked. :func:`publish` assembles the publication tables from a
:class:`genomlysning.models.ModelRun` (coefficient tables of both specifications, the overview, the
missing values, separation), registers their counts with definitions in the funnel's dimensions
(:mod:`genomlysning.models_ledger`) on a ledger that first fixes what 02_funnel published, and
protects them together: a count is hidden when it is small or when, with 02's tables, it would
reveal a small or hidden count (e.g. "Pojke + Okänt" beside 02's Pojke; rows in the population
beside rows in the model). Every estimate of a category (share, odds ratio and interval, p, AME,
standardised probability, the separation mark) is hidden with the category's counts; the figures,
the summary and results.json are drawn only from the suppressed tables (:class:`Publication`);
:func:`save_outputs` writes them and the ledger's definitions (``reports/<kommun>/ledger/03.json``)
for ``genomlysning audit``.

Not counts of the ledger: calibration bins (observed shares in bins of predicted probability, in the
calibration figure) and the pooling table's reasons ("fewer than 20 rows"), which bound a count but
do not state it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from genomlysning import disclose, funnel, models, models_ledger, schema
from genomlysning.ledger import Ledger, LedgerError
from genomlysning.schema import Lang

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Published table names.
OVERSIKT = "03_modell_oversikt"
BORTFALL = "03_modell_bortfall"
SAMMANSLAGNING = "03_modell_sammanslagning"
SEPARATION = "03_modell_separation"
DIAGNOSTIK = "03_modell_diagnostik"
#: Published coefficient column -> column of :func:`genomlysning.models.coefficient_table`.
RAW_COLUMNS: dict[str, str] = {
    "n": "n", "n_med": "handelser", "n_utan": "ej_handelser", "andel": "andel", "or": "or", "or_lo": "or_lag",
    "or_hi": "or_hog", "p": "p", "ame": "ame", "ame_lo": "ame_lag", "ame_hi": "ame_hog",
    "andel_std": "sannolikhet", "andel_std_lo": "sannolikhet_lag", "andel_std_hi": "sannolikhet_hog",
    "separation": "alla_lika"}
SPECS: tuple[str, ...] = ("arendetyp", "orsaker")


def coefficient_name(key: str, spec: str = "arendetyp") -> str:
    """Published name of a coefficient table (``spec``: ``arendetyp`` or ``orsaker``)."""
    return f"03_modell_{'' if spec == 'arendetyp' else 'orsaker_'}{key}"


# ---------------------------------------------------------------------------------------------
# The publication: tables assembled, registered and protected
# ---------------------------------------------------------------------------------------------

@dataclass
class Publication:
    """What 03 publishes, suppressed: ``tables`` by published name; ``coefficients[spec][key]``
    the suppressed coefficient tables in the models' coding (for figures and text); the ledger."""

    run: models.ModelRun
    ledger: Ledger
    tables: dict[str, pd.DataFrame]
    coefficients: dict[str, dict[str, pd.DataFrame]]
    overview_keys: list[tuple[str, str]] = field(default_factory=list)

    @property
    def lang(self) -> Lang:
        """Language of the labels."""
        return self.run.lang

    def fits(self, spec: str = "arendetyp") -> dict[str, models.ModelFit]:
        """The fitted models of a specification."""
        return self.run.fits if spec == "arendetyp" else self.run.orsak_fits

    def overview_value(self, key: str, col: str, spec: str = "arendetyp") -> object:
        """A published value of the overview (``..`` if hidden)."""
        i = self.overview_keys.index((spec, key))
        return self.tables[OVERSIKT][col].iloc[i]

    def skipped(self) -> dict[str, str]:
        """Why each main-specification outcome was not modelled, with its published counts."""
        out = {}
        for key, why in self.run.skipped.items():
            n, ev = self.overview_value(key, "n"), self.overview_value(key, "n_med")
            out[key] = f"{why}: n = {n}, {models.text('handelser', self.lang).lower()} = {ev}"
        return out


def _masked_raw(raw: pd.DataFrame, masked: pd.DataFrame) -> pd.DataFrame:
    """``raw`` (models' coding) with the cells hidden in the published ``masked`` table hidden."""
    out = raw.copy()
    for pub_col, raw_col in RAW_COLUMNS.items():
        hide = masked[pub_col].map(disclose.is_suppressed).to_numpy(dtype=bool)
        if hide.any():
            values = out[raw_col].astype(object).to_numpy(copy=True)
            values[hide] = disclose.SUPPRESSED
            out[raw_col] = pd.Series(values, index=out.index, dtype=object)
    return out


def overview_table(run: models.ModelRun) -> tuple[pd.DataFrame, list[tuple[str, str]],
                                                    list[tuple[models.Prepared, str]]]:
    """One row per model: every main-specification outcome (fitted or not: ``metod`` says), then
    the fitted per-reason models; rows, children, events, events per variable (unsuppressed).
    Returns the table, (spec, outcome) per row and (prepared rows, name) for the ledger."""
    lang = run.lang
    recs, keys, preps = [], [], []
    rows = [("arendetyp", key, run.fits.get(key), prep) for key, prep in run.preps.items()]
    rows += [("orsaker", key, fit, fit.prep) for key, fit in run.orsak_fits.items()]
    for spec, key, fit, prep in rows:
        n, events = len(prep.y), int(prep.y.sum())
        recs.append({"utfall": models.OUTCOMES[key].label(lang),
                     "specifikation": schema.label("arendetyp", lang) if spec == "arendetyp"
                     else models.text("orsaker", lang),
                     "n": n, "n_barn": len(np.unique(prep.groups)), "n_med": events,
                     "epv": round(fit.epv, 1) if fit is not None else np.nan,
                     "metod": models.text(f"{fit.method}_kort", lang) if fit is not None
                     else models.text("ej_modellerad", lang)})
        keys.append((spec, key))
        preps.append((prep, key if spec == "arendetyp" else f"{key}:orsaker"))
    table = pd.DataFrame.from_records(recs, columns=["utfall", "specifikation", "n", "n_barn", "n_med", "epv",
                                                     "metod"])
    return table, keys, preps


def missing_overview(run: models.ModelRun) -> tuple[pd.DataFrame, list[models.Prepared]]:
    """Missing values per variable and outcome population, before fitting (unsuppressed)."""
    frames, preps = [], []
    for key, prep in run.preps.items():
        m = prep.missing.copy()
        m.loc[m["kolumn"] == models.OUTCOMES[key].column, "variabel"] = models.text("utfallet", run.lang)
        frames.append(m.assign(utfall=models.OUTCOMES[key].label(run.lang)))
        preps.append(prep)
    if not frames:
        return pd.DataFrame(columns=["utfall", "variabel", "n"]), preps
    table = pd.concat(frames, ignore_index=True)[["utfall", "variabel", "saknas"]]
    return table.rename(columns={"saknas": "n"}), preps


def pooling_overview(run: models.ModelRun) -> pd.DataFrame:
    """Every model's pooled and merged categories (no counts)."""
    frames = [pooling_table(f, run.lang) for f in [*run.fits.values(), *run.orsak_fits.values()]]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def publish(run: models.ModelRun, df: pd.DataFrame, kommun: str, *, period_slut: str | None = None,
            earlier: tuple[Sequence[Mapping], Mapping[str, pd.DataFrame]] | None = None,
            cache: Path | None = None) -> Publication:
    """Assemble 03's tables, register every count on the unit's ledger after what 02 published
    (``earlier``; default: read from ``reports/<kommun>/``, which 02_funnel must have written) and
    protect them; ``df``: the clean table the models were fitted on; ``cache``: a local folder for
    the ledger's solution (never published)."""
    from genomlysning import audit

    if earlier is None:
        earlier = audit.published(kommun, before="03")
        if not earlier[0]:
            raise LedgerError(f"02_funnel has not published {kommun} (no reports/{kommun}/ledger/02.json): "
                              "run it first, so that 03 cannot reveal what 02 hid")
    y = funnel.in_year(df, run.ar)
    ctx = models_ledger.context(run.k, y, funnel.period_end(df, kommun, period_slut), run.ar, earlier)
    lang = run.lang
    tables: dict[str, pd.DataFrame] = {}
    raws: dict[str, tuple[str, str, pd.DataFrame]] = {}
    for spec in SPECS:
        fits = run.fits if spec == "arendetyp" else run.orsak_fits
        raw_tables = run.tables if spec == "arendetyp" else run.orsak_tables
        for key, fit in fits.items():
            name = coefficient_name(key, spec)
            frame = publication_table(raw_tables[key], fit, lang)
            models_ledger.register_coefficients(ctx, name, frame, fit, raw_tables[key])
            raws[name] = (spec, key, raw_tables[key])
    over, keys, preps = overview_table(run)
    models_ledger.register_overview(ctx, OVERSIKT, over, preps)
    missing, mpreps = missing_overview(run)
    models_ledger.register_missing(ctx, BORTFALL, missing, mpreps)
    sep_frames, sep_keys = [], []
    for fit in [*run.fits.values(), *run.orsak_fits.values()]:
        t, k_ = separation_rows(fit, lang)
        sep_frames.append(t)
        sep_keys += k_
    separated = pd.concat([f for f in sep_frames if len(f)], ignore_index=True) if sep_keys else None
    if separated is not None:
        models_ledger.register_separation(ctx, SEPARATION, separated, sep_keys)
    ctx.led.protect(cache=cache)
    coefficients: dict[str, dict[str, pd.DataFrame]] = {s: {} for s in SPECS}
    for name, (spec, key, raw) in raws.items():
        tables[name] = ctx.led.masked(name)
        coefficients[spec][key] = _masked_raw(raw, tables[name])
    tables[OVERSIKT] = ctx.led.masked(OVERSIKT)
    tables[BORTFALL] = ctx.led.masked(BORTFALL)
    pooled = pooling_overview(run)
    if len(pooled):
        tables[SAMMANSLAGNING] = pooled
    if separated is not None:
        sep = ctx.led.masked(SEPARATION)
        # the direction ("all have the outcome") states a count of the coefficient table: hidden with it
        marks = []
        for fit, var, code, _ in sep_keys:
            spec = "arendetyp" if any(fit is f for f in run.fits.values()) else "orsaker"
            t = coefficients[spec][fit.prep.outcome.key]
            row = t[(t["variabel"] == var) & (t["kod"] == code)].iloc[0]
            marks.append(disclose.is_suppressed(row["alla_lika"]))
        sep["riktning"] = sep["riktning"].astype(object).where(~np.array(marks), disclose.SUPPRESSED)
        tables[SEPARATION] = sep
    tables[DIAGNOSTIK] = models.diagnostics_table(list(run.calibrations.values()), lang)
    return Publication(run, ctx.led, tables, coefficients, keys)


# ---------------------------------------------------------------------------------------------
# Labels and notebook views
# ---------------------------------------------------------------------------------------------

def overview_labels(lang: Lang = "sv") -> dict[str, str]:
    """Header labels of the overview."""
    t = models.text
    return {"utfall": t("utfall", lang), "specifikation": t("specifikation", lang),
            "n_barn": t("barn_n", lang), "n_med": t("handelser", lang), "epv": t("epv", lang),
            "metod": t("metod", lang), "n": t("n", lang)}


def missing_labels(lang: Lang = "sv") -> dict[str, str]:
    """Header labels of the missing-value table."""
    t = models.text
    return {"utfall": t("utfall", lang), "variabel": t("variabel", lang), "n": t("saknas", lang)}


def overview_view(pub: Publication) -> pd.DataFrame:
    """Notebook view of the overview."""
    from genomlysning import report

    return report.display_table(pub.tables[OVERSIKT], pub.lang, labels=overview_labels(pub.lang))


def missing_view(pub: Publication) -> pd.DataFrame:
    """Notebook view of the missing-value table, one column per outcome."""
    from genomlysning import report

    table = pub.tables[BORTFALL]
    wide = table.pivot(index="variabel", columns="utfall", values="n")
    order = list(dict.fromkeys(table["variabel"]))
    wide = wide.reindex(index=order, columns=list(dict.fromkeys(table["utfall"])))
    wide.index.name = models.text("saknas", pub.lang)
    wide.columns.name = None
    return wide.map(lambda v: report.format_number(v, pub.lang)).reset_index()


def pooling_view(pub: Publication) -> pd.DataFrame:
    """Notebook view of the pooling table."""
    from genomlysning import report

    table = pub.tables.get(SAMMANSLAGNING, pd.DataFrame())
    return report.display_table(table, pub.lang, labels=pooling_labels(pub.lang))


def separation_view(pub: Publication) -> pd.DataFrame:
    """Notebook view of the separation table (empty: no separation in any model)."""
    from genomlysning import report

    table = pub.tables.get(SEPARATION, pd.DataFrame())
    return report.display_table(table, pub.lang, labels=separation_labels(pub.lang)) if len(table) else table


def diagnostics_view(pub: Publication) -> pd.DataFrame:
    """Notebook view of the diagnostics ("estimate (lower–upper)")."""
    from genomlysning import report

    labels = {**models.diagnostics_labels(pub.lang), "skattning": models.text("skattning_ki", pub.lang)}
    return report.display_table(pub.tables[DIAGNOSTIK], pub.lang, labels=labels)


def coefficient_view(pub: Publication, key: str, spec: str = "arendetyp") -> pd.DataFrame:
    """Notebook view of a published coefficient table."""
    return display(pub.tables[coefficient_name(key, spec)], pub.lang)


def describe(run: models.ModelRun) -> str:
    """Markdown paragraph: year, formula, unit, pooling thresholds and the suppression rule."""
    lang = run.lang
    terms = " + ".join(models.text("orsaker", lang) if t == models.ORSAKER else schema.label(t, lang)
                       for t in models.parse_formula(run.formula))
    alt = models.text("describe_alt", lang) if run.orsak_formula else ""
    return models.text("describe", lang, ar=run.ar, terms=terms, alt=alt, min_n=max(run.min_n, run.k),
                       m=run.k - 1, k_minus=run.k - 1, folds=run.folds, seed=run.seed)


def _value(v: object) -> object:
    return v if isinstance(v, str) else (None if v is None or pd.isna(v) else float(v))


def _count(v: object) -> object:
    return v if isinstance(v, str) else int(v)  # type: ignore[call-overload]


def headline(pub: Publication) -> dict[str, Any]:
    """Headline figures for results.json: per outcome the method, separation, AUC and, per
    ärendetyp, the standardised probability, odds ratio and AME (hidden values stay "..")."""
    run = pub.run
    out: dict[str, Any] = {"ar": run.ar, "formel": run.formula, "k": run.k, "ej_modellerade": pub.skipped(),
                           "ej_modellerade_orsaker": dict(run.orsak_skipped)}
    per: dict[str, Any] = {}
    for key, f in run.fits.items():
        t = pub.coefficients["arendetyp"][key]
        at = t[t["variabel"] == "arendetyp"]
        cal = run.calibrations[key]
        per[key] = {
            "n": _count(pub.overview_value(key, "n")), "handelser": _count(pub.overview_value(key, "n_med")),
            "metod": f.method, "referens_arendetyp": at.loc[at["referens"].astype(bool), "kod"].tolist(),
            "separation": [f"{r.variabel}={r.kod}" for r in f.separation.affected.itertuples()],
            "auc": cal.auc[0], "auc_cv": cal.auc_cv[0], "kalibrering_lutning": cal.slope[0],
            "kalibrering_intercept": cal.intercept[0],
            "sannolikhet_arendetyp": {r["kod"]: _value(r["sannolikhet"]) for r in at.to_dict("records")},
            "or_arendetyp": {r["kod"]: [_value(r["or"]), _value(r["or_lag"]), _value(r["or_hog"])]
                             for r in at.to_dict("records") if not r["referens"]},
            "ame_arendetyp": {r["kod"]: [_value(r["ame"]), _value(r["ame_lag"]), _value(r["ame_hog"])]
                              for r in at.to_dict("records") if not r["referens"]},
        }
    out["utfall"] = per
    return out


def _pct(v: float, lang: Lang) -> str:
    s = f"{100 * v:.0f}"
    return f"{s} %" if lang == "sv" else f"{s}%"


def _num(v: float, lang: Lang, digits: int = 1) -> str:
    s = f"{v:.{digits}f}"
    return s.replace(".", ",").replace("-", "−") if lang == "sv" else s.replace("-", "−")


def summary(pub: Publication, lang: Lang | None = None,
            outcomes: Sequence[str] = ("utredning", "insats")) -> str:
    """Markdown bullets: per outcome and ärendetyp, the standardised probability against the
    reference, the AME with its interval and whether the interval excludes zero (from the
    suppressed tables)."""
    lang = pub.lang if lang is None else lang
    run = pub.run
    skipped = pub.skipped()
    lines: list[str] = []
    for key in outcomes:
        if key not in run.fits:
            if key in skipped:
                lines.append(f"- **{models.OUTCOMES[key].label(lang)}**: {skipped[key]}")
            continue
        t = pub.coefficients["arendetyp"][key]
        at = t[t["variabel"] == "arendetyp"]
        if at.empty:
            continue
        term = next(tm for tm in run.fits[key].terms if tm.name == "arendetyp")
        ref = at[at["referens"].astype(bool)].iloc[0]
        ref_label = models.level_label(term, term.levels[0], lang)
        parts = []
        for r in at[~at["referens"].astype(bool)].to_dict("records"):
            lab = _label_of_row(term, r["kod"], lang)
            hidden = [r["sannolikhet"], r["ame"], r["ame_lag"], r["ame_hog"], ref["sannolikhet"]]
            if any(isinstance(v, str) for v in hidden):
                parts.append(f"{lab}: ..")
                continue
            lo, hi = 100 * r["ame_lag"], 100 * r["ame_hog"]
            sure = lo > 0 or hi < 0
            if lang == "sv":
                verdict = ("säkerställd skillnad (intervallet utesluter 0)" if sure
                           else "osäker skillnad (intervallet innehåller 0)")
                parts.append(f"{lab}: {_pct(r['sannolikhet'], lang)} mot {_pct(ref['sannolikhet'], lang)}, "
                             f"{_num(100 * r['ame'], lang)} procentenheter (95 % KI {_num(lo, lang)} till "
                             f"{_num(hi, lang)}), {verdict}")
            else:
                verdict = ("clear difference (the interval excludes 0)" if sure
                           else "uncertain difference (the interval includes 0)")
                parts.append(f"{lab}: {_pct(r['sannolikhet'], lang)} vs {_pct(ref['sannolikhet'], lang)}, "
                             f"{_num(100 * r['ame'], lang)} percentage points (95% CI {_num(lo, lang)} to "
                             f"{_num(hi, lang)}), {verdict}")
        head = (f"**{models.OUTCOMES[key].label(lang)}** (standardiserat, jämfört med {ref_label.lower()})"
                if lang == "sv" else
                f"**{models.OUTCOMES[key].label(lang)}** (standardised, compared with {ref_label.lower()})")
        lines.append(f"- {head}:\n" + "\n".join(f"    - {p}" for p in parts))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Figures of the publication, saving
# ---------------------------------------------------------------------------------------------

def figure_names(run: models.ModelRun) -> dict[str, str]:
    """Names of the saved figures: effects per outcome, probabilities, calibration."""
    names = {key: f"03_effekter_{key}" for key in run.fits}
    names.update(sannolikhet="03_sannolikhet_arendetyp", kalibrering="03_kalibrering")
    return names


def figures(pub: Publication) -> dict[str, Figure]:
    """Every published figure, drawn from the suppressed tables, by saved name."""
    run, lang = pub.run, pub.lang
    names = figure_names(run)
    out: dict[str, Figure] = {}
    for key, fit in run.fits.items():
        out[names[key]] = effects_figure(pub.coefficients["arendetyp"][key], fit, lang,
                                         n=pub.overview_value(key, "n"))
    if run.fits:
        out[names["sannolikhet"]] = probability_figure(pub.coefficients["arendetyp"], run.fits, "arendetyp",
                                                       lang)
        out[names["kalibrering"]] = calibration_figure(list(run.calibrations.values()), lang)
    return out


def show_figure(fig: Figure, kommun: str, name: str) -> Any:
    """Save ``fig`` under reports/<kommun>/figures/ and return the saved PNG for display (so the
    notebook shows exactly the published image and renders it only once)."""
    from IPython.display import Image

    from genomlysning import report

    return Image(data=report.save_figure(fig, kommun, name).read_bytes())


def save_outputs(pub: Publication, kommun: str, *, namn: str | None = None,
                 figures_too: bool = True) -> list[str]:
    """Write the ledger's definitions (``ledger/03.json``), the suppressed tables (CSV + metadata),
    the figures (unless ``figures_too=False``: the notebook saves them with :func:`show_figure`) and
    the ``modeller`` section of results.json. Returns the written paths relative to the project root."""
    from genomlysning import paths, report

    run, lang, k = pub.run, pub.lang, pub.run.k
    source = models.text("kalla", lang, kommun=namn or kommun, ar=run.ar)
    unit = models.text("unit", lang, ar=run.ar)
    registered = [t.name for t in pub.ledger.tables if not t.prior]
    written = [report.save_ledger(pub.ledger.definitions_json(), kommun, "03")]
    labels = column_labels(lang)
    for spec in SPECS:
        for key, fit in pub.fits(spec).items():
            note = " ".join([models.text(fit.method, lang) + ".", models.text("ame_note", lang),
                             reference_note(fit, lang)])
            what = schema.label("arendetyp", lang) if spec == "arendetyp" else models.text("orsaker", lang)
            title = f"{fit.prep.outcome.label(lang)}: {what}"
            written.append(report.save_table(
                pub.tables[coefficient_name(key, spec)], kommun, coefficient_name(key, spec), title=title,
                unit=unit, source=source, note=note, lang=lang, k=k, labels=labels,
                percent=("andel_std", "andel_std_lo", "andel_std_hi")))
    written.append(report.save_table(pub.tables[OVERSIKT], kommun, OVERSIKT,
                                     title=models.text("titel_oversikt", lang), unit=unit, source=source,
                                     lang=lang, k=k, labels=overview_labels(lang)))
    written.append(report.save_table(pub.tables[BORTFALL], kommun, BORTFALL,
                                     title=models.text("titel_bortfall", lang), unit=unit, source=source,
                                     lang=lang, k=k, labels=missing_labels(lang)))
    if SAMMANSLAGNING in pub.tables:
        written.append(report.save_table(pub.tables[SAMMANSLAGNING], kommun, SAMMANSLAGNING,
                                          title=models.text("titel_sammanslagning", lang), unit=unit,
                                          source=source, lang=lang, labels=pooling_labels(lang)))
    if SEPARATION in pub.tables:
        written.append(report.save_table(pub.tables[SEPARATION], kommun, SEPARATION,
                                          title=models.text("titel_separation", lang), unit=unit,
                                          source=source, lang=lang, k=k, labels=separation_labels(lang)))
    written.append(report.save_table(pub.tables[DIAGNOSTIK], kommun, DIAGNOSTIK,
                                     title=models.text("titel_diagnostik", lang), unit=unit, source=source,
                                     lang=lang, labels=models.diagnostics_labels(lang),
                                     note=models.text("diagnostik_note", lang, folds=run.folds)))
    missing = [n for n in registered if n not in pub.tables]
    if missing:
        raise LedgerError(f"registered but not published: {missing}")
    if figures_too:
        for name, fig in figures(pub).items():
            written.append(report.save_figure(fig, kommun, name))
    report.update_results(kommun, "modeller", headline(pub))
    return [paths.relative(p) for p in written]


# ---------------------------------------------------------------------------------------------
# Publication tables: labels, rounding
# ---------------------------------------------------------------------------------------------

def _label_of_row(term: models.Term, code: str, lang: Lang) -> str:
    if term.kind == "numeric":
        return schema.label(term.name, lang)
    lev = next(lv for lv in term.levels if lv.code == code)
    if term.kind == "indicator":
        return f"{models.level_label(term, lev, lang)}: {models.text(code, lang).lower()}"
    return models.level_label(term, lev, lang)


#: Column order of a published coefficient table (report.py conventions: ``andel*`` are
#: proportions, ``_lo``/``_hi`` are 95 % bounds, ``n*`` are counts checked against k).
PUBLISHED_COLUMNS: tuple[str, ...] = (
    "utfall", "variabel", "kategori", "referens", "n", "n_med", "n_utan", "andel", "or", "or_lo",
    "or_hi", "p", "ame", "ame_lo", "ame_hi", "andel_std", "andel_std_lo", "andel_std_hi",
    "separation", "metod")


def publication_table(table: pd.DataFrame, fit: models.ModelFit, lang: Lang = "sv") -> pd.DataFrame:
    """Tidy, labelled table of one model from its coefficient table (for the ledger, CSV, XLSX,
    display; rows in the same order).

    Values are labels in ``lang`` (``referens``: "ref." on reference rows); ``ame*`` in percentage
    points; ``andel`` (observed share) and ``andel_std*`` (standardised probability) as proportions;
    hidden values stay ``..``.
    """
    terms = {t.name: t for t in fit.terms}
    rows = []
    for r in table.to_dict("records"):
        t = terms[r["variabel"]]

        def pp(v: object) -> object:
            return v if isinstance(v, str) or pd.isna(v) else 100.0 * float(v)

        rows.append({
            "utfall": models.OUTCOMES[r["utfall"]].label(lang), "variabel": models.term_label(t, lang),
            "kategori": _label_of_row(t, r["kod"], lang),
            "referens": models.text("ref", lang) if r["referens"] else "",
            "n": r["n"], "n_med": r["handelser"], "n_utan": r["ej_handelser"], "andel": r["andel"],
            "or": r["or"], "or_lo": r["or_lag"], "or_hi": r["or_hog"], "p": r["p"],
            "ame": pp(r["ame"]), "ame_lo": pp(r["ame_lag"]), "ame_hi": pp(r["ame_hog"]),
            "andel_std": r["sannolikhet"], "andel_std_lo": r["sannolikhet_lag"],
            "andel_std_hi": r["sannolikhet_hog"],
            "separation": models.text(r["alla_lika"], lang) if r["alla_lika"] else "",
            "metod": models.text(r["metod"], lang)})
    return pd.DataFrame.from_records(rows, columns=list(PUBLISHED_COLUMNS))


def column_labels(lang: Lang = "sv") -> dict[str, str]:
    """Header labels of :data:`PUBLISHED_COLUMNS` (for ``report.save_table(labels=...)``)."""
    keys = {"utfall": "utfall", "variabel": "variabel", "kategori": "kategori", "referens": "referens",
            "n": "n", "n_med": "handelser", "n_utan": "ej_handelser", "andel": "andel", "or": "or",
            "or_lo": "or_lag", "or_hi": "or_hog", "p": "p", "ame": "ame", "ame_lo": "ame_lag",
            "ame_hi": "ame_hog", "andel_std": "sannolikhet", "andel_std_lo": "sannolikhet_lag",
            "andel_std_hi": "sannolikhet_hog", "separation": "separation", "metod": "metod"}
    return {c: models.text(k, lang) for c, k in keys.items()}


def format_p(value: object, lang: Lang = "sv") -> str:
    """p-value as text: two significant digits, "<0,001" below 0.001 (decimal comma in Swedish)."""
    if isinstance(value, str):
        return value
    if value is None or pd.isna(value):
        return ""
    v = float(value)
    s = "<0.001" if v < 0.001 else f"{v:.2g}" if v < 0.1 else f"{v:.2f}"
    return s.replace(".", ",") if lang == "sv" else s


def display(table: pd.DataFrame, lang: Lang = "sv") -> pd.DataFrame:
    """Notebook view of a publication table: Swedish number format, "x (lo–hi)", p as text."""
    from genomlysning import report

    labels = {**column_labels(lang), "or": models.text("or_ki", lang), "ame": models.text("ame_ki", lang),
              "andel_std": models.text("sannolikhet_ki", lang)}
    view = report.display_table(table, lang, labels=labels, drop=("utfall", "referens", "metod"))
    view[labels["p"]] = [format_p(v, lang) for v in table["p"]]
    ref = (table["referens"] == models.text("ref", lang)).to_numpy()
    view[labels["or"]] = np.where(ref, models.text("ref", lang), view[labels["or"]])
    return view


def reference_note(fit: models.ModelFit, lang: Lang = "sv") -> str:
    """One sentence naming each categorical term's reference category."""
    items = [f"{models.term_label(t, lang)}: {models.level_label(t, t.levels[0], lang)}"
             for t in fit.terms if t.kind == "categorical"]
    if any(t.kind == "indicator" for t in fit.terms):
        items.append(f"{models.text('orsaker', lang)}: {models.text('nej', lang).lower()}")
    return models.text("ref_note", lang, items="; ".join(items))


def pooling_table(fit_or_prep: models.ModelFit | models.Prepared, lang: Lang = "sv") -> pd.DataFrame:
    """The pooling records of one model, labelled; columns ``utfall, variabel, kategori, till, skal``."""
    prep = fit_or_prep.prep if isinstance(fit_or_prep, models.ModelFit) else fit_or_prep
    terms = {t.name: t for t in prep.terms}
    recs = []
    for r in prep.pooling.itertuples():
        if r.variabel == models.ORSAKER:
            var, cat = models.text("orsaker", lang), schema.label(r.kod, lang)
            into = models.text("orsak_ovriga", lang) if r.till else "–"
        else:
            var = schema.label(r.variabel, lang)
            cat = (var if schema.column(r.variabel).dtype == "int"
                   else models._code_label(r.variabel, r.kod, lang))
            t = terms.get(r.variabel)
            lev = next((lv for lv in t.levels if lv.code == r.till), None) if t else None
            into = models.level_label(t, lev, lang) if (t and lev) else "–"
        recs.append({"utfall": prep.outcome.label(lang), "variabel": var, "kategori": cat, "till": into,
                     "skal": models.text(r.skal, lang, min_n=prep.min_n, m=prep.min_events - 1)})
    return pd.DataFrame.from_records(recs, columns=["utfall", "variabel", "kategori", "till", "skal"])


def pooling_labels(lang: Lang = "sv") -> dict[str, str]:
    """Header labels of :func:`pooling_table`."""
    return {c: models.text(key, lang) for c, key in (("utfall", "utfall"), ("variabel", "variabel"),
                                               ("kategori", "kategori"), ("till", "sammanslagen_till"),
                                               ("skal", "skal"))}


def separation_rows(fit: models.ModelFit, lang: Lang = "sv"
                    ) -> tuple[pd.DataFrame, list[tuple[models.ModelFit, str, str, bool]]]:
    """Categories affected by separation (unsuppressed) and, per row, what the ledger needs (fit,
    variable, code, every row separated); columns ``utfall, variabel, kategori, n, riktning,
    n_separerade`` (rows whose outcome a linear predictor can predict perfectly; published only
    when they are all the category's rows: a part is not a count the ledger can define)."""
    aff = fit.separation.affected
    terms = {t.name: t for t in fit.terms}
    recs = []
    keys = []
    for r in aff.itertuples():
        t = terms[r.variabel]
        lev = next(lv for lv in t.levels if lv.code == r.kod)
        full = int(r.separerade) == int(r.n)
        recs.append({"utfall": fit.prep.outcome.label(lang), "variabel": models.term_label(t, lang),
                     "kategori": models.level_label(t, lev, lang), "n": int(r.n),
                     "riktning": models.text(r.alla_lika, lang) if r.alla_lika else "",
                     "n_separerade": int(r.separerade) if full else disclose.SUPPRESSED})
        keys.append((fit, str(r.variabel), str(r.kod), full))
    table = pd.DataFrame.from_records(recs, columns=["utfall", "variabel", "kategori", "n", "riktning",
                                                     "n_separerade"])
    return table, keys


def separation_labels(lang: Lang = "sv") -> dict[str, str]:
    """Header labels of :func:`separation_table`."""
    return {"utfall": models.text("utfall", lang), "variabel": models.text("variabel", lang),
            "kategori": models.text("kategori", lang), "n": models.text("n", lang),
            "riktning": models.text("riktning", lang),
            "n_separerade": models.text("separerade_rader", lang)}


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------

_COLOURS: tuple[str, ...] = ("#1b5e9b", "#c0392b", "#2e8b57", "#8e44ad")


def _plot_rows(masked: pd.DataFrame, fit: models.ModelFit, lang: Lang) -> list[dict[str, Any]]:
    """Rows of an effects plot: a header per variable, then its categories (reference first)."""
    terms = {t.name: t for t in fit.terms}
    rows: list[dict[str, Any]] = []
    last = None
    for r in masked.to_dict("records"):
        t = terms[r["variabel"]]
        if t.kind == "indicator" and r["referens"]:
            continue
        head = models.term_label(t, lang)
        if head != last:
            rows.append({"label": head, "header": True})
            last = head
        lab = (_label_of_row(t, r["kod"], lang) if t.kind != "indicator"
               else models.level_label(t, t.levels[1], lang))
        hidden = any(isinstance(r[c], str) for c in ("or", "ame"))
        rows.append({"label": lab + (" †" if r["alla_lika"] else ""), "header": False,
                     "ref": bool(r["referens"]) and t.kind == "categorical", "hidden": hidden,
                     **{c: (np.nan if isinstance(r[c], str) or pd.isna(r[c]) else float(r[c]))
                        for c in ("or", "or_lag", "or_hog", "ame", "ame_lag", "ame_hog")}})
    return rows


def effects_figure(masked: pd.DataFrame, fit: models.ModelFit, lang: Lang = "sv",
                   n: object = None) -> Figure:
    """Forest plot of odds ratios (log scale) beside average marginal effects (percentage points).

    ``masked``: the suppressed coefficient table (only what it shows is drawn); ``n``: the model's
    rows as published (``..`` if hidden; None: no count in the title). Reference categories are
    drawn as hollow squares at OR 1 / AME 0; hidden estimates are shown as ".."; † marks categories
    with all outcomes equal; intervals beyond the axis end in an arrow head.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    shown_n = n
    rows = _plot_rows(masked, fit, lang)
    n = len(rows)
    fig = Figure(figsize=(10, 0.3 * n + 1.6))
    ax_or, ax_me = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1.15, 1]})
    ys = np.arange(n)[::-1]
    colour = _COLOURS[0]
    shown = [r for r in rows if not r["header"] and not r["ref"] and not r["hidden"]]
    finite = [v for r in shown for v in (r["or"], r["or_lag"], r["or_hog"]) if np.isfinite(v) and v > 0]
    lo, hi = (min(finite + [1.0]), max(finite + [1.0])) if finite else (0.5, 2.0)
    lo, hi = max(lo / 1.5, 1e-3), min(hi * 1.5, 1e4)
    missing_ci = False
    for y, r in zip(ys, rows, strict=True):
        if r["header"]:
            continue
        if r["ref"]:
            ax_or.plot([1.0], [y], "s", mfc="white", mec="0.3", ms=6)
            ax_me.plot([0.0], [y], "s", mfc="white", mec="0.3", ms=6)
            continue
        if r["hidden"] or not (np.isfinite(r["or"]) and np.isfinite(r["ame"])):
            ax_or.text(1.0, y, "..", ha="center", va="center", color="0.4")
            continue
        # an interval is drawn only when both bounds are known (NaN = not computable); +-inf and
        # bounds beyond the axis are clipped to it and end in an arrow head
        if np.isnan(r["or_lag"]) or np.isnan(r["or_hog"]):
            missing_ci = True
        else:
            ax_or.plot([min(max(r["or_lag"], lo), hi), max(min(r["or_hog"], hi), lo)], [y, y], "-",
                       color=colour, lw=1.6)
            if r["or_hog"] > hi:
                ax_or.plot([hi], [y], ">", color=colour, ms=5, clip_on=False)
            if r["or_lag"] < lo:
                ax_or.plot([lo], [y], "<", color=colour, ms=5, clip_on=False)
        ax_or.plot([min(max(r["or"], lo), hi)], [y], "o", color=colour, ms=5)
        if np.isfinite(r["ame_lag"]) and np.isfinite(r["ame_hog"]):
            ax_me.plot([100 * r["ame_lag"], 100 * r["ame_hog"]], [y, y], "-", color=colour, lw=1.6)
        else:
            missing_ci = True
        ax_me.plot([100 * r["ame"]], [y], "o", color=colour, ms=5)
    ax_or.set_xscale("log")
    ax_or.set_xlim(lo, hi)
    subs = (1.0, 2.0, 5.0) if hi / lo <= 300 else (1.0, 3.0) if hi / lo <= 1e4 else (1.0,)
    ax_or.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
    dec = "," if lang == "sv" else "."
    ax_or.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}".replace(".", dec)))
    ax_or.xaxis.set_minor_formatter(NullFormatter())
    ax_or.axvline(1.0, color="0.3", lw=0.8)
    ax_me.axvline(0.0, color="0.3", lw=0.8)
    ax_or.set_yticks(ys, [r["label"] for r in rows])
    for tick, r in zip(ax_or.get_yticklabels(), rows, strict=True):
        if r["header"]:
            tick.set_fontweight("bold")
    ax_or.set_ylim(-0.7, n - 0.3)
    ax_or.set_xlabel(models.text("or_axis", lang))
    ax_me.set_xlabel(models.text("ame_axis", lang))
    for ax in (ax_or, ax_me):
        ax.grid(axis="x", color="0.9", lw=0.6)
        ax.tick_params(axis="y", length=0)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.3, right=0.98, wspace=0.06, top=1 - 0.55 / height, bottom=0.55 / height)
    title = fit.prep.outcome.label(lang) + ("" if shown_n is None else f" (n = {shown_n})")
    fig.suptitle(title, fontsize=11, x=0.01, ha="left", y=1 - 0.1 / height)
    note = models.text(fit.method, lang).split(";")[0] + ". " + reference_note(fit, lang)
    if (masked["alla_lika"] != "").any():
        note += " " + models.text("separation_mark", lang)
    if missing_ci:
        note += " " + models.text("ki_saknas", lang)
    fig.text(0.01, 0.0, _wrap(note, 140), fontsize=7.5, color="0.3", va="top")
    return fig


def _wrap(s: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(s, width))


def probability_figure(tables: Mapping[str, pd.DataFrame], fits: Mapping[str, models.ModelFit],
                       term: str = "arendetyp", lang: Lang = "sv") -> Figure:
    """Standardised predicted probability (filled, with 95% CI) and observed share (hollow) for
    each category of ``term``, one colour per outcome. ``tables``: masked coefficient tables.

    Rows are category labels, so a category merged in one outcome's model (e.g. "Förälders
    problematik + Övrigt") gets a row of its own instead of being shown as the unmerged one.
    """
    from matplotlib.figure import Figure

    keys = [k for k in tables if k in fits and any(t.name == term for t in fits[k].terms)]
    rows: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for k in keys:
        tm = next(t for t in fits[k].terms if t.name == term)
        for r in tables[k][tables[k]["variabel"] == term].to_dict("records"):
            rows.setdefault(_label_of_row(tm, r["kod"], lang), []).append((k, r))
    labels = list(rows)
    fig = Figure(figsize=(8.5, 0.55 * len(labels) * max(1, len(keys)) ** 0.5 + 1.8))
    ax = fig.subplots()
    step = 0.8 / max(1, len(keys))
    labelled: set[str] = set()
    for j, lab in enumerate(labels):
        for k, r in rows[lab]:
            i = keys.index(k)
            colour = _COLOURS[i % len(_COLOURS)]
            y = len(labels) - 1 - j + 0.4 - step * (i + 0.5)
            vals = [r[c] for c in ("sannolikhet", "sannolikhet_lag", "sannolikhet_hog", "andel")]
            if any(isinstance(v, str) for v in vals):
                ax.text(1.0, y, "..", va="center", color=colour)
                continue
            p, lo, hi, obs = (100 * float(v) for v in vals)
            if np.isfinite(lo) and np.isfinite(hi):  # NaN bounds: point without interval
                ax.plot([min(lo, p), max(hi, p)], [y, y], "-", color=colour, lw=1.6)
            ax.plot([p], [y], "o", color=colour, ms=5,
                    label=models.OUTCOMES[k].label(lang) if k not in labelled else None)
            labelled.add(k)
            ax.plot([obs], [y], "o", mfc="white", mec=colour, ms=5)
    ax.set_yticks(np.arange(len(labels))[::-1], labels)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.set_xlim(0, 100)
    ax.set_xlabel(models.text("pred_axis", lang))
    ax.grid(axis="x", color="0.9", lw=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.plot([], [], "o", mfc="white", mec="0.3", label=models.text("observed", lang))
    ax.legend(loc="upper center", bbox_to_anchor=(0.4, -0.09), ncol=2, frameon=False, fontsize=8)
    ax.set_title(schema.label(term, lang), loc="left", fontsize=11)
    fig.subplots_adjust(left=0.3, right=0.97)
    return fig


def calibration_figure(cals: Sequence[models.Calibration], lang: Lang = "sv") -> Figure:
    """One panel per model: binned observed share (Wilson 95% CI) against mean cross-validated
    prediction, a lowess curve and the diagonal; calibration intercept, slope and AUC in the panel."""
    from matplotlib.figure import Figure

    n = max(1, len(cals))
    cols = min(2, n)
    rws = int(np.ceil(n / cols))
    fig = Figure(figsize=(4.6 * cols, 4.3 * rws))
    axes = np.atleast_1d(fig.subplots(rws, cols, squeeze=False)).ravel()
    dec = "," if lang == "sv" else "."
    for ax, c in zip(axes, cals, strict=False):
        b = c.bins[np.isfinite(c.bins[["forutsagd", "observerad", "lag", "hog"]]).all(axis=1)]
        ax.plot([0, 100], [0, 100], ":", color="0.5", lw=1, label=models.text("perfect", lang))
        obs = b["observerad"].to_numpy(dtype=float)
        err = np.clip([obs - b["lag"].to_numpy(dtype=float), b["hog"].to_numpy(dtype=float) - obs], 0.0, None)
        ax.errorbar(100 * b["forutsagd"], 100 * obs, yerr=100 * err,
                    fmt="o", color=_COLOURS[0], ms=4, lw=1, capsize=2, label=models.text("observed", lang))
        ax.plot(100 * c.smooth[:, 0], 100 * c.smooth[:, 1], "-", color=_COLOURS[1], lw=1.4,
                label=models.text("smoothed", lang))
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        ax.set_title(models.OUTCOMES[c.outcome].label(lang), fontsize=9, loc="left")
        ax.set_xlabel(models.text("predicted", lang) + ", %", fontsize=8)
        ax.set_ylabel(models.text("observed", lang) + ", %", fontsize=8)
        info = (f"{models.text('kalibrering_intercept', lang)}: {c.intercept[0]:.2f}\n"
                f"{models.text('kalibrering_lutning', lang)}: {c.slope[0]:.2f}\n"
                f"{models.text('auc_cv', lang)}: {c.auc_cv[0]:.2f}").replace(".", dec)
        ax.text(0.98, 0.03, info, transform=ax.transAxes, ha="right", va="bottom", fontsize=7.5)
        ax.tick_params(labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    for ax in axes[len(cals):]:
        ax.set_visible(False)
    axes[0].legend(loc="upper left", fontsize=7.5, frameon=False)
    fig.subplots_adjust(wspace=0.28, hspace=0.38)
    return fig
