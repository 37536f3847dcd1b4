"""Synthetic demo data: determinism, fake personnummer, flow rules, calibration, known effects,
entry-error injection, the system export and its mapping, params files."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from genomlysning import cli, ingest, params, paths, schema, synth
from genomlysning import personnummer as pn

SEED = 7
MID = synth.KommunSpec("mellanby", "Mellanby", 6000)


@pytest.fixture(scope="module")
def mid() -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """A mid-size municipality (about 18 000 rows): raw frame, truth, clean view."""
    df, truth = synth.generate_kommun(MID, SEED)
    return df, truth, synth.clean_view(df, MID.kommun)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- personnummer ------------------------------------------------------------------------------

def test_luhn_control_digit_matches_skatteverkets_worked_example() -> None:
    # Skatteverket's example 811218-9876: weights 2,1,2,… give digit sum 44, control 6
    digits = np.array([[8, 1, 1, 2, 1, 8, 9, 8, 7]])
    assert synth.luhn_control_digit(digits).tolist() == [6]
    assert pn.luhn_digit("811218987") == 6


def test_fake_convention_is_recognised_and_only_it() -> None:
    birth = np.array([synth._day("2015-03-04"), synth._day("2009-12-31")])
    numbers = synth.fake_personnummer(birth, np.array([True, False]), np.array([0, 9]))
    assert numbers.tolist()[0].startswith("20150304-981") and numbers.tolist()[1].startswith("20091231-998")
    assert all(synth.is_fake_personnummer(p) for p in numbers)
    assert all(synth.is_fake_personnummer(p[2:]) for p in numbers)  # 10-digit form
    real_form = f"20150304-123{pn.luhn_digit('150304123')}"          # valid, but not in 980-999
    assert pn.is_valid(real_form) and not synth.is_fake_personnummer(real_form)
    bad = numbers[0][:-1] + str((int(numbers[0][-1]) + 1) % 10)
    assert not synth.is_fake_personnummer(bad)


def test_personnummer_are_fake_valid_unique_and_match_age_and_sex(mid) -> None:
    df, truth, _ = mid
    has = df["personnummer"] != ""
    assert 0.99 < has.mean() < 1.0  # about 0.5 % of children have a barn_id instead
    assert (df.loc[~has, "barn_id"] != "").all() and (df.loc[has, "barn_id"] == "").all()
    assert df.loc[has, "personnummer"].map(synth.is_fake_personnummer).all()
    for p, date, alder, kon in df.loc[has, ["personnummer", "aktualiseringsdatum", "alder", "kon"]].head(
            3000).itertuples(index=False):
        parsed = pn.parse(p)
        assert parsed.age_at(dt.date.fromisoformat(date)) == int(alder)
        assert schema.code_label("kon", parsed.sex) == kon
    children = df.loc[has, "personnummer"].nunique() + df.loc[~has, "barn_id"].nunique()
    assert children == truth["volumes"]["children"]  # one number per child, never shared


# --- determinism and files ---------------------------------------------------------------------

def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    spec = replace(synth.demo_spec("storstad_vaster"), volym=400)
    for run in ("a", "b"):
        synth.write_kommun(spec, SEED, 0.05, raw_root=tmp_path / run / "raw",
                           params_root=tmp_path / run / "params")
    synth.write_kommun(spec, SEED + 1, 0.05, raw_root=tmp_path / "c" / "raw",
                       params_root=tmp_path / "c" / "params")
    a, b, c = (_files(tmp_path / r) for r in "abc")
    assert a == b and set(a) == {"params/storstad_vaster.yaml", "raw/storstad_vaster/aktualiseringar.csv",
                                 "raw/storstad_vaster/sanna_parametrar.json"}
    assert a["raw/storstad_vaster/aktualiseringar.csv"] != c["raw/storstad_vaster/aktualiseringar.csv"]
    assert a["params/storstad_vaster.yaml"] == c["params/storstad_vaster.yaml"]  # independent of the seed


def test_template_csv_format(tmp_path: Path) -> None:
    spec = replace(synth.demo_spec("norrvik"), volym=200)
    synth.write_kommun(spec, SEED, raw_root=tmp_path)
    raw = (tmp_path / "norrvik" / "aktualiseringar.csv").read_bytes()
    assert raw.startswith("\ufeff".encode())
    header = raw.decode("utf-8-sig").splitlines()[0].split(";")
    assert header == [schema.column(c).sv for c in schema.TEMPLATE_COLUMNS]
    truth = synth.load_truth("norrvik", raw_root=tmp_path)
    text = (tmp_path / "norrvik" / synth.TRUTH_FILE).read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    assert truth["seed"] == SEED and truth["reform"]["log_odds_change"] == 0.5


def test_xlsx_template_round_trips_through_import(tmp_path: Path) -> None:
    spec = replace(synth.demo_spec("ekby"), volym=60)
    df, _ = synth.generate_kommun(spec, SEED)
    synth.write_kommun(spec, SEED, raw_root=tmp_path)
    raw = ingest.read_raw(tmp_path / "ekby" / "aktualiseringar.xlsx")
    assert raw.problems == [] and raw.dropped_columns == []
    pd.testing.assert_frame_equal(raw.frame[list(df.columns)].fillna("").astype(object),
                                  df.astype(object), check_dtype=False)


def test_load_truth_explains_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="demo-data"):
        synth.load_truth("finns_inte", raw_root=tmp_path)


# --- flow rules --------------------------------------------------------------------------------

def test_rows_follow_the_flow_rules(mid) -> None:
    df, _, _ = mid
    blank = df == ""
    label = {c: schema.code_labels(c, "sv") for c in ("fb_beslut", "insats_svar")}
    own = df["fb_beslut"] == label["fb_beslut"]["inleda"]
    utr_cols = ["utredning_start", "kontakt_forskola", "kontakt_skola", "kontakt_polis",
                "kontakt_halso_sjukvard"]
    assert (~blank.loc[own, utr_cols]).all().all() and blank.loc[~own, utr_cols].all().all()
    samtal = ["barnsamtal", "barnsamtal_antal"]  # "uppgift saknas" in about 2 % of own utredningar
    assert blank.loc[~own, samtal].all().all()
    assert (blank.loc[own, samtal[0]] == blank.loc[own, samtal[1]]).all()
    assert 0.005 < blank.loc[own, "barnsamtal"].mean() < 0.05
    closed = ~blank["utredning_slut"]
    assert not (closed & ~own).any()
    unknown_outcome = closed & blank["utredning_utfall"]  # "uppgift saknas": outcome and insats blank
    assert 0.005 < unknown_outcome.sum() / closed.sum() < 0.05
    assert (blank.loc[closed, "utredning_utfall"] == blank.loc[closed, "insats_erbjuden"]).all()
    assert blank.loc[~closed, ["utredning_utfall", "insats_erbjuden"]].all().all()
    offered = df["insats_erbjuden"] == "Ja"
    assert (~blank.loc[offered, ["insats_typ", "insats_lagrum"]]).all().all()
    assert 0.005 < blank.loc[offered, "insats_svar"].mean() < 0.05  # answer (and start) not recorded
    assert not (blank["insats_svar"] & ~blank["insats_startad"]).any()
    assert blank.loc[~offered, ["insats_svar", "insats_startad", "insats_typ", "insats_lagrum"]].all().all()
    accepted = df["insats_svar"] == label["insats_svar"]["ja"]
    assert not ((df["insats_startad"] == "Ja") & ~accepted).any()
    granted = df["utredning_utfall"] == "Insats beviljad"
    assert (df.loc[granted & ~blank["insats_svar"], "insats_svar"] == "Tackat ja").all()
    assert (blank["fb_beslut"] == blank["fb_datum"]).all()
    assert ((df["barnsamtal"] == "Ja") == (df["barnsamtal_antal"].replace("", "0").astype(int) > 0)).all()
    order = ["aktualiseringsdatum", "skyddsbedomning_datum", "fb_datum", "utredning_start", "utredning_slut"]
    for early, late in itertools.combinations(order, 2):
        both = ~blank[early] & ~blank[late]
        assert (df.loc[both, early] <= df.loc[both, late]).all(), (early, late)
    for col in schema.DATE_COLUMNS:
        if col in df:
            assert (df.loc[~blank[col], col] <= synth.PERIOD_SLUT).all()
    assert df["aktualiseringsdatum"].is_monotonic_increasing
    assert (df["rad_id"] == [str(i + 1) for i in range(len(df))]).all()


def test_pagaende_only_while_an_own_utredning_runs(mid) -> None:
    _, _, c = mid
    pag = c[c["fb_beslut"] == "pagaende"]
    assert len(pag) > 0 and pag["utredning_start"].isna().all()
    own = c[c["fb_beslut"] == "inleda"]
    end = own["utredning_slut"].fillna(pd.Timestamp(synth.PERIOD_SLUT))
    for barn, fb in pag[["barn_id", "fb_datum"]].head(300).itertuples(index=False):
        mine = own["barn_id"] == barn
        assert ((own.loc[mine, "utredning_start"] <= fb) & (fb <= end[mine])).any()


def test_clean_view_has_the_clean_contract_dtypes(mid) -> None:
    _, _, c = mid
    assert list(c.columns) == list(schema.CLEAN_COLUMNS)
    assert c.dtypes.astype(str).tolist() == schema.empty_clean_frame().dtypes.astype(str).tolist()
    assert not c["barn_id"].str.contains(r"\d{6}-\d{4}").any()


# --- re-referral -------------------------------------------------------------------------------

def test_ateraktualisering_hand_computed() -> None:
    ids = ["a", "b", "a", "a", "a", "c", "c"]
    dates = ["2024-06-01", "2024-01-01", "2024-01-10", "2025-06-01", "2025-06-02", "2024-02-29",
             "2025-03-01"]
    # a: 2024-01-10 first; 06-01 within; 2025-06-01 exactly 12 months later (inclusive); 06-02 next day
    # c: 2024-02-29 and 2025-03-01: 2025-03-01 minus 12 months = 2024-03-01 > 2024-02-29 -> outside
    assert synth.ateraktualisering_flags(ids, dates, 12).tolist() == [True, False, False, True, True, False,
                                                                      False]
    assert synth.ateraktualisering_flags(ids, dates, 24).tolist()[-1]


# --- calibration (domain.md section 4) ---------------------------------------------------------

def test_calibration_within_broad_bands(mid) -> None:
    df, truth, c = mid
    dec = c[c["fb_beslutad"]]
    assert 0.30 <= c["utredning_inledd"].mean() <= 0.45
    by_type = dec.groupby("arendetyp", observed=True)["utredning_inledd"].mean()
    assert by_type["vald"] > 0.9
    by_reporter = dec.groupby("anmalare", observed=True)["utredning_inledd"].mean()
    assert by_reporter.idxmin() == "polisen"
    shares = c["arendetyp"].value_counts(normalize=True)
    assert 0.16 <= shares["vald"] <= 0.25 and 0.33 <= shares["foralder"] <= 0.45
    assert 0.27 <= shares["barnet"] <= 0.38
    assert 0.52 <= (c["kon"] == "pojke").mean() <= 0.58
    assert 0.60 <= (c["alder"] <= 12).mean() <= 0.72 and (c["alder"] >= 18).mean() < 0.08
    assert 0.75 <= (c["aktualiseringstyp"] == "anmalan").mean() <= 0.85
    anm = c[c["aktualiseringstyp"] == "anmalan"]
    assert 0.55 <= anm["anmalare"].isin(["polisen", "skola", "forskola", "halso_sjukvard"]).mean() <= 0.70
    assert c["anmalare"].isin(["privatperson", "anhorig"]).mean() < 0.10
    assert (c.loc[c["aldersgrupp"].isin(["13-17", "18-20"]), "anmalare"] != "forskola").all()
    per_year = [v["andel_barn_flera"] for v in truth["volumes"]["per_year"].values()]
    assert all(0.33 <= s <= 0.47 for s in per_year)
    assert 0.8 <= dec["fb_inom_frist"].mean() <= 0.92
    own = c[c["fb_beslut"] == "inleda"]
    assert 0.45 <= own["barnsamtal"].mean() <= 0.6
    assert own.loc[own["alder"] >= 13, "barnsamtal"].mean() > own.loc[own["alder"] <= 5, "barnsamtal"].mean()
    assert own.loc[own["alder"].between(7, 17), "kontakt_skola"].mean() > 0.5
    assert own["kontakt_polis"].mean() < 0.2
    closed = c[c["utredning_avslutad"]]
    started_early = closed[closed["utredning_start"] < "2025-06-01"]
    assert 0.25 <= (started_early["utredning_dagar"] > 122).mean() <= 0.45
    assert 0.40 <= closed["insats_erbjuden"].mean() <= 0.55
    offered = c[c["insats_erbjuden"]]
    assert 0.72 <= offered["insats_accepterad"].mean() <= 0.88
    assert 0.85 <= c.loc[c["insats_accepterad"], "insats_startad"].mean() <= 0.95
    assert offered.loc[offered["alder"] >= 13, "insats_accepterad"].mean() < \
        offered.loc[offered["alder"] <= 5, "insats_accepterad"].mean()
    types = offered["insats_typ"].value_counts(normalize=True)
    assert types[["kontaktperson", "oppenvardsprogram", "familjebehandling", "personligt_stod"]].sum() > 0.7
    assert (offered["insats_lagrum"] == "lvu").any() and offered["insats_heldygn"].any()
    assert 0.05 <= c["insats_startad"].mean() <= 0.14  # "8 % got support" order of magnitude
    assert 0.0 < (c["fb_beslut"] == "pagaende").mean() < 0.1
    assert c["fb_beslut"].isna().sum() > 0 and c.loc[c["fb_beslut"].isna(), "aktualiseringsdatum"].min() \
        > pd.Timestamp("2025-11-01")


def _population(c: pd.DataFrame, model: dict) -> pd.DataFrame:
    """A model's population in the clean view: after the decision, the generator draws outcomes for
    own utredningar only (a row added to an ongoing one takes that utredning's outcome)."""
    pop = c.query(model["population"])
    if model["population"] != "fb_beslutad":
        pop = pop[(pop["fb_beslut"].astype(object) != "pagaende").to_numpy()]
    return pop


def test_truth_expected_rates_equal_true_probabilities(mid) -> None:
    _, truth, c = mid
    for name, model in truth["models"].items():
        pop = _population(c, model)
        assert synth.true_probability(model, pop).mean() == pytest.approx(truth["expected_rates"][name],
                                                                          abs=1e-6)


def _fit(model: dict, frame: pd.DataFrame, extra: dict[str, np.ndarray] | None = None):
    """Logit with the truth's reference levels; returns (fit, true values in fit order)."""
    x = {"const": np.ones(len(frame))}
    true = [model["intercept"]]
    for var, coefs in model["coefficients"].items():
        codes = synth._as_codes(frame[var])
        levels = np.array(codes[1])[codes[0]]
        for lev in sorted(set(levels)):
            if lev != model["reference"][var] and (levels == lev).sum() >= 30:
                x[f"{var}={lev}"] = (levels == lev).astype(float)
                true.append(coefs[lev])
    for name, (col, value) in (extra or {}).items():
        x[name] = col
        true.append(value)
    y = frame[model["outcome"]].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    keep = ~np.isnan(y)  # an unknown outcome ("uppgift saknas") leaves the fit
    for var in model["coefficients"]:  # drop rows in categories too small to fit
        codes = synth._as_codes(frame[var])
        levels = np.array(codes[1])[codes[0]]
        small = [lev for lev in set(levels) if (levels == lev).sum() < 30]
        keep &= ~np.isin(levels, small)
    X = pd.DataFrame(x)[keep]
    fit = sm.GLM(y[keep], X, family=sm.families.Binomial()).fit()
    return fit, np.array(true)


def test_known_coefficients_are_recovered(mid) -> None:
    _, truth, c = mid
    for name in ("utredning_inledd", "insats_accepterad"):
        model = truth["models"][name]
        fit, true = _fit(model, _population(c, model))
        z = (fit.params.to_numpy() - true) / fit.bse.to_numpy()
        assert np.all(np.abs(z) < 4), dict(zip(fit.params.index, np.round(z, 2), strict=True))
        assert np.mean(z**2) < 2.5


def test_reform_step_is_recovered_and_implied_rates_are_consistent() -> None:
    spec = replace(synth.demo_spec("norrvik"), volym=3000)
    df, truth = synth.generate_kommun(spec, SEED)
    c = synth.clean_view(df, spec.kommun)
    reform = truth["reform"]
    model = truth["models"]["utredning_inledd"]
    pop = c.query(model["population"])
    post = (pop["aktualiseringsdatum"] >= reform["date"]).to_numpy(dtype=float)
    fit, _ = _fit(model, pop, {"reform": (post, reform["log_odds_change"])})
    lo, hi = fit.conf_int().loc["reform"]
    assert lo < reform["log_odds_change"] < hi
    assert reform["expected_rate_after_at_post_mix"] - reform["expected_rate_before_at_post_mix"] == \
        pytest.approx(reform["expected_rate_difference_at_post_mix"], abs=1e-6)
    assert abs(reform["observed_rate_after"] - reform["expected_rate_after_at_post_mix"]) < 0.03


def test_pilot_area_and_effect() -> None:
    spec = replace(synth.demo_spec("storstad_vaster"), volym=3000)
    df, truth = synth.generate_kommun(spec, SEED)
    assert set(df["omrade"]) == {"Nord", "Syd", "Centrum", "Pilot"}
    assert 0.11 <= (df["omrade"] == "Pilot").mean() <= 0.19
    pilot = truth["pilot"]
    assert pilot["log_odds_change"] == 1.0 and pilot["start"] == "2024-01-01"
    assert pilot["expected_rate_with_at_pilot_post_mix"] > pilot["expected_rate_without_at_pilot_post_mix"]
    terms = truth["models"]["insats_accepterad"]["terms"]
    assert terms == [{"from_date": "2024-01-01", "log_odds": 1.0, "name": "pilot", "omrade": "Pilot"}]


def test_ekby_has_complete_separation_for_violence() -> None:
    df, truth = synth.generate_kommun(synth.demo_spec("ekby"), synth.DEFAULT_SEED)
    c = synth.clean_view(df, "ekby")
    vald = c[c["fb_beslutad"] & (c["arendetyp"] == "vald")]
    assert len(vald) > 50 and vald["utredning_inledd"].all()
    assert truth["models"]["utredning_inledd"]["rules"][0]["level"] == "vald"
    assert 700 <= len(df) <= 1100


# --- entry errors ------------------------------------------------------------------------------

def _parse_variant(text: str) -> dt.date:
    """Hand parser of the three injected date formats."""
    if "/" in text:
        d, m, y = text.split("/")
        return dt.date(int(y), int(m), int(d))
    if " " in text:
        d, month, y = text.split()
        return dt.date(int(y), synth._MONTHS_SV.index(month) + 1, int(d))
    return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))


def test_inject_errors_logs_every_error_at_the_asked_rate(mid) -> None:
    df = mid[0].iloc[:4000].copy()
    dirty, log = synth.inject_errors(df, 0.1, np.random.default_rng(3))
    assert len(log) == 400
    kinds = pd.Series([e["feltyp"] for e in log]).value_counts()
    assert set(kinds.index) == set(synth.ERROR_KINDS) and kinds.min() >= 20
    assert len(dirty) == len(df) + kinds["dubblett"]
    assert list(dirty.columns) == [*df.columns, synth.FREE_TEXT_COLUMN]
    rows = {e["rad_excel"] for e in log}
    assert len(rows) == len(log)
    untouched = dirty.drop(index=[r - 2 for r in rows])
    originals = untouched["rad_id"].map(dict(zip(df["rad_id"], range(len(df)), strict=True)))
    pd.testing.assert_frame_equal(untouched[df.columns].reset_index(drop=True),
                                  df.iloc[originals.to_numpy()].reset_index(drop=True))
    for e in log:
        row = dirty.iloc[e["rad_excel"] - 2]
        orig = df.loc[df["rad_id"] == e["rad_id"]].iloc[0]
        kind, col = e["feltyp"], e["kolumn"]
        if kind == "dubblett":
            assert row[df.columns].equals(dirty.iloc[e["rad_excel"] - 3][df.columns])
            continue
        if kind == "fritext_personnummer":
            assert pn.find_in_text(row[synth.FREE_TEXT_COLUMN]) and col == ""
            continue
        assert row[col] != orig[col] and e["forvantat"] == ("" if col == "personnummer" else orig[col])
        if kind == "datumformat":
            assert _parse_variant(row[col]) == dt.date.fromisoformat(orig[col])
        elif kind == "ja_nej_variant":
            assert row[col].strip().lower() in schema.JA_NEJ_ALIASES_TRUE + schema.JA_NEJ_ALIASES_FALSE
            assert e["forvantat_kod"] == ("true" if orig[col] == "Ja" else "false")
        elif kind == "tom_obligatorisk":
            assert row[col] == "" and schema.column(col).required
        elif kind == "felstavad_kategori":
            assert e["forvantat_kod"] in schema.column(col).code_values()
        elif kind == "datumordning":
            assert row[col] < orig[col]
        elif kind == "omojlig_alder":
            assert not 0 <= int(row[col]) <= 20
        elif kind == "fel_kontrollsiffra":
            assert not pn.is_valid(row[col]) and row[col][:-1] == orig[col][:-1]
    assert synth.inject_errors(df, 0.0, np.random.default_rng(3))[1] == []
    with pytest.raises(ValueError, match="rate"):
        synth.inject_errors(df, 1.5, np.random.default_rng(3))


# --- the system export of storstad_oster -------------------------------------------------------

def test_export_has_free_text_and_the_mapping_reads_it(tmp_path: Path) -> None:
    spec = replace(synth.demo_spec("storstad_oster"), volym=300)
    df, _ = synth.generate_kommun(spec, SEED)
    synth.write_kommun(spec, SEED, raw_root=tmp_path)
    path = tmp_path / spec.kommun / synth.EXPORT_CSV
    text = path.read_bytes().decode(synth.EXPORT_ENCODING)
    export = pd.read_csv(path, sep=";", encoding=synth.EXPORT_ENCODING, dtype=str, keep_default_na=False)
    assert {"Ärendenummer", "Inkom", "Ärendetyp", "Anmälningsorsak", "Anteckning",
            "Handläggare"} <= set(export)
    assert set(export["Ärendetyp"]) <= set(synth.EXPORT_VALUES["aktualiseringstyp"])
    assert {"J", "N"} == set(export["Barnsamtal"]) - {""}
    assert export["Anteckning"].map(lambda t: bool(pn.find_in_text(t))).mean() > 0.3
    lengths = export["Personnummer"].str.len().value_counts()
    assert set(lengths.index) == {11, 13} and export["Personnummer"].map(synth.is_fake_personnummer).all()
    assert "Ålder" not in text.splitlines()[0] and "Kön" not in text.splitlines()[0]
    conf = synth.params_dict(spec)
    assert set(conf["mapping"]["drop"]) == {"Anteckning", "Handläggare"}
    raw = ingest.read_raw(path, conf)
    assert raw.problems == [] and {h for h, _ in raw.dropped_columns} == {"Anteckning", "Handläggare"}
    for col in ("aktualiseringstyp", "anmalare", "fb_beslut", "utredning_utfall", "insats_typ",
                *schema.REASON_COLUMNS):
        assert raw.frame[col].fillna("").tolist() == df[col].tolist(), col
    assert (raw.frame["rad_id"] == synth.case_numbers(df["aktualiseringsdatum"])).all()


# --- params files, national specs, command line ------------------------------------------------

@pytest.mark.parametrize("spec", synth.DEMO_SPECS, ids=lambda s: s.kommun)
def test_committed_params_files_load_and_are_current(spec: synth.KommunSpec, tmp_path: Path) -> None:
    loaded = params.load(spec.kommun)
    assert loaded["synthetic"] is True and loaded["input"] == spec.input_path
    assert loaded["period_slut"] == "2025-12-31" and loaded["ar"] == 2025
    synth.write_params(spec, tmp_path / "p.yaml")
    assert (tmp_path / "p.yaml").read_text(encoding="utf-8") == \
        paths.params_file(spec.kommun).read_text(encoding="utf-8"), "run `make data` and commit params/"


@pytest.mark.parametrize("spec", synth.DEMO_SPECS, ids=lambda s: s.kommun)
def test_demo_areas_are_declared_and_the_pilot_area_is_one_of_them(spec: synth.KommunSpec) -> None:
    conf = synth.params_dict(spec)
    if not spec.omraden:
        assert "omraden" not in conf and "pilot_omrade" not in conf
        return
    assert conf["omraden"] == list(spec.omraden)
    assert spec.pilot_omrade is None or conf["pilot_omrade"] in conf["omraden"]
    df, _ = synth.generate_kommun(replace(spec, volym=200), SEED)
    assert set(df["omrade"]) <= set(conf["omraden"])


def test_national_specs_sum_to_the_total_and_generate() -> None:
    specs = synth.national_specs(320, 420_000, seed=1)
    assert len(specs) == 320 and sum(s.volym for s in specs) == 420_000
    assert len({s.kommun for s in specs}) == 320 and len({s.namn for s in specs}) == 320
    assert min(s.volym for s in specs) >= 20 and max(s.volym for s in specs) > 10 * np.median(
        [s.volym for s in specs])
    assert specs == synth.national_specs(320, 420_000, seed=1)
    df, truth = synth.generate_kommun(min(specs, key=lambda s: s.volym), 1)
    assert len(df) > 0 and truth["models"]["utredning_inledd"]["kommun_effect"] != 0


def test_cli_demo_data_only_dirty_national(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(paths, "DATA_RAW", tmp_path / "raw")
    monkeypatch.setattr(paths, "PARAMS_DIR", tmp_path / "params")
    assert cli.main(["demo-data", "--only", "ekby", "--seed", "3", "--dirty", "0.05",
                     "--national", "500"]) == 0
    assert sorted(_files(tmp_path)) == ["params/ekby.yaml", "raw/ekby/aktualiseringar.xlsx",
                                        "raw/ekby/sanna_parametrar.json", "raw/nationell/aktualiseringar.csv",
                                        "raw/nationell/sanna_parametrar.json"]
    truth = synth.load_truth("ekby")
    assert truth["dirty"]["rate"] == 0.05 and truth["dirty"]["n_errors"] == round(
        0.05 * (truth["volumes"]["rows"]))
    assert "fritext_personnummer" not in {e["feltyp"] for e in truth["dirty"]["log"]}
    assert 300 < synth.load_truth("nationell")["volumes"]["rows"] < 700
    assert "ekby" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="unknown demo municipality 'nowhere'; valid: ekby"):
        cli.main(["demo-data", "--only", "nowhere"])


# --- integration with import and cleaning ------------------------------------------------------

@pytest.mark.parametrize("kommun", ["storstad_vaster", "storstad_oster"])
def test_clean_pipeline_agrees_with_the_generators_view(tmp_path: Path, kommun: str) -> None:
    from genomlysning import clean

    spec = replace(synth.demo_spec(kommun), volym=400)
    df, _ = synth.generate_kommun(spec, SEED)
    synth.write_kommun(spec, SEED, raw_root=tmp_path)
    conf = {**synth.params_dict(spec), "period_slut": synth.PERIOD_SLUT}
    result = clean.clean(ingest.read_raw(tmp_path / kommun / Path(spec.input_path).name, conf), conf,
                         key=b"k" * 32)
    assert len(result.quarantine) == 0 and len(result.problems) == 0
    got = result.frame.reset_index(drop=True)
    want = synth.clean_view(df, kommun, synth.PERIOD_SLUT)
    assert (pd.factorize(got["barn_id"])[0] == pd.factorize(want["barn_id"])[0]).all()
    cols = [c for c in schema.CLEAN_COLUMNS if c not in ("barn_id", "rad_id")]
    pd.testing.assert_frame_equal(got[cols], want[cols], check_dtype=False, check_categorical=False)


def test_dirty_rows_are_all_accounted_for(tmp_path: Path) -> None:
    from genomlysning import clean

    spec = replace(synth.demo_spec("norrvik"), volym=300)
    synth.write_kommun(spec, SEED, 0.1, raw_root=tmp_path)
    truth = synth.load_truth("norrvik", raw_root=tmp_path)
    conf = {**synth.params_dict(spec), "period_slut": synth.PERIOD_SLUT}
    result = clean.clean(ingest.read_raw(tmp_path / "norrvik" / synth.TEMPLATE_CSV, conf), conf,
                         key=b"k" * 32)
    acc = result.accounting
    assert len(result.frame) + len(result.quarantine) == truth["dirty"]["rows_in_file"]
    assert acc and truth["dirty"]["n_errors"] == round(0.1 * truth["volumes"]["rows"])
    flagged = set(result.problems["rad_excel"])
    fatal_kinds = {"tom_obligatorisk", "datumordning", "fel_kontrollsiffra", "dubblett"}
    for e in truth["dirty"]["log"]:
        if e["feltyp"] in fatal_kinds:
            assert e["rad_excel"] in flagged, e
