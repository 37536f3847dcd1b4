"""Publishing the funnel notebook: protect its tables through the disclosure ledger, then
write them (``reports/<kommun>/tables/02_*``, the ledger's definitions for the audit) and the
headline figures and prose built from the protected tables only.

:mod:`genomlysning.funnel` computes (unsuppressed tables, no files); :mod:`genomlysning.funnel_ledger`
says what every count means; this module is where a published funnel number is checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genomlysning import disclose, funnel, funnel_ledger, paths, report, schema
from genomlysning.ledger import Ledger


@dataclass
class FunnelReport:
    """Every table of 02_funnel, raw (unsuppressed, for tests) and masked (for display/export),
    and the disclosure ledger that protected them together."""

    raw: dict[str, pd.DataFrame]
    masked: dict[str, pd.DataFrame]
    durations: dict[str, funnel.Durations]
    k: int
    ledger: Ledger | None = None


def analyse(df: pd.DataFrame, ar: int | None, k: int, period_slut: str | pd.Timestamp, *,
            cache: Path | None = None) -> FunnelReport:
    """Compute every table of the funnel notebook for the year ``ar`` and protect them together
    through the disclosure ledger (:mod:`genomlysning.funnel_ledger`); ``cache`` is a local folder
    for the ledger's solution (see :meth:`genomlysning.ledger.Ledger.protect`)."""
    y = funnel.in_year(df, ar)
    raw, dur = funnel.tables(y, period_slut)
    led = funnel_ledger.build(raw, y, k, pd.Timestamp(period_slut), ar)
    led.protect(cache)
    masked = {name: led.masked(name) for name in raw}
    for name in ("tid_fb", "tid_utredning"):  # derivable from the other three counts
        masked[name] = masked[name].drop(columns=["n_censurerade"])
    return FunnelReport(raw=raw, masked=masked, durations=dur, k=k, ledger=led)


def _value(table: pd.DataFrame, col: str, **where: str) -> object:
    m = np.ones(len(table), dtype=bool)
    for key, val in where.items():
        m &= (table[key] == val).to_numpy()
    if m.sum() != 1:
        return None
    v = table.loc[m, col].iloc[0]
    if disclose.is_suppressed(v):
        return disclose.SUPPRESSED
    return None if pd.isna(v) else v


def headline(rep: FunnelReport) -> dict[str, object]:
    """Headline figures for results.json (from the suppressed tables: hidden values are "..")."""
    t = rep.masked["tratt"]
    out: dict[str, object] = {"k": rep.k}
    for unit in funnel.UNITS:
        out[f"{unit}_n"] = _value(t, "n", enhet=unit, steg="aktualisering")
        for stage in funnel.STAGES[1:]:
            out[f"{unit}_{stage}_n"] = _value(t, "n", enhet=unit, steg=stage)
            out[f"{unit}_{stage}_andel_forsta"] = _value(t, "andel_forsta", enhet=unit, steg=stage)
            out[f"{unit}_{stage}_andel_foregaende"] = _value(t, "andel_foregaende", enhet=unit, steg=stage)
            if stage in funnel.UNKNOWABLE:
                out[f"{unit}_{stage}_n_okand"] = _value(t, "n_okand", enhet=unit, steg=stage)
    # "avslutad av inledd" and what follows, on the municipality's own utredningar
    for stage in funnel.STAGES[funnel.STAGES.index("utredning_avslutad"):]:
        out[f"aktualiseringar_{stage}_andel_foregaende_egna"] = _value(t, "andel_foregaende_egna",
                                                                       enhet="aktualiseringar", steg=stage)
    per = rep.masked["barn_antal_aktualiseringar"]
    flera = rep.raw["barn_antal_aktualiseringar"]
    hidden_more = per["n"].iloc[1:].map(disclose.is_suppressed).any()
    out["barn_andel_flera_aktualiseringar"] = (
        disclose.SUPPRESSED if hidden_more else float(flera["n"].iloc[1:].sum() / flera["n"].sum())
        if flera["n"].sum() else None)
    for key, table, utfall in (("barnsamtal", "barnsamtal", "barnsamtal"),
                               ("fb_inom_14_dagar", "tidsfrister", "fb_inom_frist"),
                               ("utredning_inom_4_manader", "tidsfrister", "utredning_inom_frist"),
                               ("insats_tackat_nej", "avbojda", "tackat_nej")):
        m = rep.masked[table]
        out[f"{key}_andel"] = _value(m, "andel", variabel=funnel.TOTAL, utfall=utfall)
        out[f"{key}_n_bas"] = _value(m, "n_bas", variabel=funnel.TOTAL, utfall=utfall)
        if "n_censurerade" in m.columns:
            out[f"{key}_n_censurerade"] = _value(m, "n_censurerade", variabel=funnel.TOTAL, utfall=utfall)
    for c in funnel.KONTAKTER:
        out[f"{c}_andel"] = _value(rep.masked["samverkan"], "andel", variabel=funnel.TOTAL, utfall=c)
    return out


#: Exported tables: name in ``FunnelReport.masked`` -> (file name, title key, unit key, note keys).
EXPORTS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "tratt": ("02_tratt", "titel_tratt", "enhet_bada", ("not_kapslad",)),
    "utfall": ("02_utfall", "titel_utfall", "enhet_bada", ("not_utfall", "not_kapslad")),
    "fordelning_aktualiseringar": ("02_fordelning_aktualiseringar", "titel_fordelning", "aktualiseringar",
                                   ("not_fordelning", "not_kapslad")),
    "fordelning_barn": ("02_fordelning_barn", "titel_fordelning", "barn", ("not_fordelning", "not_kapslad")),
    "barn_antal_aktualiseringar": ("02_barn_antal_aktualiseringar", "titel_barn_antal", "barn",
                                   ("not_barn_antal",)),
    "barnsamtal": ("02_barnsamtal", "titel_barnsamtal", "enhet_utredningar", ("not_andel_kand",)),
    "samverkan": ("02_samverkan", "titel_samverkan", "enhet_utredningar", ("not_andel_kand",)),
    "tidsfrister": ("02_tidsfrister", "titel_tidsfrister", "enhet_tidsfrister", ("not_censur",)),
    "tid_fb": ("02_tid_forhandsbedomning", "titel_tid_fb", "aktualiseringar", ("not_km",)),
    "tid_utredning": ("02_tid_utredning", "titel_tid_utredning", "enhet_egna_utredningar", ("not_km",)),
    "avbojda": ("02_avbojda_insatser", "titel_avbojda", "enhet_erbjudna", ("not_andel_kand",)),
    "insatser": ("02_insatstyper", "titel_insatser", "enhet_erbjudna", ("not_insatser",)),
    "hoppade_steg": ("02_hoppade_steg", "titel_hoppade_steg", "aktualiseringar", ("not_hoppade",)),
}


def save_tables(rep: FunnelReport, kommun: str, ar: int, *, namn: str | None = None,
                lang: schema.Lang = "sv") -> list[str]:
    """Write every masked table to reports/<kommun>/tables/ (CSV + metadata); return the file
    names (relative to the project root)."""
    written = []
    if rep.ledger is not None:
        names = {key: spec[0] for key, spec in EXPORTS.items()}
        path = report.save_ledger(rep.ledger.definitions_json(names), kommun, "02")
        written.append(paths.relative(path))
    source = schema.text("kalla_data", lang, namn=namn or kommun, ar=ar)
    for key, (name, title, unit, notes) in EXPORTS.items():
        path = report.save_table(rep.masked[key], kommun, name, title=schema.text(title, lang, ar=ar),
                                 unit=schema.text(unit, lang), source=source,
                                 note=" ".join(schema.text(n, lang) for n in notes), lang=lang, k=rep.k)
        written.append(paths.relative(path))
    return written


def compact_breakdown(table: pd.DataFrame, stages: Sequence[str] = ("utredning_inledd", "insats_erbjuden",
                                                                    "insats_startad")) -> pd.DataFrame:
    """The columns of a (masked) breakdown a reader needs first: category, size and the shares of
    ``stages`` with their intervals."""
    cols = ["variabel", "kategori", "n_aktualisering"]
    for s in stages:
        cols += [f"andel_{s}", f"andel_{s}_lo", f"andel_{s}_hi"]
    return table[cols]


def summary(rep: FunnelReport, ar: int, lang: schema.Lang = "sv") -> str:
    """Two paragraphs of headline results for the report's "Resultat" section, built from the
    suppressed tables (a hidden figure reads ".."); shares with their 95 % interval."""
    t = rep.masked["tratt"]

    def share(table: pd.DataFrame, col: str, **where: str) -> str:
        v = _value(table, col, **where)
        if v is None or disclose.is_suppressed(v):
            return disclose.SUPPRESSED
        lo, hi = _value(table, f"{col}_lo", **where), _value(table, f"{col}_hi", **where)
        def pct(x: object) -> str:
            return report.format_number(x, lang, share=True, decimals=0)

        return report.format_interval(pct(v), pct(lo), pct(hi), lang)

    def count(unit: str) -> str:
        v = _value(t, "n", enhet=unit, steg=funnel.STAGES[0])
        hidden = v is None or disclose.is_suppressed(v)
        return disclose.SUPPRESSED if hidden else report.format_number(v, lang)

    first = schema.text(
        "sammanfattning_tratt", lang, ar=ar, n_akt=count("aktualiseringar"), n_barn=count("barn"),
        utr=share(t, "andel_forsta", enhet="aktualiseringar", steg="utredning_inledd"),
        erbj=share(t, "andel_forsta", enhet="aktualiseringar", steg="insats_erbjuden"),
        start=share(t, "andel_forsta", enhet="aktualiseringar", steg="insats_startad"),
        utr_barn=share(t, "andel_forsta", enhet="barn", steg="utredning_inledd"),
        start_barn=share(t, "andel_forsta", enhet="barn", steg="insats_startad"))
    m = rep.masked
    second = schema.text(
        "sammanfattning_barn", lang,
        barnsamtal=share(m["barnsamtal"], "andel", variabel=funnel.TOTAL, utfall="barnsamtal"),
        fb_frist=share(m["tidsfrister"], "andel", variabel=funnel.TOTAL, utfall="fb_inom_frist"),
        utr_frist=share(m["tidsfrister"], "andel", variabel=funnel.TOTAL, utfall="utredning_inom_frist"),
        nej=share(m["avbojda"], "andel", variabel=funnel.TOTAL, utfall="tackat_nej"))
    return f"{first}\n\n{second}"
