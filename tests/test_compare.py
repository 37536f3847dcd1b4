"""Tests of genomlysning.compare: funnel-plot limits, overdispersion, case-mix adjustment, MOR."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from genomlysning import compare, compare_report, schema

# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


def _cat(col: str, values: object) -> pd.Categorical:
    return pd.Categorical(values, categories=schema.pandas_dtype(col).categories)


def clean_frame(kommun: str, y: np.ndarray, arendetyp: np.ndarray, *, ar: int = 2025,
                barn: np.ndarray | None = None, seed: int = 0) -> pd.DataFrame:
    """A clean table (schema dtypes) with the case-mix columns and ``utredning_inledd = y``."""
    n = len(y)
    rng = np.random.default_rng(seed)
    df = schema.empty_clean_frame().reindex(range(n))
    df["kommun"] = pd.array([kommun] * n, dtype="string")
    ids = np.arange(n) if barn is None else barn
    df["barn_id"] = pd.array([f"{kommun}-{i}" for i in ids], dtype="string")
    df["ar"] = pd.array([ar] * n, dtype="Int64")
    df["aktualiseringsdatum"] = pd.Timestamp(f"{ar}-03-01")
    df["arendetyp"] = _cat("arendetyp", arendetyp)
    df["anmalare"] = _cat("anmalare", ["skola"] * n)
    df["aldersgrupp"] = _cat("aldersgrupp", ["6-12"] * n)
    df["kon"] = _cat("kon", rng.choice(["flicka", "pojke"], n))
    df["ateraktualisering"] = pd.array([False] * n, dtype="boolean")
    df["utredning_inledd"] = pd.array(y, dtype="boolean")
    return df


def two_stratum_frames() -> dict[str, pd.DataFrame]:
    """Two municipalities, two ärendetyper, known counts (for hand-computed standardisation)."""
    def make(kommun: str, cells: list[tuple[str, int, int]]) -> pd.DataFrame:
        y, typ = [], []
        for t, x, n in cells:
            y += [True] * x + [False] * (n - x)
            typ += [t] * n
        return clean_frame(kommun, np.array(y), np.array(typ))

    return {"a": make("a", [("vald", 40, 50), ("barnet", 30, 150)]),
            "b": make("b", [("vald", 60, 150), ("barnet", 10, 50)])}


# ---------------------------------------------------------------------------------------------
# Control limits against hand computation
# ---------------------------------------------------------------------------------------------


def _binom_cdf(r: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(r + 1))


def test_exact_binomial_limits_match_hand_computation() -> None:
    # Binomial(20, 0.3): F(1) = 0.007637, F(2) = 0.035483, so the 2.5 % quantile is r = 2 and
    # alpha = (F(2) - 0.025) / (F(2) - F(1)) = 0.3765; lower limit = (2 - alpha) / 20 = 0.08117.
    f1, f2 = _binom_cdf(1, 20, 0.3), _binom_cdf(2, 20, 0.3)
    assert f1 < 0.025 <= f2
    hand_lo = (2 - (f2 - 0.025) / (f2 - f1)) / 20
    # Upper: F(9) = 0.952038 < 0.975 <= F(10) = 0.982855.
    f9, f10 = _binom_cdf(9, 20, 0.3), _binom_cdf(10, 20, 0.3)
    assert f9 < 0.975 <= f10
    hand_hi = (10 - (f10 - 0.975) / (f10 - f9)) / 20
    lo, hi = compare.binomial_limits(0.3, [20], 0.95, "exact")
    assert lo[0] == pytest.approx(hand_lo, abs=1e-12)
    assert hi[0] == pytest.approx(hand_hi, abs=1e-12)
    assert lo[0] == pytest.approx(0.08117, abs=5e-5)
    assert hi[0] == pytest.approx(0.48726, abs=5e-5)


def test_normal_limits_match_formula() -> None:
    # 0.3 +/- 1.959964 * sqrt(0.3 * 0.7 / 100) = 0.3 +/- 0.089817
    lo, hi = compare.binomial_limits(0.3, [100], 0.95, "normal")
    assert lo[0] == pytest.approx(0.210183, abs=1e-6)
    assert hi[0] == pytest.approx(0.389817, abs=1e-6)
    lo, hi = compare.binomial_limits(0.3, [100], 0.998, "normal")
    assert hi[0] - 0.3 == pytest.approx(3.090232 * math.sqrt(0.0021), abs=1e-6)


def test_exact_poisson_limits_match_hand_computation() -> None:
    # Poisson(10): F(3) = 0.010336, F(4) = 0.029253 -> lower = (4 - 0.22462) / 10
    cdf = [sum(math.exp(-10) * 10**i / math.factorial(i) for i in range(r + 1)) for r in range(30)]
    lo_hand = (4 - (cdf[4] - 0.025) / (cdf[4] - cdf[3])) / 10
    hi_hand = (17 - (cdf[17] - 0.975) / (cdf[17] - cdf[16])) / 10
    assert cdf[16] < 0.975 <= cdf[17]
    lo, hi = compare.poisson_limits([10.0], 0.95, "exact")
    assert lo[0] == pytest.approx(lo_hand, abs=1e-12)
    assert hi[0] == pytest.approx(hi_hand, abs=1e-12)
    lo, hi = compare.poisson_limits([25.0], 0.95, "normal")
    assert (lo[0], hi[0]) == pytest.approx((1 - 1.959964 / 5, 1 + 1.959964 / 5), abs=1e-6)


def test_limits_narrow_with_volume_and_contain_target() -> None:
    n = np.array([10, 50, 200, 1000, 5000])
    for method in ("exact", "normal"):
        lo, hi = compare.binomial_limits(0.4, n, 0.998, method)
        assert np.all(np.diff(hi - lo) < 0)
        assert np.all((lo <= 0.4) & (hi >= 0.4))


# ---------------------------------------------------------------------------------------------
# Overdispersion
# ---------------------------------------------------------------------------------------------


def test_overdispersion_on_constructed_example() -> None:
    # Ten units of n = 100 around p0 = 0.5 (s = 0.05): x = 50 + 5 z gives the z-scores below.
    z = np.array([-2, -1, 0, 1, 2, 4, -4, 0, 0, 0], dtype=float)
    x = 50 + 5 * z
    n = np.full(10, 100.0)
    assert x.sum() / n.sum() == 0.5
    zz, s = compare.proportion_z(x, n, 0.5)
    np.testing.assert_allclose(zz, z)
    # Sorted z: -4 -2 -1 0 0 0 0 1 2 4; 10th percentile = -4 + 0.9 * 2 = -2.2, 90th = 2.2.
    np.testing.assert_allclose(compare.winsorise(zz)[[5, 6]], [2.2, -2.2])
    od = compare.overdispersion(zz, s)
    phi = (2 * 2.2**2 + 4 + 1 + 1 + 4) / 10  # = 1.968
    assert od.phi == pytest.approx(phi)
    assert od.chi2 == pytest.approx(19.68)
    assert od.df == 9
    assert od.p_value == pytest.approx(stats.chi2.sf(19.68, 9))
    # w = 400 each: sum w - sum w^2 / sum w = 4000 - 400 = 3600
    assert od.tau2 == pytest.approx((19.68 - 9) / 3600)
    assert od.significant()


def test_no_overdispersion_gives_zero_tau2() -> None:
    z = np.array([-0.5, 0.2, 0.1, -0.1, 0.3])
    od = compare.overdispersion(z, np.full(5, 0.05))
    assert od.tau2 == 0.0 and not od.significant()


def test_additive_and_multiplicative_adjustment() -> None:
    od = compare.Overdispersion(phi=4.0, chi2=40.0, df=9, p_value=1e-5, tau2=0.01, units=10,
                                winsor=0.1)
    s = np.array([0.05])
    lo, hi = compare.adjusted_limits(0.3, s, 0.95, od, "additive")
    assert hi[0] - 0.3 == pytest.approx(1.959964 * math.sqrt(0.0025 + 0.01), abs=1e-6)
    lo, hi = compare.adjusted_limits(0.3, s, 0.95, od, "multiplicative")
    assert hi[0] - 0.3 == pytest.approx(1.959964 * 2 * 0.05, abs=1e-6)


# ---------------------------------------------------------------------------------------------
# Funnel data and suppression
# ---------------------------------------------------------------------------------------------


def test_funnel_flags_outlier_and_pools_only_named_units() -> None:
    counts = pd.DataFrame({"kommun": ["a", "b", "c", "d", "e"],
                           "x": [30, 300, 610, 3, 250], "n": [100, 1000, 1000, 10, 600]})
    f = compare.funnel(counts, "test", adjustment="none")
    assert f.target == pytest.approx(1193 / 2710)
    pts = f.points.set_index("kommun")
    assert bool(pts.loc["c", "utanfor"]) and bool(pts.loc["b", "utanfor"])
    assert not bool(pts.loc["e", "utanfor"])
    assert pts["visas"].all()
    assert compare_report._position(f).iloc[2] == schema.text("jmf_lage_over", niva="99,8")
    # d left out of the pool (its count hidden): not in the target, the test or the drawing
    counts["i_malvarde"] = counts["kommun"] != "d"
    g = compare.funnel(counts, "test", adjustment="none")
    assert g.target == pytest.approx(1190 / 2700)
    assert g.od.units == 4
    pts = g.points.set_index("kommun")
    assert not bool(pts.loc["d", "visas"]) and pts.drop(index="d")["visas"].all()
    assert np.isfinite(pts.loc["d", "nedre_99_8"])  # limits are still given at its volume
    moved = counts.assign(x=[30, 300, 610, 7, 250])
    assert compare.funnel(moved, "test", adjustment="none").target == g.target


def test_mask_share_hides_small_complement() -> None:
    tab = pd.DataFrame({"x": [98, 50, 0], "n": [100, 100, 3], "p": [0.98, 0.5, 0.0]})
    out = compare.mask_share(tab, "x", "n", ["p"], k=5)
    assert out["x"].tolist() == ["..", 50, ".."]
    assert out["p"].tolist() == ["..", 0.5, ".."]
    assert out["n"].tolist() == [100, 100, ".."]


def test_headline_counts_count_children_as_the_funnel_does() -> None:
    rng = np.random.default_rng(3)
    frames = {k: clean_frame(k, rng.random(n) < p, rng.choice(["vald", "barnet"], n), seed=i,
                             barn=np.arange(n) // 2)
              for i, (k, n, p) in enumerate([("liten", 12, 0.2), ("stor", 400, 0.4)])}
    frames["liten"].loc[[0, 1], "barn_id"] = pd.NA  # two rows without barn_id: two own children
    tab = compare.headline_counts(frames, 2025, keys=("utredning_inledd",)).set_index("kommun")
    assert tab.loc["liten", "n_aktualiseringar"] == 12 and tab.loc["stor", "n_barn"] == 200
    assert tab.loc["liten", "n_barn"] == 5 + 2
    cnt = compare.indicator_counts(frames, "utredning_inledd", 2025).set_index("kommun")
    assert (tab["antal_utredning_inledd"] == cnt["x"]).all() and (tab["n_utredning_inledd"] == cnt["n"]).all()


# ---------------------------------------------------------------------------------------------
# Case-mix adjustment
# ---------------------------------------------------------------------------------------------


def test_indirect_standardisation_matches_hand_computation() -> None:
    # A single stratifying factor makes the model saturated: expected = sum n_s * pooled rate_s.
    # Pooled rates: vald 100/200 = 0.5, barnet 40/200 = 0.2.
    frames = two_stratum_frames()
    cells = compare.casemix_cells(frames, "utredning_inledd", 2025, covariates=("arendetyp",))
    sr = compare.standardised_ratios(cells, covariates=("arendetyp",)).set_index("kommun")
    e_a, e_b = 50 * 0.5 + 150 * 0.2, 150 * 0.5 + 50 * 0.2  # 55, 85
    assert sr.loc["a", "o"] == 70 and sr.loc["b", "o"] == 70
    assert sr.loc["a", "e"] == pytest.approx(e_a, rel=1e-6)
    assert sr.loc["b", "e"] == pytest.approx(e_b, rel=1e-6)
    assert sr.loc["a", "kvot"] == pytest.approx(70 / 55, rel=1e-6)
    assert sr.loc["a", "justerad_andel"] == pytest.approx(70 / 55 * 140 / 400, rel=1e-6)
    assert sr["e"].sum() == pytest.approx(sr["o"].sum(), rel=1e-6)  # pooled model: sum E = sum O


def test_garwood_interval_known_values() -> None:
    # Exact Poisson 95 % limits for O = 10: 4.7954 .. 18.3904; for O = 0: 0 .. 3.6889.
    lo, hi = compare.poisson_ratio_ci(np.array([10, 0]), np.array([10.0, 10.0]))
    np.testing.assert_allclose(lo, [0.47954, 0.0], atol=1e-5)
    np.testing.assert_allclose(hi, [1.83904, 0.36889], atol=1e-5)


def test_median_odds_ratio_formula() -> None:
    # sigma^2 = 0.5: exp(sqrt(1) * 0.67449) = 1.96303
    assert compare.median_odds_ratio(0.5) == pytest.approx(1.96303, abs=1e-5)
    assert compare.median_odds_ratio(0.0) == 1.0


def test_dersimonian_laird_closed_form() -> None:
    # est 0, 2, 4 with unit variances: Q = 8, df = 2, tau2 = (8 - 2) / (3 - 1) = 3.
    # Q(t) = 8 / (1 + t): Q-profile limits solve 8 / (1 + t) = chi2 quantiles.
    tau2, lo, hi, q, p = compare.dersimonian_laird(np.array([0.0, 2, 4]), np.ones(3))
    assert (tau2, q) == pytest.approx((3.0, 8.0))
    assert lo == pytest.approx(8 / stats.chi2.ppf(0.975, 2) - 1, rel=1e-6)
    assert hi == pytest.approx(8 / stats.chi2.ppf(0.025, 2) - 1, rel=1e-6)
    assert p == pytest.approx(stats.chi2.sf(8, 2))
    tau2, lo, hi, _, _ = compare.dersimonian_laird(np.array([0.0, 0.1]), np.ones(2))
    assert tau2 == lo == 0.0
    assert all(math.isnan(v) for v in compare.dersimonian_laird(np.array([0.3]), np.ones(1)))


def test_between_variation_recovers_known_sigma() -> None:
    # 40 municipalities with random intercepts (sigma^2 = 0.25) and a strong case-mix effect.
    rng = np.random.default_rng(11)
    sigma2 = 0.25
    frames = {}
    for i in range(40):
        n = 600
        typ = rng.choice(["vald", "barnet"], n, p=[0.2 + 0.6 * (i % 2), 0.8 - 0.6 * (i % 2)])
        lp = -0.5 + rng.normal(0, math.sqrt(sigma2)) + np.where(typ == "vald", 2.0, 0.0)
        y = rng.random(n) < 1 / (1 + np.exp(-lp))
        frames[f"k{i:02d}"] = clean_frame(f"k{i:02d}", y, typ, seed=i)
    mor = compare.between_variation(frames, "utredning_inledd", 2025,
                                    covariates=("arendetyp",))
    assert mor.sigma2_lo <= sigma2 <= mor.sigma2_hi
    assert mor.mor == pytest.approx(float(compare.median_odds_ratio(mor.sigma2)))
    assert mor.df == 39


def test_cluster_robust_variance_grows_with_repeated_children() -> None:
    # Duplicating every row under the same child id leaves the estimate unchanged but the
    # cluster-robust variance must stay that of the undoubled data (not halve).
    rng = np.random.default_rng(5)
    typ = rng.choice(["vald", "barnet"], 400)
    y = rng.random(400) < 0.4
    single = {"a": clean_frame("a", y, typ), "b": clean_frame("b", y[::-1], typ[::-1])}
    doubled = {k: pd.concat([v, v], ignore_index=True) for k, v in single.items()}
    m1 = compare.between_variation(single, "utredning_inledd", 2025, covariates=("arendetyp",))
    m2 = compare.between_variation(doubled, "utredning_inledd", 2025, covariates=("arendetyp",))
    np.testing.assert_allclose(m1.intercepts["logodds"], m2.intercepts["logodds"], atol=1e-8)
    np.testing.assert_allclose(m2.intercepts["varians"], m1.intercepts["varians"], rtol=0.02)


def test_indicator_rows_excludes_censored_and_outside_denominator() -> None:
    df = clean_frame("a", np.array([True, True, True, True, False]), np.array(["vald"] * 5))
    df["fb_beslut"] = pd.Categorical(["inleda", "inleda", "pagaende", "inleda", "inte_inleda"],
                                     categories=schema.pandas_dtype("fb_beslut").categories)
    df["fb_beslutad"] = pd.array([True] * 5, dtype="boolean")
    df["utredning_avslutad"] = pd.array([True, True, True, False, False], dtype="boolean")
    # barnsamtal counts closed own utredningar with a known answer (02_funnel's population):
    # not an unknown answer, not one added to an ongoing utredning, not an open one
    df["barnsamtal"] = pd.array([True, pd.NA, False, False, pd.NA], dtype="boolean")
    rows = compare.indicator_rows(df, "barnsamtal")
    assert len(rows) == 1 and bool(rows["y"].iloc[0])
    df["fb_inom_frist"] = pd.array([True, False, pd.NA, True, pd.NA], dtype="boolean")
    cnt = compare.indicator_counts({"a": df}, "fb_inom_frist", 2025)
    assert (cnt.loc[0, "x"], cnt.loc[0, "n"]) == (2, 3)
    with pytest.raises(KeyError, match="valid"):
        compare.indicator("nope")


def test_grouped_binomial_fit_matches_statsmodels() -> None:
    from statsmodels.genmod.families import Binomial
    from statsmodels.genmod.generalized_linear_model import GLM

    rng = np.random.default_rng(8)
    X = np.column_stack([np.ones(60), rng.normal(size=60), rng.integers(0, 2, 60)])
    n = rng.integers(1, 40, 60).astype(float)
    x = rng.binomial(n.astype(int), 1 / (1 + np.exp(-(X @ [-0.4, 0.8, 0.5])))).astype(float)
    ref = GLM(np.column_stack([x, n - x]), X, family=Binomial()).fit().params
    np.testing.assert_allclose(compare._fit_binomial(X, x, n), ref, atol=1e-7)


def test_demo_municipality_effects_recovered_after_case_mix() -> None:
    # The generator gives each municipality a known log-odds shift of utredning_inledd (plus
    # norrvik's reform from 2024-07-01); the fixed-effect intercepts of between_variation, which
    # adjust for the same case mix, must recover the differences to sjohamn (shift 0).
    from genomlysning import clean, paths, synth

    names = ["sjohamn", "norrvik", "storstad_oster", "storstad_vaster"]
    if not all((paths.processed_dir(k) / "aktualiseringar.parquet").is_file() for k in names):
        pytest.skip("no clean demo data: run `make processed`")
    frames = {k: clean.load_clean(k) for k in names}
    mor = compare.between_variation(frames, "utredning_inledd", 2025)
    icpt = mor.intercepts.set_index("kommun")
    ref = icpt.loc["sjohamn"]
    for k in names[1:]:
        model = synth.load_truth(k)["models"]["utredning_inledd"]
        shift = model["kommun_effect"] + sum(t["log_odds"] for t in model["terms"]
                                             if t["name"] == "reform" and t["from_date"] <= "2025-01-01")
        est = icpt.loc[k, "logodds"] - ref["logodds"]
        se = math.sqrt(icpt.loc[k, "varians"] + ref["varians"])
        assert abs(est - shift) < 3.29 * se, (k, est, shift, se)
    assert mor.sigma2_lo > 0  # the demo municipalities do differ


def test_fixed_effects_fit_and_cluster_covariance_match_statsmodels() -> None:
    # Row-level data: 3 municipalities, one binary covariate, children with repeated rows.
    from statsmodels.genmod.families import Binomial
    from statsmodels.genmod.generalized_linear_model import GLM

    rng = np.random.default_rng(21)
    n_rows = 900
    kommun = rng.integers(0, 3, n_rows)
    cov = rng.integers(0, 2, n_rows).astype(float)
    child = kommun * 1000 + rng.integers(0, 200, n_rows)  # clusters nested in municipalities
    lp = np.array([-0.5, 0.0, 0.4])[kommun] + 0.8 * cov + rng.normal(0, 0.5, 200)[child % 200]
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-lp))).astype(float)
    X = np.column_stack([(kommun == k).astype(float) for k in range(3)] + [cov])
    ref = GLM(y, X, family=Binomial()).fit(cov_type="cluster", cov_kwds={"groups": child})
    # the same model on cells (kommun x covariate)
    cells = pd.DataFrame({"j": kommun, "c": cov, "y": y}).groupby(["j", "c"])["y"].agg(["sum", "size"])
    row_cell = pd.DataFrame({"j": kommun, "c": cov}).merge(
        cells.reset_index().reset_index()[["index", "j", "c"]], on=["j", "c"])["index"].to_numpy()
    j = cells.index.get_level_values("j").to_numpy()
    Xb = cells.index.get_level_values("c").to_numpy(float)[:, None]
    a, b = compare.fit_fixed_effects(j, Xb, cells["sum"].to_numpy(), cells["size"].to_numpy())
    np.testing.assert_allclose(np.r_[a, b], ref.params, atol=1e-7)
    p_cell = 1 / (1 + np.exp(-(a[j] + Xb @ b)))
    V = compare.fe_cluster_cov(j, Xb, cells["size"].to_numpy(float), p_cell, row_cell, y, child)
    np.testing.assert_allclose(np.diag(V), np.diag(ref.cov_params()), rtol=1e-6)
