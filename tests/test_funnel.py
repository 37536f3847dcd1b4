"""Tests of the funnel analysis (genomlysning.funnel) on a hand-built clean table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from genomlysning import disclose, funnel, funnel_report, schema
from genomlysning.funnel import STAGES

REASONS = {r.code: r.column for r in schema.ORSAKER}


def make_clean(records: list[dict[str, object]]) -> pd.DataFrame:
    """A clean table (schema columns and dtypes) from partial records; reasons default to False,
    stage flags to False, everything else to missing."""
    base = schema.empty_clean_frame()
    rows = []
    for i, rec in enumerate(records):
        row: dict[str, object] = {c: False for c in schema.REASON_COLUMNS}
        for flag in ("fb_beslutad", "utredning_inledd", "utredning_avslutad", "insats_erbjuden",
                     "insats_accepterad", "insats_startad", "fb_oppen_vid_periodslut",
                     "utredning_oppen_vid_periodslut", "ateraktualisering", "tidigare_i_data"):
            row[flag] = False
        row["rad_id"] = str(i + 1)
        for key, value in rec.items():
            if key == "orsaker":
                for code in value:  # type: ignore[union-attr]
                    row[REASONS[code]] = True
            else:
                row[key] = value
        row.setdefault("ar", pd.Timestamp(str(row["aktualiseringsdatum"])).year)
        rows.append(row)
    frame = pd.DataFrame.from_records(rows)
    for c in base.columns:
        if c not in frame.columns:
            frame[c] = pd.NA
    frame = frame[list(base.columns)]
    for c in schema.DATE_COLUMNS:
        frame[c] = pd.to_datetime(frame[c])
    return frame.astype({c: schema.pandas_dtype(c) for c in base.columns})


def _flow(fb: str | None = None, closed: bool = False, offered: bool = False, svar: str | None = None,
          started: bool = False) -> dict[str, object]:
    opened = fb in ("inleda", "pagaende")
    return {"fb_beslut": fb, "fb_beslutad": fb is not None, "utredning_inledd": opened,
            "utredning_avslutad": closed, "insats_erbjuden": offered, "insats_svar": svar,
            "insats_accepterad": svar == "ja", "insats_startad": started}


def fixture() -> pd.DataFrame:
    """Eight aktualiseringar of six children in 2025 (and one 2024 row, outside the year).

    row child  type     reasons                    anmälare  flow
    r1  B1     vald     vald_mot_barnet+bevittnat  polisen   inleda, closed, offered, ja, started
    r2  B1     foralder omsorgssvikt               skola     inte_inleda
    r3  B2     barnet   normbrytande               skola     inleda, closed, offered, nej
    r4  B3     vald     bevittnat_vald             polisen   inleda (still open, overdue at period end)
    r5  B3     foralder missbruk_vardnadshavare    forskola  pagaende (added to B3's utredning)
    r6  B4     ovrigt   -                          foralder  no decision yet (censored)
    r7  B5     foralder relationsproblem           skola     inleda, closed, no insats
    r9  B6     ovrigt   -                          ovrigt    no decision, but insats_erbjuden set (skipped)
    r8  B4     (2024)                                        inleda, closed, offered, ja, started
    """
    recs = [
        dict(barn_id="B1", aktualiseringsdatum="2025-01-10", arendetyp="vald", anmalare="polisen",
             aldersgrupp="6-12", kon="flicka", aktualiseringstyp="anmalan",
             orsaker=["vald_mot_barnet", "bevittnat_vald"], fb_inom_frist=True, barnsamtal=True,
             utredning_utfall="insats", insats_typ="familjebehandling", insats_heldygn=False,
             dagar_till_fb=5, utredning_dagar=100, utredning_inom_frist=True,
             utredning_start="2025-01-15", **_flow("inleda", True, True, "ja", True)),
        dict(barn_id="B1", aktualiseringsdatum="2025-03-01", arendetyp="foralder", anmalare="skola",
             aldersgrupp="6-12", kon="flicka", aktualiseringstyp="anmalan", orsaker=["omsorgssvikt"],
             fb_inom_frist=True, dagar_till_fb=10, ateraktualisering=True, **_flow("inte_inleda")),
        dict(barn_id="B2", aktualiseringsdatum="2025-02-01", arendetyp="barnet", anmalare="skola",
             aldersgrupp="13-17", kon="pojke", aktualiseringstyp="anmalan", orsaker=["normbrytande"],
             fb_inom_frist=False, dagar_till_fb=20, barnsamtal=False, utredning_utfall="avbojd",
             insats_typ="hvb", insats_heldygn=True, utredning_dagar=150, utredning_inom_frist=False,
             utredning_start="2025-02-21", **_flow("inleda", True, True, "nej")),
        dict(barn_id="B3", aktualiseringsdatum="2025-06-01", arendetyp="vald", anmalare="polisen",
             aldersgrupp="0-5", kon="pojke", aktualiseringstyp="anmalan", orsaker=["bevittnat_vald"],
             fb_inom_frist=True, dagar_till_fb=3, utredning_start="2025-06-04", utredning_inom_frist=False,
             utredning_oppen_vid_periodslut=True, **_flow("inleda")),
        dict(barn_id="B3", aktualiseringsdatum="2025-08-01", arendetyp="foralder", anmalare="forskola",
             aldersgrupp="0-5", kon="pojke", aktualiseringstyp="anmalan",
             orsaker=["missbruk_vardnadshavare"], fb_inom_frist=True, dagar_till_fb=7,
             ateraktualisering=True, **_flow("pagaende")),
        dict(barn_id="B4", aktualiseringsdatum="2025-12-25", arendetyp="ovrigt", anmalare="foralder",
             aldersgrupp="13-17", kon="flicka", aktualiseringstyp="ansokan", fb_oppen_vid_periodslut=True,
             **_flow()),
        dict(barn_id="B5", aktualiseringsdatum="2025-04-01", arendetyp="foralder", anmalare="skola",
             aldersgrupp="6-12", kon="pojke", aktualiseringstyp="anmalan", orsaker=["relationsproblem"],
             fb_inom_frist=False, dagar_till_fb=16, utredning_utfall="inget_behov", utredning_dagar=60,
             utredning_inom_frist=True, utredning_start="2025-04-20", **_flow("inleda", True)),
        dict(barn_id="B4", aktualiseringsdatum="2024-05-01", arendetyp="vald", anmalare="polisen",
             aldersgrupp="13-17", kon="flicka", aktualiseringstyp="anmalan", orsaker=["vald_mot_barnet"],
             fb_inom_frist=True, **_flow("inleda", True, True, "ja", True)),
        dict(barn_id="B6", aktualiseringsdatum="2025-05-01", arendetyp="ovrigt", anmalare="ovrigt",
             aldersgrupp="18-20", kon="okant", aktualiseringstyp="information", fb_inom_frist=False,
             fb_oppen_vid_periodslut=True, **{**_flow(), "insats_erbjuden": True}),
    ]
    return make_clean(recs)


@pytest.fixture(scope="module")
def year() -> pd.DataFrame:
    return funnel.in_year(fixture(), 2025)


def test_wilson_known_values() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857-872, table I, method 3 (score, no correction)
    lo, hi = funnel.wilson([81, 15, 0, 1], [263, 148, 20, 29])
    np.testing.assert_allclose(lo, [0.2553, 0.0624, 0.0, 0.0061], atol=5e-5)
    np.testing.assert_allclose(hi, [0.3662, 0.1605, 0.1611, 0.1718], atol=5e-5)
    lo, hi = funnel.wilson(29, 29)
    assert float(hi) == 1.0 and float(lo) == pytest.approx(0.8830, abs=5e-5)
    lo, hi = funnel.wilson([0], [0])
    assert np.isnan(lo[0]) and np.isnan(hi[0])


def test_wilson_closed_form_and_level() -> None:
    # closed form: (x + z^2/2)/(n + z^2) +- z sqrt(n) / (n + z^2) * sqrt(p q + z^2 / (4 n))
    x, n, z = 7, 20, 1.6448536269514722
    p = x / n
    centre = (x + z**2 / 2) / (n + z**2)
    half = z * np.sqrt(n) / (n + z**2) * np.sqrt(p * (1 - p) + z**2 / (4 * n))
    lo, hi = funnel.wilson(x, n, level=0.90)
    assert float(lo) == pytest.approx(centre - half) and float(hi) == pytest.approx(centre + half)


def test_year_filter(year: pd.DataFrame) -> None:
    assert len(year) == 8 and set(year["ar"]) == {2025}
    assert len(funnel.in_year(fixture(), None)) == 9


def test_funnel_by_hand(year: pd.DataFrame) -> None:
    t = funnel.funnel(year)
    akt = t[t["enhet"] == "aktualiseringar"].set_index("steg")
    barn = t[t["enhet"] == "barn"].set_index("steg")
    assert akt["n"].tolist() == [8, 6, 5, 3, 2, 1, 1]  # r9's insats flag is skipped (no earlier stages)
    assert barn["n"].tolist() == [6, 4, 4, 3, 2, 1, 1]  # B4's 2024 insats is outside the year
    assert akt.loc["utredning_inledd", "andel_foregaende"] == pytest.approx(5 / 6)
    assert akt.loc["utredning_avslutad", "andel_forsta"] == pytest.approx(3 / 8)
    assert barn.loc["fb_beslutad", "andel_foregaende"] == pytest.approx(4 / 6)
    assert np.isnan(akt.loc["aktualisering", "andel_foregaende"])
    lo, hi = funnel.wilson(2, 3)
    assert (akt.loc["insats_erbjuden", "andel_foregaende_lo"], akt.loc["insats_erbjuden",
            "andel_foregaende_hi"]) == (pytest.approx(float(lo)), pytest.approx(float(hi)))
    skipped = funnel.skipped_stages(year).set_index("steg")["n"]
    assert skipped["insats_erbjuden"] == 1 and skipped.drop("insats_erbjuden").sum() == 0


def test_breakdown_by_hand(year: pd.DataFrame) -> None:
    akt = funnel.breakdown(year, "aktualiseringar", ["anmalare", "anmalningsorsak", "ateraktualisering"])
    polis = akt[(akt["variabel"] == "anmalare") & (akt["kategori"] == "polisen")].iloc[0]
    assert [polis[f"n_{s}"] for s in STAGES] == [2, 2, 2, 1, 1, 1, 1]
    assert polis["andel_utredning_avslutad"] == pytest.approx(0.5)
    # every code of the code list is present (zeros included)
    assert set(akt.loc[akt["variabel"] == "anmalare", "kategori"]) == set(schema.code_labels("anmalare"))
    reasons = akt[akt["variabel"] == "anmalningsorsak"].set_index("kategori")["n_aktualisering"]
    assert reasons["bevittnat_vald"] == 2 and reasons["vald_mot_barnet"] == 1  # r1 counted under both
    assert reasons["saknas"] == 2  # r6, r9: no reason
    assert reasons.sum() == 8 + 1
    ater = akt[akt["variabel"] == "ateraktualisering"].set_index("kategori")["n_aktualisering"]
    assert ater.to_dict() == {"ja": 2, "nej": 6}

    barn = funnel.breakdown(year, "barn", ["anmalare"]).set_index("kategori")
    # B1 reached utredning through r1 (polisen), not through r2 (skola): under skola only B2 counts
    assert barn.loc["skola", "n_aktualisering"] == 3  # B1, B2, B5
    assert barn.loc["skola", "n_utredning_inledd"] == 2  # B2, B5
    assert barn.loc["polisen", "n_utredning_inledd"] == 2  # B1, B3


def test_omrade_only_when_present(year: pd.DataFrame) -> None:
    assert "omrade" not in funnel.breakdown_variables(year)
    with_area = year.assign(omrade=pd.array(["A", "B"] * 4, dtype="string"))
    assert "omrade" in funnel.breakdown_variables(with_area)
    t = funnel.breakdown(with_area, "aktualiseringar", ["omrade"])
    assert t["kategori"].tolist() == ["A", "B"] and t["n_aktualisering"].tolist() == [4, 4]


def test_outcomes_by_hand(year: pd.DataFrame) -> None:
    t = funnel.utredning_outcomes(year)
    akt = t[t["enhet"] == "aktualiseringar"].set_index("utredning_utfall")
    assert akt["n_totalt"].unique().tolist() == [3]
    assert akt.loc[["insats", "avbojd", "inget_behov"], "n"].tolist() == [1, 1, 1]
    assert akt["n"].sum() == 3 and akt.loc["insats", "andel"] == pytest.approx(1 / 3)


def test_child_voice_timeliness_declines_by_hand(year: pd.DataFrame) -> None:
    voice = funnel.child_voice(year).set_index(["variabel", "kategori"])
    total = voice.loc[("totalt", "totalt")]
    assert (total["n_grupp"], total["n_ja"], total["n_nej"], total["n_saknas"]) == (3, 1, 1, 1)
    assert total["andel"] == pytest.approx(0.5)  # the unknown (r7) is outside the base

    tl = funnel.timeliness(year, "2025-12-31").set_index(["utfall", "variabel", "kategori"])
    fb = tl.loc[("fb_inom_frist", "totalt", "totalt")]
    assert (fb["n_ja"], fb["n_nej"], fb["n_censurerade"], fb["n_saknas"]) == (4, 3, 1, 0)
    assert fb["andel"] == pytest.approx(4 / 7)
    utr = tl.loc[("utredning_inom_frist", "totalt", "totalt")]
    # own utredningar: r1 (in time), r3 (late), r4 (open, overdue at period end: late), r7 (in
    # time); r5 is added to an ongoing one
    counts = ("n_grupp", "n_ja", "n_nej", "n_censurerade", "n_saknas")
    assert tuple(utr[c] for c in counts) == (4, 2, 2, 0, 0)

    dec = funnel.declines(year).set_index(["variabel", "kategori"])
    assert dec.loc[("totalt", "totalt"), "andel"] == pytest.approx(0.5)
    assert dec.loc[("arendetyp", "barnet"), "n_ja"] == 1

    mix = funnel.insats_mix(year).set_index(["variabel", "kategori"])
    assert mix.loc[("insats_typ", "familjebehandling"), "n"] == 1 and mix.loc[("insats_typ", "hvb"), "n"] == 1
    assert mix.loc[("insats_heldygn", "ja"), "andel"] == pytest.approx(0.5)


def test_children_per_count(year: pd.DataFrame) -> None:
    t = funnel.children_per_count(year)
    assert t["n"].tolist() == [4, 2, 0, 0]  # B1 and B3 twice in 2025


def test_kaplan_meier_by_hand() -> None:
    days = np.array([2, 3, 3, 5, 8])
    event = np.array([True, True, False, True, False])
    t = funnel.kaplan_meier(days, event, [0, 2, 3, 4, 5, 10]).set_index("dag")
    np.testing.assert_allclose(t["andel_klara"], [0, 0.2, 0.4, 0.4, 0.7, 0.7])
    assert t["n_oppna"].tolist() == [5, 4, 2, 2, 1, 0]
    assert t["n_klara"].tolist() == [0, 1, 2, 2, 3, 3]
    assert (t["n_oppna"] + t["n_klara"] + t["n_censurerade"] == 5).all()


def test_kaplan_meier_matches_statsmodels() -> None:
    from statsmodels.duration.survfunc import SurvfuncRight

    rng = np.random.default_rng(3)
    days = rng.integers(0, 40, 200)
    event = rng.random(200) < 0.7
    sf = SurvfuncRight(days, event.astype(int))
    grid = sf.surv_times.astype(int)
    t = funnel.kaplan_meier(days, event, grid)
    np.testing.assert_allclose(1 - t["andel_klara"], sf.surv_prob)
    s, se = sf.surv_prob, sf.surv_prob_se
    z = 1.959963984540054
    v = (se / s) ** 2  # Greenwood variance of log S
    ok = (s > 0) & (s < 1)
    expected_hi = s ** np.exp(-z * np.sqrt(v) / np.abs(np.log(s)))
    np.testing.assert_allclose((1 - t["andel_klara_lo"])[ok], expected_hi[ok], rtol=1e-9)


def test_masks_hide_small_counts_and_their_rates(year: pd.DataFrame) -> None:
    rep = funnel_report.analyse(fixture(), 2025, k=3, period_slut="2025-12-31")
    for name, table in rep.masked.items():
        for col in [c for c in table.columns if c == "n" or c.startswith("n_")]:
            v = disclose.visible(table[col].astype(object))
            assert not ((v >= 1) & (v < 3)).any(), (name, col)
    tratt = rep.masked["tratt"].set_index(["enhet", "steg"])
    assert tratt.loc[("aktualiseringar", "insats_accepterad"), "n"] == disclose.SUPPRESSED
    assert tratt.loc[("aktualiseringar", "insats_accepterad"), "andel_forsta_hi"] == disclose.SUPPRESSED
    # closed 3, offered 2: "1 closed without an offer" must not be readable as 3 - 2
    assert disclose.SUPPRESSED in (tratt.loc[("aktualiseringar", "utredning_avslutad"), "n"],
                                   tratt.loc[("aktualiseringar", "insats_erbjuden"), "n"])
    for unit in funnel.UNITS:  # no visible difference 1..k-1 between consecutive stages
        t = rep.masked["tratt"]
        n = disclose.visible(t.loc[t["enhet"] == unit, "n"].astype(object))
        diff = -n.diff().dropna()
        assert not ((diff >= 1) & (diff < 3)).any(), unit
    assert rep.raw["tratt"]["n"].iloc[0] == 8


def test_headline_uses_suppressed_values() -> None:
    rep = funnel_report.analyse(fixture(), 2025, k=3, period_slut="2025-12-31")
    h = funnel_report.headline(rep)
    assert h["aktualiseringar_n"] == 8 and h["barn_n"] == 6
    assert h["aktualiseringar_insats_startad_n"] == disclose.SUPPRESSED
    share = h["aktualiseringar_fb_beslutad_andel_forsta"]
    assert share == disclose.SUPPRESSED or share == pytest.approx(6 / 8)


def test_durations(year: pd.DataFrame) -> None:
    d = funnel.durations(year, "fb", "2025-12-31")
    # decided rows use dagar_till_fb; r6 (25 Dec) and r9 (1 May) are open: censored at period end
    assert sorted(d.days[d.event].tolist()) == [3, 5, 7, 10, 16, 20]
    assert sorted(d.days[~d.event].tolist()) == [6, 244]
    u = funnel.durations(year, "utredning", "2025-12-31")
    assert sorted(u.days[u.event].tolist()) == [60, 100, 150]
    assert u.days[~u.event].tolist() == [(pd.Timestamp("2025-12-31") - pd.Timestamp("2025-06-04")).days]


# ---------------------------------------------------------------------------------------------
# The synthetic demo data's known rates are recovered
# ---------------------------------------------------------------------------------------------

LEVEL = 0.999  # many comparisons: a wide interval keeps chance failures rare (about 1 in 1000 each)


def _check_truth(df: pd.DataFrame, truth: dict) -> int:
    """Compare every model's expected rate with the observed rate (all years) and its interval."""
    t = funnel.funnel(df)
    akt = t[t["enhet"] == "aktualiseringar"].set_index("steg")
    checked = 0
    for name, rate in truth["expected_rates"].items():
        population = truth["models"][name]["population"]
        if name in STAGES:
            assert population == STAGES[STAGES.index(name) - 1]  # the previous funnel stage
            # the generator draws these for own utredningar; unknowns leave the base
            own = STAGES.index(name) > STAGES.index("utredning_inledd")
            x, n = ((akt.loc[name, "n_egna"], akt.loc[name, "n_bas_foregaende_egna"]) if own
                    else (akt.loc[name, "n"], akt.loc[name, "n_bas_foregaende"]))
        else:
            assert population == "fb_beslut == 'inleda'"
            pop = (df["fb_beslut"].astype(object) == "inleda").to_numpy()
            row = funnel.share_table(df, {name: df[name]}, pop, []).iloc[0]
            x, n = row["n_ja"], row["n_bas"]
        lo, hi = funnel.wilson(x, n, level=LEVEL)
        assert float(lo) <= rate <= float(hi), (truth["kommun"], name, x, n, rate)
        checked += 1
    return checked


@pytest.mark.parametrize("kommun", ["ekby", "norrvik"])
def test_generated_truth_recovered(kommun: str) -> None:
    from genomlysning import synth

    raw, truth = synth.generate_kommun(synth.demo_spec(kommun))
    assert _check_truth(synth.clean_view(raw, kommun), truth) >= 9


def test_prepared_demo_data_recover_truth() -> None:
    """The same through the real pipeline (demo-data + prepare: ``make processed``)."""
    from genomlysning import clean, paths, synth

    kommuner = [p.name for p in sorted(paths.DATA_PROCESSED.glob("*"))
                if (p / "aktualiseringar.parquet").is_file()
                and (paths.DATA_RAW / p.name / synth.TRUTH_FILE).is_file()]
    if not kommuner:
        pytest.skip("no prepared demo data (run `make processed`)")
    for kommun in kommuner:
        assert _check_truth(clean.load_clean(kommun), synth.load_truth(kommun)) >= 9


def test_wilson_bounds_are_exact_at_zero_and_n() -> None:
    """x = 0 gives a lower bound of exactly 0 and x = n an upper bound of exactly 1 (closed form:
    the other bound is z²/(n + z²) away), so error bars never get a negative length."""
    z = 1.959963984540054
    for n in (1, 7, 40, 1000):
        lo, hi = funnel.wilson([0, n], [n, n])
        assert lo[0] == 0.0 and hi[1] == 1.0
        assert hi[0] == pytest.approx(z**2 / (n + z**2))
        assert lo[1] == pytest.approx(n / (n + z**2))
    x = np.arange(0, 51)
    lo, hi = funnel.wilson(x, np.full(51, 50))
    assert (lo <= x / 50).all() and (x / 50 <= hi).all()


def test_effective_n_is_n_without_clustering_and_n_over_k_for_k_copies() -> None:
    rng = np.random.default_rng(4)
    y = rng.random(300) < 0.3
    base = np.ones(300, dtype=bool)
    singletons = np.arange(300)
    assert funnel.effective_n(y, base, singletons)[0] == pytest.approx(300)
    lo, hi = funnel.wilson_clustered(y, base, singletons)
    plain = funnel.wilson(y.sum(), 300)
    assert (float(lo[0]), float(hi[0])) == (pytest.approx(float(plain[0])), pytest.approx(float(plain[1])))
    # every child's row entered 4 times: the information is that of 300 rows, not 1 200
    copies = np.repeat(y, 4)
    assert funnel.effective_n(copies, np.ones(1200, dtype=bool), np.repeat(singletons, 4))[0] == \
        pytest.approx(300)
    # all or none: no design effect to estimate, Wilson's closed-form ends
    pairs = [0, 0, 1, 1, 2, 2, 3, 3]
    lo0, hi0 = funnel.wilson_clustered(np.zeros(8, dtype=bool), np.ones(8, dtype=bool), pairs)
    assert float(lo0[0]) == 0.0 and float(hi0[0]) == pytest.approx(float(funnel.wilson(0, 8)[1][()]))


def test_clustered_funnel_interval_covers_with_a_strong_child_effect() -> None:
    """Children with a child-level effect and several aktualiseringar: the plain Wilson interval of
    the aktualisering-unit share undercovers, the design-effect-adjusted one does not."""
    rng = np.random.default_rng(8)
    reps, cover, plain = 400, 0, 0
    for _ in range(reps):
        size = rng.integers(1, 6, 200)
        child = np.repeat(np.arange(200), size)
        eta = rng.normal(-0.4, 1.5, 200)
        p_child = 1 / (1 + np.exp(-eta))
        y = rng.random(len(child)) < p_child[child]
        base = np.ones(len(child), dtype=bool)
        # truth: E[sum y / sum n] = size-weighted mean of p over children, in the super-population
        truth = TRUE_SHARE_STRONG_EFFECT
        lo, hi = funnel.wilson_clustered(y, base, child)
        plo, phi = funnel.wilson(y.sum(), len(y))
        cover += bool(lo[0] <= truth <= hi[0])
        plain += bool(plo <= truth <= phi)
    assert 0.93 <= cover / reps <= 0.98
    assert plain / reps < 0.90


#: E[expit(N(-0.4, 1.5^2))] (child sizes are independent of the child effect), by quadrature.
TRUE_SHARE_STRONG_EFFECT = float(stats.norm(-0.4, 1.5).expect(lambda v: 0.5 * (1 + np.tanh(v / 2))))


def test_deadline_cohort_leaves_out_quick_cases_whose_deadline_had_not_passed() -> None:
    """The complete cohort is decided by the dates alone: a case decided in two days but
    aktualiserad eleven days before period end is outside it, like the open one beside it."""
    recs = [dict(barn_id="A", aktualiseringsdatum="2025-12-20", fb_beslut="inte_inleda", fb_beslutad=True,
                 dagar_till_fb=2, fb_datum="2025-12-22"),
            dict(barn_id="B", aktualiseringsdatum="2025-12-20", fb_oppen_vid_periodslut=True),
            dict(barn_id="C", aktualiseringsdatum="2025-12-01", fb_oppen_vid_periodslut=True,
                 fb_inom_frist=False),
            dict(barn_id="D", aktualiseringsdatum="2025-11-01", fb_beslut="inte_inleda", fb_beslutad=True,
                 dagar_till_fb=3, fb_datum="2025-11-04", fb_inom_frist=True)]
    df = make_clean(recs)
    assert funnel.deadline_cohort(df, "fb", "2025-12-31").tolist() == ["nej", "nej", "ja", "ja"]
    t = funnel.timeliness(df, "2025-12-31", by=()).set_index("utfall").loc["fb_inom_frist"]
    assert (t["n_ja"], t["n_nej"], t["n_censurerade"], t["n_saknas"]) == (1, 1, 2, 0)
    assert t["andel"] == pytest.approx(0.5)


# ---------------------------------------------------------------------------------------------
# Unknown is not no: bortfall beside every share, in both units, through the ledger
# ---------------------------------------------------------------------------------------------

def fixture_with_unknowns() -> pd.DataFrame:
    """:func:`fixture` plus three rows whose reaching a stage is unknown.

    r10 B7  inleda, closed, outcome and offer not recorded (offer unknown)
    r11 B2  inleda, closed, offered, answer not recorded (acceptance unknown)
    r12 B8  pagaende, the ongoing utredning not in the data (closing unknown)
    """
    base = fixture()
    common = dict(aktualiseringstyp="anmalan", arendetyp="foralder", orsaker=["omsorgssvikt"],
                  aldersgrupp="6-12", kon="pojke", anmalare="skola", fb_inom_frist=True, dagar_till_fb=4)
    extra = make_clean([
        dict(barn_id="B7", aktualiseringsdatum="2025-03-03", utredning_start="2025-03-07", utredning_dagar=50,
             utredning_inom_frist=True,
             **common, **{**_flow("inleda", True), "insats_erbjuden": pd.NA, "insats_accepterad": pd.NA,
                          "insats_startad": pd.NA}),
        dict(barn_id="B2", aktualiseringsdatum="2025-07-01", utredning_start="2025-07-05", utredning_dagar=40,
             utredning_inom_frist=True,
             utredning_utfall="insats", insats_typ="kontaktperson", insats_heldygn=False,
             **common, **{**_flow("inleda", True, True), "insats_accepterad": pd.NA,
                          "insats_startad": pd.NA}),
        dict(barn_id="B8", aktualiseringsdatum="2025-09-01", **common,
             **{**_flow("pagaende"), "utredning_avslutad": pd.NA, "insats_erbjuden": pd.NA,
                "insats_accepterad": pd.NA, "insats_startad": pd.NA}),
    ])
    extra["rad_id"] = ["10", "11", "12"]
    return pd.concat([base, extra], ignore_index=True)


def test_unknown_stages_leave_the_base_and_are_counted_beside_it() -> None:
    y = funnel.in_year(fixture_with_unknowns(), 2025)
    t = funnel.funnel(y)
    akt = t[t["enhet"] == "aktualiseringar"].set_index("steg")
    barn = t[t["enhet"] == "barn"].set_index("steg")
    assert akt["n"].tolist() == [11, 9, 8, 5, 3, 1, 1]
    assert akt.loc[list(funnel.UNKNOWABLE), "n_okand"].tolist() == [1, 2, 3, 3]
    assert akt["n_okand"].iloc[:3].isna().all()  # these stages cannot be unknown
    assert akt.loc["utredning_avslutad", "andel_foregaende"] == pytest.approx(5 / 7)  # r12 left out
    assert akt.loc["insats_erbjuden", "andel_foregaende"] == pytest.approx(3 / 4)  # r10 left out
    assert akt.loc["insats_accepterad", "andel_foregaende"] == pytest.approx(1 / 2)  # r11 left out
    assert akt.loc["insats_startad", "andel_forsta"] == pytest.approx(1 / (11 - 3))
    # closed of opened on the municipality's own utredningar (r4 open; r5, r12 are påförda)
    assert akt.loc["utredning_avslutad", "n_egna"] == 5
    assert akt.loc["utredning_avslutad", "andel_foregaende_egna"] == pytest.approx(5 / 6)
    assert barn.loc[list(funnel.UNKNOWABLE), "n_okand"].tolist() == [1, 2, 3, 3]  # B8; +B7; +B2
    assert barn.loc["insats_accepterad", "n_bas_foregaende"] == 2 - 1  # B1, B2 offered; B2's answer unknown
    bd = funnel.breakdown(y, "aktualiseringar", ["anmalare"]).set_index("kategori")
    assert bd.loc["skola", "n_okand_insats_erbjuden"] == 2
    assert (bd.loc["skola", "n_aktualisering"], bd.loc["skola", "n_insats_erbjuden"]) == (6, 2)
    assert bd.loc["skola", "andel_insats_erbjuden"] == pytest.approx(2 / (6 - 2))


def test_the_ledger_protects_and_audits_the_bortfall() -> None:
    rep = funnel_report.analyse(fixture_with_unknowns(), 2025, k=3, period_slut="2025-12-31")
    masked = rep.masked["tratt"]
    assert "n_okand" in masked.columns and "n_okand_insats_erbjuden" in rep.masked["fordelning_barn"].columns
    # a bortfall of 1 or 2 is a small count: hidden like any other
    for v, raw in zip(masked["n_okand"], rep.raw["tratt"]["n_okand"], strict=True):
        if not pd.isna(raw) and 0 < raw < 3:
            assert disclose.is_suppressed(v)
