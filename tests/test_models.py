"""Logistic models: closed forms, clustering, separation, effects, pooling, outputs, recovery."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import special, stats

from genomlysning import firth, models, models_report, paths, schema

ANMALARE = ("polisen", "skola", "forskola", "halso_sjukvard", "socialtjansten", "foralder", "anhorig",
            "privatperson", "barnet_sjalv", "aklagare_domstol", "annan_kommun", "ovrigt")
ANMALARE_P = (.3, .2, .08, .12, .1, .06, .04, .04, .01, .01, .02, .02)
REASON_P = (.08, .1, .02, .01, .15, .08, .08, .1, .1, .1, .05, .04, .03, .05)


def clean_frame(columns: Mapping[str, object], n: int) -> pd.DataFrame:
    """A clean table (schema columns and dtypes) with the given columns filled, the rest missing."""
    out = schema.empty_clean_frame().reindex(range(n))
    for col, values in columns.items():
        out[col] = pd.Series(values, index=out.index).astype(schema.pandas_dtype(col))
    for col in schema.REASON_COLUMNS:
        if col not in columns:
            out[col] = pd.Series(False, index=out.index, dtype="boolean")
    return out


def simulate(n: int = 1500, seed: int = 1, ar: int = 2025, vald_all: bool = False,
             child_sd: float = 0.5) -> pd.DataFrame:
    """Simulated clean table: reasons -> ärendetyp, reporters, ages, re-referrals, flow outcomes."""
    rng = np.random.default_rng(seed)
    n_children = int(n * 0.7)
    barn = rng.integers(0, n_children, n)
    reasons = rng.random((n, len(REASON_P))) < np.array(REASON_P)
    arendetyp = np.array([schema.arendetyp_of({r.code for r, f in zip(schema.ORSAKER, row, strict=True) if f})
                          for row in reasons])
    anm = rng.choice(ANMALARE, n, p=ANMALARE_P)
    alder = rng.integers(0, 21, n)
    kon = rng.choice(["flicka", "pojke", "okant"], n, p=[.45, .54, .01])
    ater = rng.random(n) < .3
    eff = {"vald": 1.0, "foralder": 0.0, "barnet": -0.3, "ovrigt": -1.0}
    eta = -0.6 + np.array([eff[a] for a in arendetyp]) - 0.5 * (anm == "polisen") + 0.5 * ater
    u = rng.normal(0, child_sd, n_children)[barn]
    utr = rng.random(n) < special.expit(eta + u)
    if vald_all:
        utr[arendetyp == "vald"] = True
    ins = utr & (rng.random(n) < special.expit(-0.5 + 0.4 * (arendetyp == "vald") + 0.6 * ater))
    avsl = utr & (rng.random(n) < .9)
    acc = ins & (rng.random(n) < .75)
    cols: dict[str, object] = {
        "barn_id": [f"b{x}" for x in barn], "ar": np.full(n, ar), "alder": alder,
        "aldersgrupp": [schema.aldersgrupp_of(int(a)) for a in alder], "kon": kon, "anmalare": anm,
        "arendetyp": arendetyp, "ateraktualisering": ater, "fb_beslutad": np.ones(n, dtype=bool),
        "utredning_oppen_vid_periodslut": np.zeros(n, dtype=bool), "utredning_inledd": utr,
        "utredning_avslutad": avsl, "insats_erbjuden": ins, "insats_accepterad": acc,
        **{c: reasons[:, i] for i, c in enumerate(schema.REASON_COLUMNS)}}
    return clean_frame(cols, n)


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    return simulate()


@pytest.fixture(scope="module")
def sim_fit(sim: pd.DataFrame) -> models.ModelFit:
    return models.fit_model(sim, "utredning", ar=2025)


# ---------------------------------------------------------------------------------------------
# Closed forms and agreement with other estimators
# ---------------------------------------------------------------------------------------------

def test_single_factor_odds_ratios_are_cross_product_ratios(sim: pd.DataFrame) -> None:
    fit = models.fit_model(sim, "insats", ar=2025, formula="arendetyp", method="ml")
    rows = models.population(sim, "insats", 2025)
    y = rows["insats_erbjuden"].astype(bool).to_numpy()
    typ = rows["arendetyp"].astype(str).to_numpy()
    ref = fit.terms[0].levels[0].code
    assert ref == "foralder"
    a_ref, b_ref = (y & (typ == ref)).sum(), (~y & (typ == ref)).sum()
    table = models.coefficient_table(fit)
    for lev in fit.terms[0].levels[1:]:
        a, b = (y & (typ == lev.code)).sum(), (~y & (typ == lev.code)).sum()
        j = fit.names.index(f"arendetyp[{lev.code}]")
        assert np.exp(fit.params[j]) == pytest.approx(a * b_ref / (b * a_ref), rel=1e-8)
        row = table[table["kod"] == lev.code].iloc[0]
        assert row["or"] == pytest.approx(a * b_ref / (b * a_ref), rel=1e-8)
    # intercept: the reference category's log-odds
    assert fit.params[0] == pytest.approx(np.log(a_ref / b_ref), rel=1e-8)
    # a saturated one-factor model reproduces each category's share: standardised = observed
    np.testing.assert_allclose(table["sannolikhet"].astype(float), table["andel"].astype(float), atol=1e-9)


def test_cluster_robust_errors_equal_gee_independence_up_to_the_small_sample_factor(
        sim_fit: models.ModelFit) -> None:
    fit = sim_fit if sim_fit.method == "ml" else None
    assert fit is not None
    _, g = np.unique(fit.prep.groups, return_inverse=True)
    gee = sm.GEE(fit.prep.y, fit.X, groups=g, family=sm.families.Binomial(),
                 cov_struct=sm.cov_struct.Independence()).fit()
    np.testing.assert_allclose(fit.params, np.asarray(gee.params), atol=1e-7)
    n_g, n, k = len(np.unique(g)), fit.n, fit.X.shape[1]
    factor = n_g / (n_g - 1) * (n - 1) / (n - k)  # statsmodels' CRV1 correction; GEE "robust" has none
    np.testing.assert_allclose(np.diag(fit.cov), np.diag(np.asarray(gee.cov_robust)) * factor, rtol=1e-5)
    # and clustering matters here: the robust errors differ from the naive (model-based) ones
    assert not np.allclose(np.diag(np.asarray(gee.cov_robust)), np.diag(np.asarray(gee.cov_naive)), rtol=0.02)


def test_average_marginal_effects_match_finite_differences(sim: pd.DataFrame) -> None:
    fit = models.fit_model(sim, "utredning", ar=2025, formula="arendetyp + alder + ateraktualisering")
    assert fit.method == "ml"
    # categorical: mean predicted probability with every row moved to the category minus reference
    term = fit.terms[0]
    data = fit.prep.data.copy()
    data["arendetyp"] = "vald"
    p1 = fit.predict(models.design_matrix(fit.terms, data))
    data["arendetyp"] = term.levels[0].code
    p0 = fit.predict(models.design_matrix(fit.terms, data))
    ame, grad = models.average_marginal_effect(fit, term, "vald")
    assert ame == pytest.approx(float(np.mean(p1 - p0)), abs=1e-12)
    # numeric: derivative against a central difference in age
    age = next(t for t in fit.terms if t.name == "alder")
    h = 1e-5
    up, down = fit.prep.data.copy(), fit.prep.data.copy()
    up["alder"] += h
    down["alder"] -= h
    fd = np.mean(fit.predict(models.design_matrix(fit.terms, up))
                 - fit.predict(models.design_matrix(fit.terms, down)))
    ame_age, grad_age = models.average_marginal_effect(fit, age)
    assert ame_age == pytest.approx(fd / (2 * h), rel=1e-6)
    # delta-method gradients against finite differences in the coefficients
    for t, level, g in ((term, "vald", grad), (age, None, grad_age)):
        num = np.empty_like(fit.params)
        for j in range(len(fit.params)):
            shifted = []
            for sign in (1, -1):
                moved = fit.params + sign * h * np.eye(len(num))[j]
                other = dataclasses.replace(fit, params=moved)
                shifted.append(models.average_marginal_effect(other, t, level)[0])
            num[j] = (shifted[0] - shifted[1]) / (2 * h)
        np.testing.assert_allclose(g, num, atol=1e-7)


def test_auc_delong_matches_mann_whitney_and_the_structural_components_by_hand() -> None:
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1], dtype=bool)
    score = np.array([.9, .8, .35, .6, .3, .35, .5, .1, .2, .35, .7, .65])
    auc, lo, hi, se = models.auc_delong(y, score)
    pos, neg = score[y], score[~y]
    u = stats.mannwhitneyu(pos, neg).statistic
    assert auc == pytest.approx(u / (len(pos) * len(neg)))
    psi = np.array([[1.0 if a > b else 0.5 if a == b else 0.0 for b in neg] for a in pos])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    var = v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)
    assert se == pytest.approx(np.sqrt(var))
    assert (lo, hi) == pytest.approx((auc - 1.959963984540054 * se, min(1.0, auc + 1.959963984540054 * se)))


def test_calibration_of_in_sample_ml_predictions_is_exactly_perfect() -> None:
    # the ML score equations force intercept 0 and slope 1 in sample - a closed-form check of the
    # calibration machinery (which is why the notebook reports cross-validated calibration)
    fit = models.fit_model(simulate(seed=4), "insats", ar=2025)
    assert fit.method == "ml"
    intercept, slope = models.calibration_intercept_slope(fit.prep.y, fit.predict(), fit.prep.groups)
    assert intercept[0] == pytest.approx(0.0, abs=1e-6)
    assert slope[0] == pytest.approx(1.0, abs=1e-6)
    assert intercept[1] < 0 < intercept[2] and slope[1] < 1 < slope[2]


def test_cross_validated_calibration_and_folds_are_reproducible(sim_fit: models.ModelFit) -> None:
    folds = models.fold_of(sim_fit.prep.groups, 5, seed=7)
    # every child is in exactly one fold
    per_child = pd.Series(folds).groupby(sim_fit.prep.groups).nunique()
    assert per_child.max() == 1 and set(folds) == set(range(5))
    a = models.calibration(sim_fit, folds=5, seed=7)
    b = models.calibration(sim_fit, folds=5, seed=7)
    assert a.slope == b.slope and a.auc_cv == b.auc_cv
    assert 0.5 < a.auc_cv[0] <= a.auc[0] + 0.02
    assert a.bins["n"].sum() == sim_fit.n


# ---------------------------------------------------------------------------------------------
# Separation and Firth
# ---------------------------------------------------------------------------------------------

def test_separation_in_a_category_is_detected_and_firth_gives_finite_estimates() -> None:
    df = simulate(seed=2, vald_all=True)
    fit = models.fit_model(df, "utredning", ar=2025)
    assert fit.separation.separated
    aff = fit.separation.affected
    assert aff[["variabel", "kod", "alla_lika"]].values.tolist() == [["arendetyp", "vald", "alla_1"]]
    vald = (df["arendetyp"] == "vald").to_numpy()
    assert fit.separation.rows.sum() == vald.sum()
    assert fit.method == "firth"
    assert np.all(np.isfinite(fit.params))
    assert np.all(np.isfinite(fit.ci[1:]))  # no interval is computed for the intercept
    j = fit.names.index("arendetyp[vald]")
    assert 2 < fit.params[j] < 12 and fit.ci[j, 0] > 0
    # maximum likelihood diverges on the same data: statsmodels' estimate runs away
    ml = models.fit_prepared(fit.prep, method="ml")
    assert abs(ml.params[j]) > 10 and "arendetyp[vald]" in ml.separation.large_coefficients
    table = models.coefficient_table(fit)
    row = table[table["kod"] == "vald"].iloc[0]
    assert row["alla_lika"] == "alla_1"
    assert 0.9 < row["sannolikhet"] < 1 and row["sannolikhet_lag"] < 0.99


def test_complete_separation_in_the_design_only_is_found_by_the_linear_program() -> None:
    rng = np.random.default_rng(0)
    n = 200
    alder = rng.integers(0, 21, n)
    kon = rng.choice(["flicka", "pojke"], n)
    # no single category is all 0 or all 1, but age >= 13 predicts the outcome perfectly
    df = clean_frame({"barn_id": [f"b{i}" for i in range(n)], "ar": np.full(n, 2025), "alder": alder,
                      "kon": kon, "fb_beslutad": np.ones(n, bool), "utredning_inledd": alder >= 13}, n)
    prep = models.prepare(df, "utredning", ar=2025, formula="alder + kon")
    sep = models.detect_separation(prep)
    assert sep.separated and sep.rows.all()
    assert (sep.levels["alla_lika"] == "").all()
    fit = models.fit_prepared(prep)
    assert fit.method == "firth" and np.all(np.isfinite(fit.params))


def test_no_separation_on_overlapping_data(sim_fit: models.ModelFit) -> None:
    assert not sim_fit.separation.separated
    assert sim_fit.method == "ml" and sim_fit.separation.affected.empty
    assert sim_fit.separation.large_coefficients == ()


def test_separated_rows_of_a_quasi_complete_two_by_two() -> None:
    X = np.array([[1, 1], [1, 1], [1, 0], [1, 0], [1, 0.0]])
    y = np.array([1, 1, 0, 1, 0.0])
    assert models.separated_rows(X, y).tolist() == [True, True, False, False, False]
    assert not models.separated_rows(X, np.array([1, 0, 0, 1, 0.0])).any()


# ---------------------------------------------------------------------------------------------
# Pooling, references, missing values, populations
# ---------------------------------------------------------------------------------------------

def _pool(values: list[str], y: list[int], **kw: object) -> tuple[models.Term | None, list[dict]]:
    kw = {"order": schema.column("anmalare").code_values(), "min_n": 20, "min_events": 5, **kw}
    return models.pool_term("anmalare", np.array(values, dtype=object), np.array(y, float), **kw)


def test_pooling_rule_small_rows_and_small_minority_counts() -> None:
    values = ["polisen"] * 100 + ["skola"] * 60 + ["forskola"] * 30 + ["anhorig"] * 10 + ["ovrigt"] * 30 \
        + ["privatperson"] * 25
    y = ([1] * 50 + [0] * 50) + ([1] * 30 + [0] * 30) + ([1] * 2 + [0] * 28) + ([1] * 5 + [0] * 5) \
        + ([1] * 10 + [0] * 20) + [1] * 25
    term, recs = _pool(values, y)
    assert term is not None
    codes = [lev.code for lev in term.levels]
    # reference: the largest category; forskola (2 events) and anhorig (10 rows) pooled with ovrigt;
    # privatperson: 25 rows all with the outcome = separated, kept
    assert codes == ["polisen", "skola", "privatperson", "ovrigt"]
    pooled = term.levels[-1]
    assert pooled.pooled and pooled.members == ("forskola", "anhorig", "ovrigt")
    assert (pooled.n, pooled.events) == (70, 17)
    assert {r["kod"] for r in recs} == {"forskola", "anhorig", "ovrigt"}
    assert models.level_label(term, pooled) == "Övrigt/övriga"


def test_pooled_group_still_too_small_is_merged_into_the_reference() -> None:
    values = ["polisen"] * 100 + ["skola"] * 60 + ["anhorig"] * 8
    y = [1] * 40 + [0] * 60 + [1] * 30 + [0] * 30 + [1] * 4 + [0] * 4
    term, recs = _pool(values, y)
    assert term is not None
    ref = term.levels[0]
    assert ref.members == ("polisen", "anhorig") and ref.n == 108
    assert models.level_label(term, ref) == "Polisen + Anhörig"
    assert recs == [{"variabel": "anmalare", "kod": "anhorig", "till": "polisen", "skal": "skal_ref"}]


def test_separated_preferred_reference_is_replaced_and_two_level_variables_can_drop_out() -> None:
    term, _ = _pool(["polisen"] * 50 + ["skola"] * 40, [1] * 50 + [1] * 20 + [0] * 20, reference="polisen")
    assert term is not None and term.levels[0].code == "skola"
    term, recs = _pool(["polisen"] * 50 + ["skola"] * 3, [1] * 25 + [0] * 25 + [1] * 3)
    assert term is None and all(r["skal"] == "skal_utesluten" for r in recs)


def test_age_groups_merge_into_their_smaller_neighbour() -> None:
    values = ["0-5"] * 100 + ["6-12"] * 80 + ["13-17"] * 60 + ["18-20"] * 10
    y = [1, 0] * 50 + [1, 0] * 40 + [1, 0] * 30 + [1, 0] * 5
    term, recs = models.pool_term("aldersgrupp", np.array(values, dtype=object), np.array(y, float),
                                  order=schema.column("aldersgrupp").code_values(), min_n=20, min_events=5)
    assert term is not None
    assert sorted(lev.code for lev in term.levels) == ["0-5", "13-17+18-20", "6-12"]
    merged = next(lev for lev in term.levels if lev.code == "13-17+18-20")
    assert models.level_label(term, merged) == "13–17 år + 18–20 år"
    assert recs[0]["skal"] == "skal_granne"


def test_reason_indicators_pool_rare_reasons(sim: pd.DataFrame) -> None:
    fit = models.fit_model(sim, "utredning", ar=2025, formula=models.ORSAK_FORMULA)
    names = {t.name for t in fit.terms if t.group == models.ORSAKER}
    assert "orsak_omsorgssvikt" in names
    # hedersrelaterat (1 %) is rare: pooled into "other reasons" or dropped, never modelled alone
    assert "orsak_hedersrelaterat" not in names
    assert set(fit.prep.pooling["kod"]) >= {"orsak_hedersrelaterat"}
    for t in fit.terms:
        if t.group == models.ORSAKER:
            x = fit.prep.data[t.name].to_numpy() == 1
            assert t.levels[1].n == x.sum() >= 20


def test_missing_values_are_counted_per_variable_before_fitting() -> None:
    df = simulate(n=600, seed=5)
    df.loc[[0, 1, 2], "anmalare"] = pd.NA
    df.loc[[2, 3], "kon"] = pd.NA
    df.loc[4, "barn_id"] = pd.NA
    fit = models.fit_model(df, "utredning", ar=2025)
    m = fit.prep.missing.set_index("kolumn")["saknas"]
    assert m["anmalare"] == 3 and m["kon"] == 2 and m["arendetyp"] == 0 and m["barn_id"] == 1
    by_label = fit.prep.missing.set_index("variabel")["saknas"]
    assert by_label["Rader med något saknat värde"] == 4
    assert by_label["Rader i modellen"] == 596 == fit.n
    # the row without a child id is kept as a cluster of its own
    kept = df.drop(index=[0, 1, 2, 3])
    assert fit.n_clusters == kept["barn_id"].dropna().nunique() + 1


def test_year_and_population_filters() -> None:
    df = pd.concat([simulate(n=400, seed=6, ar=2024), simulate(n=500, seed=7, ar=2025)], ignore_index=True)
    df.loc[:9, "fb_beslutad"] = False
    assert len(models.population(df, "utredning", 2025)) == 500
    assert len(models.population(df, "utredning", 2024)) == 390
    acc = models.population(df, "accepterad", 2025)
    assert acc["insats_erbjuden"].all() and len(acc) == int(df.loc[df["ar"] == 2025, "insats_erbjuden"].sum())
    with pytest.raises(ValueError, match=r"no aktualiseringar in year 2019; the data hold: \[2024, 2025\]"):
        models.population(df, "utredning", 2019)


def test_formula_parsing_and_errors() -> None:
    assert models.parse_formula(None) == ("arendetyp", "anmalare", "aldersgrupp", "kon",
                                          "ateraktualisering")
    assert models.parse_formula(" ~ kon + alder") == ("kon", "alder")
    with pytest.raises(ValueError, match="only the right-hand side"):
        models.parse_formula("utredning_inledd ~ kon")
    with pytest.raises(KeyError, match="unknown column 'kn'"):
        models.parse_formula("kn")
    with pytest.raises(ValueError, match="cannot be combined"):
        models.parse_formula("orsaker + arendetyp")
    with pytest.raises(ValueError, match="main effects"):
        models.parse_formula("kon:alder")
    with pytest.raises(ValueError, match="coded, yes/no or integer"):
        models.parse_formula("aktualiseringsdatum")
    assert models.orsak_formula_of(None) == models.ORSAK_FORMULA
    assert models.orsak_formula_of("kon") is None


def test_too_few_events_is_reported() -> None:
    df = simulate(n=120, seed=9)
    with pytest.raises(models.TooFewEventsError, match="accepterad"):
        models.fit_model(df, "accepterad", ar=2025)
    df = simulate(n=30, seed=3)
    run = models.run_models(df, ar=2025)
    assert run.fits == {} and set(run.skipped) == set(models.OUTCOMES)
    assert run.skipped["utredning"].startswith("Ingen förklarande variabel kvar")
    skipped = publish(run, df).skipped()
    # 7 offered, 6 accepted: the ledger hides the 6, from which the 1 who declined could be derived
    assert skipped["accepterad"].endswith("n = 7, varav med utfallet = ..")
    assert "n = 30, varav med utfallet = 12" in skipped["utredning"]


# ---------------------------------------------------------------------------------------------
# Outputs (suppression itself: tests/test_models_ledger.py)
# ---------------------------------------------------------------------------------------------

def publish(run: models.ModelRun, df: pd.DataFrame, kommun: str = "testkommun") -> models_report.Publication:
    """03's publication of a simulated table after 02's table of skipped stages (its visible zeros
    tell a reader which flag populations are nested stages)."""
    from genomlysning import funnel, funnel_ledger
    from genomlysning.ledger import Cell, Ledger

    y = funnel.in_year(df, 2025)
    led = Ledger(run.k, scope=funnel_ledger.scope(2025))
    funnel_ledger.declare(led, y, pd.Timestamp("2025-12-31"))
    hop = funnel.skipped_stages(y)
    led.add("hoppade_steg", hop, {"n": [Cell.of("akt", **{f"hoppat:{s}": "ja"}) for s in hop["steg"]]})
    led.protect()
    earlier = ([json.loads(led.definitions_json({"hoppade_steg": "02_hoppade_steg"}))],
               {"02_hoppade_steg": led.masked("hoppade_steg")})
    return models_report.publish(run, df, kommun, period_slut="2025-12-31", earlier=earlier)


def _files(root) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow  # about 10 s: the ledger's integer checks on the models' union cells (HiGHS MIP)
def test_run_save_outputs_are_reproducible_and_publishable(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(paths, "REPORTS_DIR", tmp_path / "reports")
    df = simulate(n=300, seed=12, vald_all=True)
    df["utredning_avslutad"] = df["utredning_avslutad"] | df["insats_erbjuden"]  # no stage skipped
    outcomes = ("utredning", "accepterad")
    run = models.run_models(df, ar=2025, k=5, seed=3, outcomes=outcomes)
    assert "accepterad" in run.fits or "accepterad" in run.skipped
    models_report.save_outputs(publish(run, df), "testkommun")
    first = _files(tmp_path)
    models_report.save_outputs(publish(models.run_models(df, ar=2025, k=5, seed=3, outcomes=outcomes), df),
                               "testkommun")
    assert _files(tmp_path) == first
    assert "reports/testkommun/figures/03_effekter_utredning.png" in first
    assert "reports/testkommun/ledger/03.json" in first
    table = pd.read_csv(tmp_path / "reports/testkommun/tables/03_modell_utredning.csv")
    assert list(table.columns) == list(models_report.PUBLISHED_COLUMNS)
    assert (table["referens"] == "ref.").sum() == 5  # one reference per variable
    meta = json.loads((tmp_path / "reports/testkommun/tables/03_modell_utredning.json").read_text())
    assert "Referenskategorier: Ärendetyp: Förälders problematik" in meta["note"]
    results = json.loads((tmp_path / "reports/testkommun/results.json").read_text())
    sec = results["modeller"]["utfall"]["utredning"]
    assert sec["metod"] == "firth" and sec["separation"] == ["arendetyp=vald"]
    assert set(sec["sannolikhet_arendetyp"]) == {"foralder", "vald", "barnet", "ovrigt"}


def test_summary_and_display_in_both_languages(sim: pd.DataFrame) -> None:
    run = models.run_models(sim, ar=2025, seed=1, outcomes=("utredning",), lang="en")
    pub = publish(run, sim)
    text = models_report.summary(pub)
    assert "Violence in close relationships" in text and "percentage points" in text
    view = models_report.coefficient_view(pub, "utredning")
    assert "Odds ratio (95% CI)" in view.columns
    assert (view["Odds ratio (95% CI)"] == "ref.").sum() == 5
    sv = models_report.summary(publish(models.run_models(sim, ar=2025, seed=1, outcomes=("utredning",)), sim))
    assert "procentenheter" in sv and "Våld i nära relation" in sv


# ---------------------------------------------------------------------------------------------
# Recovery of the synthetic generator's known effects (large demo municipality)
# ---------------------------------------------------------------------------------------------

TRUTH_MODELS = {"utredning": "utredning_inledd", "insats_efter_utredning": "insats_erbjuden",
                "accepterad": "insats_accepterad"}


def _truth_code(var: str, code: str) -> str:
    return {"ja": "true", "nej": "false"}.get(code, code) if var == "ateraktualisering" else code


@pytest.mark.slow
@pytest.mark.parametrize("outcome", sorted(TRUTH_MODELS))
def test_known_effects_of_the_synthetic_generator_are_recovered(outcome: str) -> None:
    from genomlysning import clean, synth

    if not (paths.processed_dir("sjohamn") / "aktualiseringar.parquet").is_file():
        pytest.skip("demo data for sjohamn not prepared (make processed)")
    truth = synth.load_truth("sjohamn")["models"][TRUTH_MODELS[outcome]]
    df = clean.load_clean("sjohamn")
    fit = models.fit_model(df, outcome, ar=2025, method="ml")
    idx, true_diff = [], []
    for t in fit.terms:
        coefs = truth["coefficients"][t.name]
        ref = t.levels[0]
        if len(ref.members) > 1:
            continue
        for lev in t.levels[1:]:
            if len(lev.members) > 1:
                continue
            idx.append(fit.names.index(f"{t.name}[{lev.code}]"))
            true_diff.append(coefs[_truth_code(t.name, lev.code)] - coefs[_truth_code(t.name, ref.code)])
    assert len(idx) >= 15
    est, truth_v = fit.params[idx], np.array(true_diff)
    se = np.sqrt(np.diag(fit.cov))[idx]
    z = (est - truth_v) / se
    # every estimate within its 99.9 % interval, nearly all within the 95 % interval, and the joint
    # Wald test of all true values not rejected at 0.1 %
    names = [fit.names[i] for i in idx]
    assert np.all(np.abs(z) < stats.norm.ppf(0.9995)), dict(zip(names, z.round(2), strict=True))
    assert np.mean(np.abs(z) < 1.96) >= 0.85
    d = est - truth_v
    chi2 = float(d @ np.linalg.solve(fit.cov[np.ix_(idx, idx)], d))
    assert stats.chi2.sf(chi2, len(idx)) > 0.001


# ---------------------------------------------------------------------------------------------
# Regressions from the national benchmark (small municipalities)
# ---------------------------------------------------------------------------------------------

def test_empty_population_is_reported_not_an_index_error() -> None:
    # kommun_225: no insats offered, so the "accepterad" population is empty; pooling a term over
    # no rows raised IndexError
    assert models.pool_term("anmalare", np.array([], dtype=object), np.array([]), order=ANMALARE,
                            min_n=20, min_events=5) == (None, [])
    df = simulate(n=300, seed=5)
    df["insats_erbjuden"] = pd.Series(False, index=df.index, dtype="boolean")
    df["insats_accepterad"] = pd.Series(False, index=df.index, dtype="boolean")
    # as the cleaning derives it (the ledger defines the insats population so and checks it)
    df["utredning_oppen_vid_periodslut"] = df["utredning_inledd"] & ~df["utredning_avslutad"]
    prep = models.prepare(df, "accepterad", ar=2025)
    assert len(prep.y) == 0 and prep.terms == ()
    run = models.run_models(df, ar=2025, outcomes=("insats", "accepterad"))
    skipped = publish(run, df).skipped()
    assert skipped["accepterad"].endswith("n = 0, varav med utfallet = 0")
    assert skipped["insats"].endswith("varav med utfallet = 0")


def _partitioned_reasons(n: int = 300, seed: int = 2) -> pd.DataFrame:
    """Every row has exactly one reason: omsorgssvikt (270 rows) or one of two rare reasons (15 each),
    so the pooled "other reasons" flag is exactly 1 - omsorgssvikt (aliased with the intercept)."""
    rng = np.random.default_rng(seed)
    which = np.array(["orsak_omsorgssvikt"] * 270 + ["orsak_skolfranvaro"] * 15
                     + ["orsak_eget_missbruk"] * 15)
    kon = rng.choice(["flicka", "pojke"], n)
    y = rng.random(n) < special.expit(-0.3 + 0.6 * (kon == "flicka") - 0.8 * (which != "orsak_omsorgssvikt"))
    cols: dict[str, object] = {"barn_id": [f"b{i}" for i in range(n)], "ar": np.full(n, 2025), "kon": kon,
                               "fb_beslutad": np.ones(n, dtype=bool), "utredning_inledd": y,
                               **{c: which == c for c in ("orsak_omsorgssvikt", "orsak_skolfranvaro",
                                                          "orsak_eget_missbruk")}}
    return clean_frame(cols, n)


@pytest.mark.parametrize("method", ["firth", "ml"])
def test_aliased_reason_indicator_is_dropped_and_reported_not_estimable(method: str) -> None:
    # kommun_118: the pooled reasons flag equalled "not orsak_ovrigt": singular Fisher information
    df = _partitioned_reasons()
    fit = models.fit_model(df, "utredning", ar=2025, formula="orsaker + kon", method=method)
    assert fit.names == ("intercept", "orsak_omsorgssvikt", "kon[flicka]")
    assert firth.aliased_columns(fit.X).size == 0
    rec = fit.prep.pooling.set_index("kod")
    assert rec.loc[["orsak_skolfranvaro", "orsak_eget_missbruk"], "skal"].eq("skal_ej_skattbar").all()
    assert rec.loc[["orsak_skolfranvaro", "orsak_eget_missbruk"], "till"].eq("").all()
    labels = models_report.pooling_table(fit, "sv")["skal"]
    assert labels.str.startswith("inte skattbar").sum() == 2
    # the same estimates as a fit on the full-rank design by hand
    X = np.column_stack([np.ones(len(df)), df["orsak_omsorgssvikt"].to_numpy(dtype=float),
                         (df["kon"].astype(str) == "flicka").to_numpy(dtype=float)])
    y = df["utredning_inledd"].to_numpy(dtype=float)
    ref = firth.firth_logit(X, y).params if method == "firth" else sm.Logit(y, X).fit(disp=False).params
    np.testing.assert_allclose(fit.params, ref, atol=1e-6)
    table = models.coefficient_table(fit)
    assert np.isfinite(table.loc[~table["referens"], ["or", "or_lag", "or_hog"]].to_numpy(float)).all()
    calib = models.calibration(fit, folds=5, seed=1)  # folds: Firth on the reduced design too
    assert calib.bins["n"].sum() == fit.n


def test_aliased_category_is_merged_into_the_reference() -> None:
    # ateraktualisering "ja" is exactly kon "flicka": its column is aliased with kon's column
    # (the same, or intercept minus it, whichever sex is the reference)
    df = _partitioned_reasons(seed=3)
    df["ateraktualisering"] = (df["kon"].astype(str) == "flicka").astype("boolean")
    fit = models.fit_model(df, "utredning", ar=2025, formula="kon + ateraktualisering")
    assert len(fit.names) == 2 and fit.names[1].startswith("kon[")
    assert fit.prep.data.columns.tolist() == ["kon"] and [t.name for t in fit.terms] == ["kon"]
    rec = fit.prep.pooling.set_index(["variabel", "kod"])
    assert rec.loc[("ateraktualisering", "ja"), "skal"] == "skal_ej_skattbar"
    assert rec.loc[("ateraktualisering", "ja"), "till"] == "nej"


def test_a_model_that_cannot_be_fitted_is_reported_and_the_run_goes_on(monkeypatch) -> None:
    def singular(*args: object, **kwargs: object) -> None:
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(models, "_fit_ml", singular)
    monkeypatch.setattr(models, "_fit_firth", singular)
    run = models.run_models(simulate(n=400, seed=6), ar=2025, outcomes=("utredning",))
    assert run.fits == {}
    assert run.skipped["utredning"] == "Modellen kunde inte skattas (utredning: Singular matrix)"


def test_wilson_bounds_hold_the_share_also_at_zero_and_all_events() -> None:
    # kommun_130/317: at 0 events the closed form gave a lower bound of ~1e-18 > 0 = the share, a
    # negative error bar in the calibration figure
    z2 = stats.norm.ppf(0.975) ** 2
    for n in (56, 130):
        lo, hi = models.wilson_interval(0, n)
        assert lo == 0.0 and hi == pytest.approx(z2 / (n + z2), rel=1e-12)
        lo, hi = models.wilson_interval(n, n)
        assert hi == 1.0 and lo == pytest.approx(n / (n + z2), rel=1e-12)
    # an interior share: the closed form (p + z2/2n -+ z sqrt(p(1-p)/n + z2/4n2)) / (1 + z2/n)
    p, n = 3 / 20, 20
    half = np.sqrt(z2) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    centre = p + z2 / (2 * n)
    np.testing.assert_allclose(models.wilson_interval(3, 20), ((centre - half) / (1 + z2 / n),
                                                              (centre + half) / (1 + z2 / n)), rtol=1e-12)


def test_calibration_figure_tolerates_bounds_on_the_wrong_side_and_non_finite_bins() -> None:
    bins = pd.DataFrame({"forutsagd": [0.05, 0.3, 0.6], "observerad": [0.0, 0.25, np.nan],
                         "lag": [1e-18, 0.2, np.nan], "hog": [0.06, 0.24, np.nan], "n": [56, 60, 0]})
    cal = models.Calibration(outcome="insats", bins=bins, smooth=np.array([[0.05, 0.01], [0.6, 0.5]]),
                             intercept=(0.1, -0.2, 0.4), slope=(0.9, 0.5, 1.3), auc=(0.7, 0.6, 0.8),
                             auc_cv=(0.65, 0.55, 0.75), folds=5, seed=1)
    fig = models_report.calibration_figure([cal], "sv")
    fig.savefig(__import__("io").BytesIO(), format="png")
    assert len(fig.axes[0].containers[0].lines[0].get_xdata()) == 2  # the NaN bin is left out


def test_intervals_are_ordered_and_the_effects_figure_skips_missing_ones(sim_fit: models.ModelFit) -> None:
    assert models.ordered_interval(1.0, 1.2, 2.0) == (1.0, 2.0)
    assert models.ordered_interval(0.5, 0.1, 0.4) == (0.1, 0.5)
    lo, hi = models.ordered_interval(2.0, np.nan, np.inf)
    assert np.isnan(lo) and hi == np.inf
    assert all(np.isnan(v) for v in models.ordered_interval(np.nan, 0.1, 0.2))
    table = models.coefficient_table(sim_fit)
    for est, lo_c, hi_c in (("or", "or_lag", "or_hog"), ("ame", "ame_lag", "ame_hog"),
                            ("sannolikhet", "sannolikhet_lag", "sannolikhet_hog")):
        t = table.dropna(subset=[lo_c])
        assert (t[lo_c] <= t[est]).all() and (t[est] <= t[hi_c]).all()
    shown = table.copy()
    rows = shown.index[~shown["referens"].astype(bool)]
    shown.loc[rows[0], "or_hog"] = np.inf
    shown.loc[rows[1], ["ame_lag", "ame_hog"]] = np.nan
    fig = models_report.effects_figure(shown, sim_fit, "sv")
    fig.savefig(__import__("io").BytesIO(), format="png")
    assert schema.text("mod_ki_saknas", "sv") in fig.texts[-1].get_text().replace("\n", " ")
