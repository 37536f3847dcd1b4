"""The models notebook's counts on the unit's ledger, attacked as a reader with 02's and 03's tables.

Each channel is first published naively (03's counts as computed) and the audit must find the
disclosure; then 03 is published through the ledger and the audit must find none. 02's tables are
the funnel, its breakdown and the skipped stages of the same rows, protected by the funnel's ledger
as 02_funnel protects them (the other 02 tables are left out to keep the attacker's model small).
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pandas as pd
import pytest

from genomlysning import disclose, funnel, ledger, models, models_ledger, models_report, synth
from genomlysning.ledger import Cell

K = 5
AR = 2025
SLUT = "2025-12-31"


@cache
def _base() -> pd.DataFrame:
    spec = synth.KommunSpec("liten", "Liten", 700, ar=(AR,), period_slut=SLUT)
    raw, _ = synth.generate_kommun(spec, 7)
    return synth.clean_view(raw, "liten", period_slut=SLUT)


def _rows(okant: int = 0, kon_saknas: int = 0, hoppat: int = 0) -> pd.DataFrame:
    """The small municipality with ``okant`` rows of unknown sex among decided ones (pooled into
    the reference), ``kon_saknas`` rows without sex, ``hoppat`` rows offered an insats after a
    förhandsbedömning that opened no utredning (a skipped stage)."""
    df = _base().copy()
    fb = df["fb_beslutad"].to_numpy(dtype=bool)
    decided = np.flatnonzero(fb & (df["kon"].astype(object) == "pojke").to_numpy())
    kon = df["kon"].astype(object).to_numpy(copy=True)
    kon[kon == "okant"] = "pojke"
    kon[decided[:okant]] = "okant"
    kon[decided[okant:okant + kon_saknas]] = None
    df["kon"] = pd.Series(kon, index=df.index).astype(df["kon"].dtype)
    if hoppat:
        no_utr = ~df["utredning_inledd"].to_numpy(dtype=bool)
        only_fb = np.flatnonzero(fb & no_utr & (df["kon"].astype(object) == "flicka").to_numpy())
        pick = only_fb[:hoppat]
        df.loc[df.index[pick], "insats_erbjuden"] = True
        df.loc[df.index[pick], "insats_svar"] = "nej"
    return df


def _published_02(df: pd.DataFrame) -> tuple[list[dict], dict[str, pd.DataFrame]]:
    """What 02_funnel leaves in reports/ for these rows, reduced to the tables the channels run
    through (the funnel, its breakdown by category, the skipped stages), protected by the funnel's
    own ledger: its definitions and masked tables."""
    from genomlysning import funnel_ledger, funnel_report
    from genomlysning.ledger import Ledger

    y = funnel.in_year(df, AR)
    led = Ledger(K, scope=funnel_ledger.scope(AR))
    funnel_ledger.declare(led, y, pd.Timestamp(SLUT))
    funnel_ledger._register_funnel(led, funnel.funnel(y))
    breakdown = funnel.breakdown(y, "aktualiseringar")
    funnel_ledger._register_breakdown(led, "fordelning_aktualiseringar", breakdown)
    hop = funnel.skipped_stages(y)
    led.add("hoppade_steg", hop, {"n": [Cell.of("akt", **{f"hoppat:{s}": "ja"}) for s in hop["steg"]]})
    led.protect()
    keys = ("tratt", "fordelning_aktualiseringar", "hoppade_steg")
    names = {key: funnel_report.EXPORTS[key][0] for key in keys}
    defs = json.loads(led.definitions_json(names))
    return [defs], {names[t.name]: led.masked(t.name) for t in led.tables}


def _publish(df: pd.DataFrame, outcomes: tuple[str, ...] = ("utredning",)
             ) -> tuple[models_report.Publication, list[dict], dict[str, pd.DataFrame]]:
    earlier = _published_02(df)
    run = models.run_models(df, ar=AR, k=K, seed=1, outcomes=outcomes)
    pub = models_report.publish(run, df, "liten", period_slut=SLUT, earlier=earlier)
    return pub, *earlier


def _audit(defs02: list[dict], pub02: dict[str, pd.DataFrame], pub: models_report.Publication,
           tables: dict[str, pd.DataFrame] | None = None) -> list[ledger.AuditRow]:
    """The audit of 02 + 03 (03's tables as published by ``pub``, or replaced by ``tables``)."""
    defs03 = json.loads(pub.ledger.definitions_json())
    shown = {t["name"]: pub.tables[t["name"]] for t in defs03["tables"]}
    shown.update(tables or {})
    return ledger.audit_ranges(ledger.merge([*defs02, defs03]), {**pub02, **shown})


def _naive(pub: models_report.Publication, name: str) -> pd.DataFrame:
    """03's table ``name`` as computed, without the ledger's suppression."""
    return next(t for t in pub.ledger.tables if t.name == name).frame


def _disclosed(rows: list[ledger.AuditRow]) -> list[ledger.AuditRow]:
    return [r for r in rows if r.disclosed]


# ---------------------------------------------------------------------------------------------
# Definitions
# ---------------------------------------------------------------------------------------------

def test_flag_populations_are_unions_of_funnel_cells() -> None:
    """Every outcome's population, events and non-events as :func:`flag_cell` defines them count
    exactly the rows the models select, also with skipped stages."""
    df = _rows(hoppat=3)
    y = funnel.in_year(df, AR)
    ctx = models_ledger.context(K, y, pd.Timestamp(SLUT), AR, ([], {}))
    for key, out in models.OUTCOMES.items():
        rows = models.population(df, out, AR)
        flag = rows[out.column].astype(bool).to_numpy()
        assert ctx.led.value(models_ledger.population_cell(out)) == len(rows), key
        assert ctx.led.value(models_ledger.population_cell(out, True)) == int(flag.sum()), key
        assert ctx.led.value(models_ledger.population_cell(out, False)) == int((~flag).sum()), key
    # offered after a förhandsbedömning without utredning: a part of its own, not "reached the stage"
    offered = models_ledger.population_cell(models.OUTCOMES["accepterad"])
    assert offered.more
    assert any(dict(p.where).get("hoppat:insats_erbjuden") == {"ja"} for p in offered.parts())
    assert models_ledger.flag_cell(lambda f: False) is models_ledger.NOTHING


def test_children_of_a_model_are_the_funnels_children_or_a_dimension_with_its_rule() -> None:
    df = _rows(hoppat=3)
    y = funnel.in_year(df, AR)
    ctx = models_ledger.context(K, y, pd.Timestamp(SLUT), AR, ([], {}))
    mc = models_ledger.model_cells(ctx, models.OUTCOMES["utredning"], models.DEFAULT_FORMULA)
    # rows with a decided förhandsbedömning: the children the funnel counts at that stage
    from genomlysning.funnel_ledger import barn_at_least

    decided = Cell.of("barn", steg=barn_at_least("fb_beslutad"))
    assert models_ledger.children_cell(ctx, mc.rows, "utredning") == decided
    # decided and not open at the end of the period: no funnel stage; such a child reached fb_beslutad
    mc = models_ledger.model_cells(ctx, models.OUTCOMES["insats"], models.DEFAULT_FORMULA)
    child = models_ledger.children_cell(ctx, mc.rows, "insats")
    dim = ctx.led.dims["barn"]["modell:insats"]
    assert child == Cell.of("barn", **{"modell:insats": "ja"})
    assert dim.parent == "steg" and dim.allowed is not None
    assert dim.allowed["ja"] == frozenset(barn_at_least("fb_beslutad"))
    prep = models.prepare(df, "insats", ar=AR)
    assert ctx.led.value(child) == len(np.unique(prep.groups))
    assert models_ledger.children_cell(ctx, mc.rows, "insats") == child  # declared once


# ---------------------------------------------------------------------------------------------
# Channels
# ---------------------------------------------------------------------------------------------

def test_a_pooled_group_beside_the_reference_does_not_reveal_the_hidden_category() -> None:
    """Unknown sex (3 decided rows) is pooled into the reference "Pojke + Okänt"; 02 shows Pojke
    and hides Okänt. Printed as computed, the pooled group's n minus 02's Pojke gives the 3."""
    pub, defs02, pub02 = _publish(_rows(okant=3))
    table = pub.tables["03_modell_utredning"]
    assert (table["kategori"] == "Pojke + Okänt").any()
    name = "03_modell_utredning"
    naive = _disclosed(_audit(defs02, pub02, pub, {name: _naive(pub, name)}))
    okant = [r for r in naive if "kon=okant" in r.cell and "steg=" in r.cell]
    assert okant and all(r.lo == r.hi for r in okant)
    rows = _audit(defs02, pub02, pub)
    assert rows and not _disclosed(rows)
    # every estimate of a row whose events or non-events are hidden is hidden with them
    for col in models_ledger.DERIVED_COLUMNS:
        hidden = table["n_med"].map(disclose.is_suppressed) | table["n_utan"].map(disclose.is_suppressed)
        shown = table.loc[hidden, col]
        assert all(disclose.is_suppressed(v) or v in ("", None) or pd.isna(v) for v in shown), col


def test_rows_in_the_population_and_in_the_model_do_not_reveal_the_missing() -> None:
    """Two decided rows without sex: "Rader i populationen" minus "Rader i modellen" is 2."""
    pub, defs02, pub02 = _publish(_rows(kon_saknas=2))
    name = models_report.BORTFALL
    naive = _naive(pub, name)
    pop = naive.loc[naive["variabel"] == models.text("i_population"), "n"].iloc[0]
    model = naive.loc[naive["variabel"] == models.text("i_modell"), "n"].iloc[0]
    assert pop - model == 2
    # the naive tables of 03: bortfall and overview (the model's rows) as computed
    tables = {name: naive, models_report.OVERSIKT: _naive(pub, models_report.OVERSIKT)}
    assert _disclosed(_audit(defs02, pub02, pub, tables))
    shown = pub.tables[name]
    assert disclose.SUPPRESSED in shown["n"].tolist()
    assert not _disclosed(_audit(defs02, pub02, pub))


def test_an_offer_after_a_skipped_stage_is_not_read_off_against_02() -> None:
    """Three rows were offered an insats without an utredning: 02 hides them (skipped stages) and
    counts only nested stages; the accepterad model counts every offered row. Flicka's rows in
    that model minus 02's Flicka offered (nested) is the hidden 3."""
    pub, defs02, pub02 = _publish(_rows(hoppat=3), outcomes=("accepterad",))
    hop = pub02["02_hoppade_steg"].set_index("steg")["n"]
    assert disclose.is_suppressed(hop["insats_erbjuden"])
    names = [t.name for t in pub.ledger.tables if not t.prior]
    naive = {n: _naive(pub, n) for n in names}
    assert _disclosed(_audit(defs02, pub02, pub, naive))
    rows = _audit(defs02, pub02, pub)
    assert rows and not _disclosed(rows)


def test_the_effects_figure_draws_only_what_the_table_shows() -> None:
    pub, _, _ = _publish(_rows(okant=3))
    fit = pub.run.fits["utredning"]
    shown = pub.coefficients["arendetyp"]["utredning"]
    fig = models_report.effects_figure(shown, fit, "sv", n=pub.overview_value("utredning", "n"))
    ax_or = fig.axes[0]
    points = [ln for ln in ax_or.lines if ln.get_marker() == "o"]
    visible = [r for r in shown.to_dict("records")
               if not r["referens"] and not isinstance(r["or"], str) and np.isfinite(r["or"])]
    assert len(points) == len(visible)
    hidden = [r for r in shown.to_dict("records") if isinstance(r["or"], str) and not r["referens"]]
    assert len([t for t in ax_or.texts if t.get_text() == ".."]) == len(hidden)
    assert f"(n = {pub.overview_value('utredning', 'n')})" in fig._suptitle.get_text()


def test_a_wrong_definition_fails_loudly() -> None:
    df = _rows()
    y = funnel.in_year(df, AR)
    ctx = models_ledger.context(K, y, pd.Timestamp(SLUT), AR, ([], {}))
    run = models.run_models(df, ar=AR, k=K, seed=1, outcomes=("utredning",))
    fit = run.fits["utredning"]
    frame = models_report.publication_table(run.tables["utredning"], fit)
    frame.loc[0, "n_med"] += 1
    with pytest.raises(ledger.LedgerError, match="n_med"):
        models_ledger.register_coefficients(ctx, "03_modell_utredning", frame, fit, run.tables["utredning"])


def test_an_unrecorded_outcome_leaves_the_model_and_is_its_missing_row() -> None:
    """Offers left blank after a closed utredning ("uppgift saknas", the funnel's bortfall at
    insats_erbjuden): the insats model neither counts them as "no" nor loses them silently - its
    missing table names them, every count is defined on the ledger (publish checks each definition
    against the data) and the audit of 02 + 03 finds nothing."""
    df = _rows()
    closed = (df["utredning_avslutad"].astype("boolean").fillna(False).to_numpy(dtype=bool)
              & ~df["insats_erbjuden"].astype("boolean").fillna(True).to_numpy(dtype=bool)
              & (df["fb_beslut"].astype(object) != "pagaende").to_numpy(dtype=bool))
    pick = df.index[np.flatnonzero(closed)[:6]]
    for col in ("insats_erbjuden", "insats_accepterad", "insats_startad"):
        df[col] = df[col].astype("boolean")
        df.loc[pick, col] = pd.NA
    prep = models.prepare(df, "insats", ar=AR, k=K)
    unknown = int(prep.missing.set_index("kolumn").loc["insats_erbjuden", "saknas"])
    assert unknown >= 6
    rows = prep.missing.set_index("variabel")["saknas"]
    in_model = int(rows.loc[models.text("i_modell", "sv")])
    assert in_model == len(prep.y) and not pd.isna(prep.y).any()
    pub, defs02, pub02 = _publish(df, outcomes=("insats",))
    assert not _disclosed(_audit(defs02, pub02, pub))
