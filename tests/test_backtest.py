"""Back test: a published 2 x k table (Statistics Norway 2010, closed investigations by reporter and
conclusion, with unknown conclusions) expanded to case level, cleaned and run through the funnel,
gives back the table's shares and cross-product ratios exactly - the unknowns included, as
bortfall beside the shares and never as "no".

Provenance: tests/fixtures/ssb_2010_avslutta_undersokingar.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from clean_support import KEY, PARAMS, raw_table

from genomlysning import clean, funnel, schema

TABLE = json.loads((Path(__file__).parent / "fixtures" / "ssb_2010_avslutta_undersokingar.json")
                   .read_text(encoding="utf-8"))
REF = "foralder"
#: How an unknown conclusion is entered: blank, or one of the usual spellings of "uppgift saknas".
UNKNOWN_SPELLINGS = (None, "Uppgift saknas", "okänt", "vet ej", "?")


def _rows() -> list[dict[str, str | None]]:
    """One aktualisering per (reporter, investigation): opened, closed, with the table's conclusion."""
    code = TABLE["kodning"]["meldar"]
    out: list[dict[str, str | None]] = []
    start = pd.Timestamp("2010-01-04")
    for r in TABLE["rader"]:
        label = schema.code_label("anmalare", code[r["meldar"]])
        kinds = ["vedtak"] * r["vedtak"] + ["lagt_bort"] * r["lagt_bort"] + ["uoppgitt"] * r["uoppgitt"]
        for j, kind in enumerate(kinds):
            i = len(out)
            day = start + pd.Timedelta(days=i % 300)
            utfall = {"vedtak": "Insats beviljad", "lagt_bort": "Inget behov"}.get(kind)
            unknown = UNKNOWN_SPELLINGS[j % len(UNKNOWN_SPELLINGS)]
            out.append({
                "rad_id": str(i + 1), "barn_id": f"b{i:06d}", "alder": str(i % 18),
                "kon": "Flicka" if i % 2 else "Pojke",
                "aktualiseringsdatum": day.strftime("%Y-%m-%d"), "aktualiseringstyp": "Anmälan",
                "anmalare": label, "orsak_omsorgssvikt": "Ja", "fb_beslut": "Inleda utredning",
                "fb_datum": (day + pd.Timedelta(days=7)).strftime("%Y-%m-%d"),
                "utredning_start": (day + pd.Timedelta(days=7)).strftime("%Y-%m-%d"),
                "utredning_slut": (day + pd.Timedelta(days=60)).strftime("%Y-%m-%d"),
                # the published table records only the conclusion: the insats fields are left blank
                # (for "vedtak" the cleaning reads the offer from the outcome and says so)
                "utredning_utfall": utfall if utfall else unknown,
                "insats_erbjuden": None if utfall else unknown,
            })
    return out


@pytest.fixture(scope="module")
def cleaned() -> clean.CleanResult:
    params = {**PARAMS, "kommun": "ssb2010", "period_slut": "2010-12-31", "omraden": []}
    return clean.clean(raw_table(_rows()), params, key=KEY)


def test_the_table_is_consistent_with_its_provenance() -> None:
    rows = TABLE["rader"]
    assert all(r["vedtak"] + r["lagt_bort"] + r["uoppgitt"] == r["i_alt"] for r in rows)
    assert sum(r["i_alt"] for r in rows) == 24_966 and sum(r["uoppgitt"] for r in rows) == 101


def test_every_row_is_kept_and_the_implied_offer_is_said(cleaned: clean.CleanResult) -> None:
    assert len(cleaned.frame) == 24_966 and len(cleaned.quarantine) == 0
    rules = cleaned.problems["regel"].str.split(":").str[0]
    assert set(rules) == {"insats_underforstadd"}  # "Insats beviljad" -> Ja, "Inget behov" -> Nej
    assert len(rules) == 24_966 - 101
    f = cleaned.frame
    assert int(f["insats_erbjuden"].isna().sum()) == 101 == int(f["utredning_utfall"].isna().sum())


def test_shares_by_reporter_equal_the_table_and_unknowns_are_bortfall(cleaned: clean.CleanResult) -> None:
    t = funnel.breakdown(cleaned.frame, "aktualiseringar", ["anmalare"]).set_index("kategori")
    code = TABLE["kodning"]["meldar"]
    for r in TABLE["rader"]:
        row = t.loc[code[r["meldar"]]]
        assert row["n_aktualisering"] == r["i_alt"]
        assert row["n_insats_erbjuden"] == r["vedtak"]
        assert row["n_okand_insats_erbjuden"] == r["uoppgitt"]
        # the share of the known: vedtak / (vedtak + lagt bort), to the last digit
        assert row["andel_insats_erbjuden"] == r["vedtak"] / (r["vedtak"] + r["lagt_bort"])
    # the planted mistake - reading an unknown conclusion as "no" - would not reproduce the table
    wrong = {code[r["meldar"]]: r["vedtak"] / r["i_alt"] for r in TABLE["rader"]}
    assert all(t.loc[k, "andel_insats_erbjuden"] != v for k, v in wrong.items())


def test_the_funnel_and_outcome_tables_count_the_unknowns_in_both_units(cleaned: clean.CleanResult) -> None:
    f = cleaned.frame
    ved = sum(r["vedtak"] for r in TABLE["rader"])
    bort = sum(r["lagt_bort"] for r in TABLE["rader"])
    tratt = funnel.funnel(f).set_index(["enhet", "steg"])
    for unit in funnel.UNITS:  # one child per row: both units agree
        row = tratt.loc[(unit, "insats_erbjuden")]
        assert (row["n"], row["n_okand"], row["n_bas_foregaende"]) == (ved, 101, ved + bort)
        assert row["andel_foregaende"] == ved / (ved + bort)
    out = funnel.utredning_outcomes(f).set_index(["enhet", "utredning_utfall"])
    assert out.loc[("aktualiseringar", "insats"), "andel"] == ved / (ved + bort)
    assert out.loc[("aktualiseringar", funnel.MISSING), "n"] == 101
    assert np.isnan(out.loc[("aktualiseringar", funnel.MISSING), "andel"])


def test_cross_product_ratios_are_recovered(cleaned: clean.CleanResult) -> None:
    f = cleaned.frame
    known = f[f["insats_erbjuden"].notna()]
    code = TABLE["kodning"]["meldar"]
    by = {code[r["meldar"]]: r for r in TABLE["rader"]}
    counts = pd.crosstab(known["anmalare"].astype(str), known["insats_erbjuden"].astype(bool))
    levels = [c for c in by if c != REF]
    X = pd.DataFrame({c: (known["anmalare"].astype(str) == c).astype(float).to_numpy() for c in levels})
    X.insert(0, "const", 1.0)
    fit = sm.Logit(known["insats_erbjuden"].astype(float).to_numpy(), X).fit(disp=0, tol=1e-12, maxiter=100)
    ref = by[REF]
    for c in levels:
        table_or = (by[c]["vedtak"] * ref["lagt_bort"]) / (by[c]["lagt_bort"] * ref["vedtak"])
        cleaned_or = ((counts.loc[c, True] * counts.loc[REF, False])
                      / (counts.loc[c, False] * counts.loc[REF, True]))
        assert cleaned_or == pytest.approx(table_or, rel=1e-12)
        assert np.exp(fit.params[c]) == pytest.approx(table_or, rel=1e-8)
    assert len(known) == 24_966 - 101
