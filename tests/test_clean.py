"""Cleaning: every rule with a failing and a passing example, derived columns by hand, outputs, CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clean_support import (
    BASE,
    CHILD,
    KEY,
    MINIMAL,
    PARAMS,
    found,
    output_texts,
    pnr,
    raw_table,
    rid,
    row,
    run,
)

from genomlysning import clean, cli, ingest, personnummer, schema

FIXTURES = Path(__file__).parent / "fixtures"

# ---------------------------------------------------------------------------------------------
# Every rule: a failing and a passing example
# ---------------------------------------------------------------------------------------------

#: (rule, column, severity, cells making it fail, cells making it pass). Both start from BASE, or
#: from MINIMAL when the cells dict has "_base": "minimal". The passing example must be clean.
RULE_CASES: list[tuple[str, str, str, dict, dict]] = [
    ("obligatoriskt_saknas", "rad_id", "fel", {"rad_id": None}, {"rad_id": "A-17"}),
    ("obligatoriskt_saknas", "aktualiseringsdatum", "fel", {"aktualiseringsdatum": None}, {}),
    ("obligatoriskt_saknas", "aktualiseringstyp", "fel", {"aktualiseringstyp": None},
     {"aktualiseringstyp": "Ansökan"}),
    ("barn_oidentifierbart", "personnummer", "fel", {"personnummer": None},
     {"personnummer": None, "barn_id": "b00042"}),
    ("personnummer_ogiltigt", "personnummer", "fel", {"personnummer": CHILD[:-1] + "0"},
     {"personnummer": CHILD[2:]}),
    ("personnummer_ogiltigt", "personnummer", "fel", {"personnummer": "20150231-9821"},
     {"personnummer": CHILD.replace("-", "")}),
    ("personnummer_i_text", "rad_id", "fel", {"rad_id": CHILD}, {"rad_id": "2024-0001"}),
    ("personnummer_i_text", "barn_id", "fel", {"personnummer": None, "barn_id": CHILD[2:]},
     {"personnummer": None, "barn_id": "b12"}),
    ("personnummer_i_text", "omrade", "varning", {"omrade": f"Team {CHILD}"}, {"omrade": " väst "}),
    ("personnummer_i_text", "omrade", "varning", {"omrade": CHILD.replace("-", "\u2013")}, {}),
    ("personnummer_i_text", "fb_datum", "fel", {"fb_datum": CHILD.replace("-", " ")}, {}),
    ("personnummer_i_text", "anmalare", "varning", {"anmalare": f"Skola {CHILD[2:]}"}, {}),
    ("omrade_okant", "omrade", "varning", {"omrade": "Kalle Svensson"}, {"omrade": "PILOT"}),
    ("okand_kod", "aktualiseringstyp", "fel", {"aktualiseringstyp": "Blankett"},
     {"aktualiseringstyp": " ANMÄLAN "}),
    ("okand_kod", "fb_beslut", "fel", {"fb_beslut": "Kanske"}, {"fb_beslut": "inleds"}),
    ("okand_kod", "insats_erbjuden", "fel", {"insats_erbjuden": "kanske"}, {"insats_erbjuden": "x"}),
    ("okand_kod", "insats_svar", "fel", {"insats_svar": "Kanske"}, {"insats_svar": "ja"}),
    ("okand_kod", "insats_startad", "fel", {"insats_startad": "snart"}, {"insats_startad": "1"}),
    ("okand_kod", "anmalare", "varning", {"anmalare": "Kompis"}, {"anmalare": "bvc"}),
    ("okand_kod", "kon", "varning", {"kon": "q"}, {"kon": "F"}),
    ("okand_kod", "insats_typ", "varning", {"insats_typ": "Läxhjälp"},
     {"insats_typ": "hem för vård eller boende"}),
    ("okand_kod", "orsak_omsorgssvikt", "varning", {"orsak_omsorgssvikt": "kanske"},
     {"orsak_omsorgssvikt": "JA"}),
    ("stavning_tolkad", "anmalare", "varning", {"anmalare": "Polise"}, {"anmalare": "polisen"}),
    ("stavning_tolkad", "aktualiseringstyp", "varning", {"aktualiseringstyp": "Anmällan"},
     {"aktualiseringstyp": "orosanmälan"}),
    ("ogiltigt_datum", "fb_datum", "fel", {"fb_datum": "2024-02-30"}, {"fb_datum": "12/03/2024"}),
    ("ogiltigt_datum", "aktualiseringsdatum", "fel", {"aktualiseringsdatum": "igår"},
     {"aktualiseringsdatum": "5 mars 2024"}),
    ("ogiltigt_tal", "barnsamtal_antal", "varning", {"barnsamtal_antal": "två"},
     {"barnsamtal_antal": "2 st"}),
    ("ogiltigt_tal", "alder", "varning", {"alder": "nio"}, {"alder": "9 år"}),
    ("alder_utanfor", "alder", "fel", {"personnummer": None, "barn_id": "b1", "alder": "21"},
     {"personnummer": None, "barn_id": "b1", "alder": "20"}),
    ("alder_utanfor", "alder", "fel", {"personnummer": pnr("20000101", "983")},
     {"personnummer": pnr("20040101", "983")}),
    ("alder_utanfor", "alder", "fel", {"personnummer": pnr("20240401", "984")},
     {"personnummer": pnr("20240305", "984")}),
    ("barnsamtal_antal_utanfor", "barnsamtal_antal", "varning", {"barnsamtal_antal": "150"},
     {"barnsamtal_antal": "99"}),
    ("alder_motsagelse", "alder", "varning", {"alder": "8"}, {"alder": "9"}),
    ("kon_motsagelse", "kon", "varning", {"kon": "Pojke"}, {"kon": "Flicka"}),
    ("barn_id_ersatt", "barn_id", "varning", {"barn_id": "b-annat"}, {"barn_id": None}),
    ("datumordning", "skyddsbedomning_datum", "fel", {"skyddsbedomning_datum": "2024-03-01"},
     {"skyddsbedomning_datum": "2024-03-06"}),
    ("datumordning", "fb_datum", "fel", {"fb_datum": "2024-03-04"}, {"fb_datum": "2024-03-05"}),
    ("datumordning", "utredning_start", "fel", {"utredning_start": "2024-03-11"},
     {"utredning_start": "2024-03-13"}),
    ("datumordning", "utredning_start", "fel", {"utredning_start": "2024-01-10"},
     {"utredning_start": "2024-01-10", "fb_beslut": "Påförs pågående utredning"}),
    ("datumordning", "utredning_slut", "fel", {"utredning_slut": "2024-03-11"},
     {"utredning_slut": "2024-03-12"}),
    ("datum_efter_periodslut", "utredning_slut", "fel", {"utredning_slut": "2025-01-02"},
     {"utredning_slut": "2024-12-31"}),
    ("fb_datum_utan_beslut", "fb_beslut", "fel", {"_base": "minimal", "fb_datum": "2024-03-06"},
     {"_base": "minimal", "fb_datum": "2024-03-06", "fb_beslut": "Inte inleda utredning"}),
    ("fb_beslut_motsager_utredning", "fb_beslut", "fel", {"fb_beslut": "Inte inleda utredning"}, {}),
    ("utan_utredning", "utredning_slut", "fel",
     {"_base": "minimal", "fb_beslut": "Inte inleda", "fb_datum": "2024-03-06",
      "utredning_slut": "2024-05-01"},
     {"_base": "minimal", "fb_beslut": "Inleda", "fb_datum": "2024-03-06", "utredning_slut": "2024-05-01"}),
    ("utan_utredning", "utredning_utfall", "fel", {"_base": "minimal", "utredning_utfall": "Inget behov"},
     {"_base": "minimal", "utredning_utfall": "Inget behov", "utredning_start": "2024-03-06",
      "utredning_slut": "2024-04-06", "insats_erbjuden": "Nej"}),
    ("utan_utredning", "kontakt_skola", "varning", {"_base": "minimal", "kontakt_skola": "Ja"},
     {"_base": "minimal", "kontakt_skola": "Ja", "fb_beslut": "Inleda utredning"}),
    ("utan_utredning", "barnsamtal", "varning", {"_base": "minimal", "barnsamtal": "Nej"},
     {"_base": "minimal", "barnsamtal": "Nej", "utredning_start": "2024-03-07"}),
    ("utfall_utan_slut", "utredning_utfall", "fel", {"utredning_slut": None}, {}),
    ("svar_utan_insats", "insats_svar", "fel", {"insats_erbjuden": "Nej", "insats_startad": None,
                                               "insats_typ": None, "insats_lagrum": None,
                                               "utredning_utfall": "Hänvisad till annat stöd"},
     {"insats_erbjuden": "Ja", "insats_svar": "Tackat nej", "insats_startad": "Nej"}),
    ("svar_utan_insats", "insats_svar", "fel", {"insats_erbjuden": "nej", "insats_startad": None,
                                               "insats_typ": None, "insats_lagrum": None,
                                               "utredning_utfall": "Hänvisad till annat stöd"},
     {"insats_erbjuden": "nej", "insats_svar": None, "insats_startad": None, "insats_typ": None,
      "insats_lagrum": None, "utredning_utfall": "Hänvisad till annat stöd"}),
    ("insats_underforstadd", "insats_erbjuden", "varning", {"insats_erbjuden": None},
     {"insats_erbjuden": "Uppgift saknas", "insats_svar": None, "insats_startad": None, "insats_typ": None,
      "insats_lagrum": None, "utredning_utfall": "Avslutad av annat skäl"}),
    ("insats_underforstadd", "insats_erbjuden", "varning",
     {"insats_erbjuden": None, "utredning_utfall": "Hänvisad till annat stöd"},
     {"insats_erbjuden": "vet ej", "utredning_utfall": "Hänvisad till annat stöd", "insats_svar": None,
      "insats_startad": None, "insats_typ": None, "insats_lagrum": None}),
    ("utfall_motsager_insats", "insats_erbjuden", "varning",
     {"insats_erbjuden": "Nej", "insats_svar": None, "insats_startad": None, "insats_typ": None,
      "insats_lagrum": None}, {"insats_erbjuden": "Ja"}),
    ("utfall_motsager_insats", "insats_erbjuden", "varning", {"utredning_utfall": "Inget behov"},
     {"utredning_utfall": "Insats beviljad"}),
    ("utfall_motsager_insats", "insats_svar", "varning",
     {"utredning_utfall": "Behov men vårdnadshavare/den unge avböjer", "insats_startad": None},
     {"utredning_utfall": "Behov men vårdnadshavare/den unge avböjer", "insats_svar": "Tackat nej",
      "insats_startad": "Nej"}),
    ("startad_utan_ja", "insats_startad", "fel", {"insats_svar": "Tackat nej"},
     {"insats_svar": "Tackat nej", "insats_lagrum": "LVU"}),
    ("insats_utan_erbjudande", "insats_typ", "fel",
     {"_base": "minimal", "insats_typ": "HVB", "insats_erbjuden": "Nej"},
     {"_base": "minimal", "insats_typ": "HVB", "insats_erbjuden": "Ja"}),
    ("insats_utan_erbjudande", "insats_lagrum", "fel",
     {"_base": "minimal", "insats_lagrum": "SoL", "insats_erbjuden": "n"},
     {"_base": "minimal", "insats_lagrum": "SoL", "insats_erbjuden": "J"}),
    ("barnsamtal_antal_motsagelse", "barnsamtal_antal", "varning", {"barnsamtal_antal": "0"},
     {"barnsamtal_antal": "3"}),
    ("barnsamtal_antal_motsagelse", "barnsamtal_antal", "varning", {"barnsamtal": "Nej"},
     {"barnsamtal": "Nej", "barnsamtal_antal": "0"}),
    ("barnsamtal_antal_motsagelse", "barnsamtal", "varning", {"barnsamtal": None},
     {"barnsamtal": None, "barnsamtal_antal": None}),
    ("orsak_saknas", "orsak_*", "varning", {"orsak_omsorgssvikt": None},
     {"orsak_omsorgssvikt": None, "aktualiseringstyp": "Ansökan"}),
]


def _cells(spec: dict) -> dict[str, str | None]:
    spec = dict(spec)
    base = MINIMAL if spec.pop("_base", None) == "minimal" else BASE
    return row(base, **spec)


@pytest.mark.parametrize(("rule", "column", "severity", "bad", "good"), RULE_CASES,
                         ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(RULE_CASES)])
def test_rule_fails_and_passes(rule: str, column: str, severity: str, bad: dict, good: dict) -> None:
    failing = run([_cells(bad)])
    assert (2, rule, column, severity) in found(failing)
    assert failing.accounting["rows_quarantined"] == (1 if severity == "fel" else 0)
    passing = run([_cells(good)])
    assert found(passing) == set()
    assert passing.accounting["rows_clean"] == 1


def test_every_rule_has_a_case_and_a_description() -> None:
    tested = {c[0] for c in RULE_CASES} | {"dubblett", "dubblett_rad_id"}
    own = {r.id for r in clean.RULES} - {r.id for _, r in clean.INGEST_RULES}
    assert own == tested
    for r in clean.RULES:
        assert r.sv and r.en and r.allvarlighet in ("fel", "varning")
        assert r.id in clean.__doc__ or r.id in {x.id for _, x in clean.INGEST_RULES}


def test_duplicates_later_copy_is_fatal_and_names_the_first() -> None:
    a = row(rad_id="1")
    result = run([a, row(rad_id="2"), row(rad_id="3", orsak_skolfranvaro="Ja")])
    assert found(result) == {(3, "dubblett", "aktualiseringsdatum", "fel")}
    assert "rad 2" in result.problems["giltigt"].iloc[0]
    assert list(result.quarantine["rad_excel"]) == [3]
    assert sorted(result.frame["rad_excel"]) == [2, 4]


def test_duplicate_rad_id_is_fatal_for_the_later_rows() -> None:
    rows = [row(rad_id="7"), row(rad_id="7", aktualiseringsdatum="2024-04-01", fb_datum="2024-04-02",
                                 utredning_start="2024-04-02", skyddsbedomning_datum=None),
            row(rad_id="8", aktualiseringsdatum="2024-05-01", fb_datum="2024-05-02",
                utredning_start="2024-05-02", skyddsbedomning_datum=None)]
    result = run(rows)
    assert found(result) == {(3, "dubblett_rad_id", "rad_id", "fel")}
    assert "rad 2" in result.problems["giltigt"].iloc[0]


def test_excel_numbers_in_rad_id_are_whole_numbers() -> None:
    result = run([row(rad_id="12.0")])
    assert result.frame["rad_id"].tolist() == [rid("12")]
    again = run([row(rad_id="12.0"), row(rad_id="12", personnummer=pnr("20150304", "984"))])
    assert found(again) == {(3, "dubblett_rad_id", "rad_id", "fel")}


# ---------------------------------------------------------------------------------------------
# Normalisation: codes, yes/no, dates, numbers
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [*schema.JA_NEJ_ALIASES_TRUE, "Ja", " JA ", "J", "X", "1.0", "Sant"])
def test_yes_variants(text: str) -> None:
    assert clean.match_code(text, "barnsamtal") == (True, "exakt")


@pytest.mark.parametrize("text", [*schema.JA_NEJ_ALIASES_FALSE, "Nej", " NEJ", "N", "0.0", "FALSKT"])
def test_no_variants(text: str) -> None:
    assert clean.match_code(text, "kontakt_polis") == (False, "exakt")


def test_every_code_label_and_alias_matches_exactly() -> None:
    for c in schema.COLUMNS:
        for code in c.codes if c.role == "input" else ():
            for text in (code.code, code.sv, code.en, *code.aliases, code.sv.upper(), f"  {code.sv} "):
                assert clean.match_code(text, c.name) == (code.code, "exakt"), (c.name, text)


@pytest.mark.parametrize(("text", "col", "expected"), [
    ("Polise", "anmalare", "polisen"), ("Skolaa", "anmalare", "skola"),
    ("Vårdnadshavar", "anmalare", "foralder"), ("Anmällan", "aktualiseringstyp", "anmalan"),
    ("Overflytning", "aktualiseringstyp", "overflyttning"),
    ("Hälso och sjukvård", "anmalare", "halso_sjukvard"),
    ("familjebehandlin", "insats_typ", "familjebehandling"),
])
def test_near_misspellings_are_read_with_a_warning(text: str, col: str, expected: str) -> None:
    assert clean.match_code(text, col) == (expected, "tolkad")


@pytest.mark.parametrize(("text", "col"), [
    ("Kompis", "anmalare"), ("q", "kon"), ("ja!!!!", "anmalare"), ("Info", "aktualiseringstyp"),
    ("jaaa", "barnsamtal"), ("inleda inte utredning", "fb_beslut"),
])
def test_far_or_ambiguous_values_are_unknown(text: str, col: str) -> None:
    assert clean.match_code(text, col) == (None, "okand")


def test_fuzzy_match_refuses_when_two_codes_are_equally_close() -> None:
    # "tackat je": 0.889 to "tackat ja", 0.842 to "tackat nej" - within the margin, so no guess
    value, status = clean.match_code("tackat je", "insats_svar")
    assert status == "okand" and value is None


def test_misspelling_warning_says_what_it_was_read_as() -> None:
    result = run([row(anmalare="Polise")])
    assert result.problems["giltigt"].tolist() == ["tolkat som 'Polisen'"]
    assert result.frame["anmalare"].tolist() == ["polisen"]


def test_unknown_optional_code_becomes_missing_and_names_valid_values() -> None:
    result = run([row(anmalare="Kompis")])
    assert result.frame["anmalare"].isna().all()
    assert "Polisen" in result.problems["giltigt"].iloc[0] and "Skola" in result.problems["giltigt"].iloc[0]


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-03-05", dt.date(2024, 3, 5)), ("2024-3-5", dt.date(2024, 3, 5)),
    ("05/03/2024", dt.date(2024, 3, 5)), ("5.3.2024", dt.date(2024, 3, 5)),
    ("05-03-2024", dt.date(2024, 3, 5)), ("20240305", dt.date(2024, 3, 5)),
    ("5 mars 2024", dt.date(2024, 3, 5)), ("5 Mars 2024", dt.date(2024, 3, 5)),
    ("5 mar. 2024", dt.date(2024, 3, 5)), ("31 december 2023", dt.date(2023, 12, 31)),
    ("45356", dt.date(2024, 3, 5)), ("45356.0", dt.date(2024, 3, 5)), ("45292", dt.date(2024, 1, 1)),
    ("2024-03-05 00:00:00", dt.date(2024, 3, 5)), ("2024-03-05T14:30", dt.date(2024, 3, 5)),
    ("2024-03-05 14:30:15.25", dt.date(2024, 3, 5)), ("2024/03/05", dt.date(2024, 3, 5)),
    ("29/02/2024", dt.date(2024, 2, 29)),
])
def test_date_formats(text: str, expected: dt.date) -> None:
    assert clean.parse_date(text) == expected


@pytest.mark.parametrize("text", ["2024-02-30", "29/02/2023", "32/13/2024", "igår", "2024", "5 mors 2024",
                                  "1899-12-31", "12345", "2100-01-01", "03/05/24"])
def test_unreadable_dates(text: str) -> None:
    assert clean.parse_date(text) is None


def test_unreadable_date_problem_lists_the_accepted_formats() -> None:
    result = run([row(fb_datum="12/31/2024")])
    assert result.problems["giltigt"].tolist() == [clean.FORMAT_TEXT]


def test_parse_ints() -> None:
    values, bad = clean.parse_ints(pd.Series(["3", "3.0", "12 år", None, "2,5", "tre", "4 st"], dtype=object))
    assert values.tolist() == [3, 3, 12, pd.NA, pd.NA, pd.NA, 4]
    assert bad.tolist() == [False, False, False, False, True, True, False]


# ---------------------------------------------------------------------------------------------
# The child: personnummer -> barn_id, age, kön; nothing identifying survives
# ---------------------------------------------------------------------------------------------

def test_barn_id_age_and_sex_from_personnummer() -> None:
    boy = pnr("20100812", "991")
    result = run([row(), row(rad_id="2", personnummer=boy[2:], aktualiseringsdatum="2024-08-11",
                             skyddsbedomning_datum=None, fb_datum=None, fb_beslut=None, utredning_start=None,
                             utredning_slut=None, barnsamtal=None, barnsamtal_antal=None, kontakt_skola=None,
                             utredning_utfall=None, insats_erbjuden=None, insats_svar=None,
                             insats_startad=None, insats_typ=None, insats_lagrum=None)])
    f = result.frame.set_index("rad_excel")
    assert f.loc[2, "barn_id"] == personnummer.pseudonymise(CHILD.replace("-", ""), KEY)
    assert f.loc[3, "barn_id"] == personnummer.pseudonymise(boy.replace("-", ""), KEY)
    assert f.loc[2, "alder"] == 9 and f.loc[2, "kon"] == "flicka"
    assert f.loc[3, "alder"] == 13 and f.loc[3, "kon"] == "pojke"  # birthday is the next day
    assert "personnummer" not in result.frame.columns


def test_ten_digit_form_gives_the_same_child() -> None:
    result = run([row(), row(rad_id="2", personnummer=CHILD[2:], orsak_skolfranvaro="Ja")])
    assert result.frame["barn_id"].nunique() == 1
    assert result.frame["tidigare_i_data"].tolist() == [False, False]  # same date: not earlier


def test_entered_sex_is_kept_when_it_disagrees_and_filled_when_missing() -> None:
    result = run([row(kon="Pojke")])
    assert result.frame["kon"].tolist() == ["pojke"]
    assert run([row(kon="Okänt")]).frame["kon"].tolist() == ["okant"]


def test_age_disagreement_personnummer_wins() -> None:
    result = run([row(alder="25")])
    assert found(result) == {(2, "alder_motsagelse", "alder", "varning")}
    assert result.frame["alder"].tolist() == [9]
    assert result.problems["giltigt"].tolist() == ["9 enligt personnumret"]


def test_pseudonymised_rows_without_personnummer_are_accepted() -> None:
    result = run([row(personnummer=None, barn_id="b0001", alder="7", kon="Pojke")])
    assert found(result) == set()
    expected = personnummer.pseudonymise_id("barn_id", "b0001", KEY)
    got = result.frame[["barn_id", "alder", "kon"]].astype(object).values.tolist()
    assert got == [[expected, 7, "pojke"]]
    assert expected != "b0001" and expected.isalpha()


#: (cells, column, rule, what the report shows as the value)
SHOWN_CASES: list[tuple[dict, str, str, str]] = [
    ({"anmalare": "Kalle Svensson"}, "anmalare", "okand_kod", "text, 14 tecken"),
    ({"anmalare": "Skolaa"}, "anmalare", "stavning_tolkad", "text, 6 tecken"),
    ({"aktualiseringstyp": "Ring Eva 070-1234567"}, "aktualiseringstyp", "okand_kod", "text, 20 tecken"),
    ({"fb_datum": "igår kväll"}, "fb_datum", "ogiltigt_datum", "text, 10 tecken"),
    ({"fb_datum": "2024-02-30"}, "fb_datum", "ogiltigt_datum", "2024-02-30"),  # date-shaped: shown
    ({"fb_datum": "2024-03-04"}, "fb_datum", "datumordning", "2024-03-04"),
    ({"barnsamtal_antal": "två med Eva"}, "barnsamtal_antal", "ogiltigt_tal", "text, 11 tecken"),
    ({"barnsamtal_antal": "150"}, "barnsamtal_antal", "barnsamtal_antal_utanfor", "150"),
    ({"alder": "25"}, "alder", "alder_motsagelse", "25"),
    ({"personnummer": None, "barn_id": "b1", "alder": "112"}, "alder", "alder_utanfor", "112"),
    ({"personnummer": pnr("20000101", "983")}, "alder", "alder_utanfor", "(från personnumret)"),
    ({"insats_erbjuden": "Nej", "insats_startad": None, "insats_typ": None, "insats_lagrum": None,
      "utredning_utfall": "Hänvisad till annat stöd"},
     "insats_svar", "svar_utan_insats", "Tackat ja"),  # a schema label is shown
    ({"personnummer": "Kalle Anka"}, "personnummer", "personnummer_ogiltigt", "text, 10 tecken"),
    ({"personnummer": CHILD[:-1] + "0"}, "personnummer", "personnummer_ogiltigt", "XXXXXXXX-XXXX"),
    ({"omrade": "Lisa Nilsson"}, "omrade", "omrade_okant", "text, 12 tecken"),
    ({"omrade": f"Lisa {CHILD}"}, "omrade", "personnummer_i_text",
     "text med något som liknar ett personnummer, 18 tecken"),
    ({"rad_id": CHILD}, "rad_id", "personnummer_i_text", "liknar ett personnummer, 13 tecken"),
]


@pytest.mark.parametrize(("cells", "col", "rule", "shown"), SHOWN_CASES,
                         ids=[f"{c[2]}-{c[1]}-{i}" for i, c in enumerate(SHOWN_CASES)])
def test_a_problem_shows_only_codes_numbers_and_dates(cells: dict, col: str, rule: str, shown: str) -> None:
    result = run([row(**cells)])
    p = result.problems
    hit = p[(p["kolumn"] == col) & (p["regel"].str.split(":").str[0] == rule)]
    assert hit["varde"].tolist() == [shown]
    for text in cells.values():
        if text and shown != text:
            assert all(text not in t for t in output_texts(result)), text


def test_duplicate_case_numbers_are_reported_by_shape() -> None:
    result = run([row(rad_id="IFO-2024-17"), row(rad_id="IFO-2024-17", personnummer=pnr("20150304", "984"))])
    assert result.problems["varde"].tolist() == ["text, 11 tecken"]
    assert "IFO-2024-17" not in " ".join(output_texts(result))


@pytest.mark.parametrize(("col", "text", "lang", "shown"), [
    ("kon", "flicka", "sv", "flicka"), ("barnsamtal", "x", "sv", "x"), ("rad_id", "17", "sv", "17"),
    ("rad_id", "A-17", "en", "text, 4 characters"), ("barn_id", "b1", "sv", "text, 2 tecken"),
    ("fb_datum", "5 mars 2024", "sv", "5 mars 2024"), ("fb_datum", "45356", "sv", "45356"),
    ("alder", "1234567", "sv", "tal, 7 siffror"), ("Handläggare", "Eva", "sv", "text, 3 tecken"),
    ("fb_datum", "19811218-9876", "en", "looks like a personnummer, 13 characters"), ("kon", "", "sv", ""),
])
def test_display_value(col: str, text: str, lang: str, shown: str) -> None:
    assert clean.display_value(col, text, lang) == shown


def test_invalid_personnummer_is_masked_in_the_report() -> None:
    bad = CHILD[:-1] + "0"
    result = run([row(personnummer=bad)])
    assert result.problems["varde"].tolist() == ["XXXXXXXX-XXXX"]
    assert not any(ch.isdigit() for ch in result.problems["varde"].iloc[0])
    assert list(result.quarantine.columns) == list(clean.QUARANTINE_COLUMNS)
    assert result.quarantine["regler"].tolist() == ["personnummer_ogiltigt"]


def test_omrade_with_personnummer_is_cleared() -> None:
    result = run([row(omrade=f"Team {CHILD}")])
    assert result.frame["omrade"].isna().all()
    assert CHILD not in " ".join(output_texts(result))


def test_declared_areas_are_kept_in_their_declared_spelling_and_others_become_unknown() -> None:
    rows = [row(omrade=" pilot"), row(rad_id="2", omrade="Öst", personnummer=_child(1)),
            row(rad_id="3", omrade=None, personnummer=_child(2))]
    result = run(rows)
    assert [None if pd.isna(v) else v for v in result.frame["omrade"]] == ["Pilot", None, None]
    assert found(result) == {(3, "omrade_okant", "omrade", "varning")}
    [p] = result.problem_list()
    assert p.varde == "text, 3 tecken" and "Väst, Pilot" in p.giltigt
    assert result.accounting["rows_clean"] == 3  # the row is kept, only its area is unknown


def test_areas_without_a_declared_list_are_all_unknown_and_say_how_to_declare() -> None:
    params = {k: v for k, v in PARAMS.items() if k != "omraden"}
    rows = [row(omrade="Väst"), row(rad_id="2", omrade="Pilot", personnummer=_child(1))]
    result = clean.clean(raw_table(rows), params, key=KEY)
    assert result.frame["omrade"].isna().all() and result.accounting["rows_clean"] == 2
    assert set(result.problems["regel"].str.split(":").str[0]) == {"omrade_okant"}
    assert all("omraden: [" in g and "params" in g for g in result.problems["giltigt"])
    assert "Väst" not in " ".join(output_texts(result)) and "Pilot" not in " ".join(result.problems["varde"])


def test_key_is_read_from_params_once_and_only_when_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    monkeypatch.setattr(personnummer, "load_key", lambda params: calls.append(params) or KEY)
    clean.clean(raw_table([]), PARAMS)
    assert calls == []
    clean.clean(raw_table([row(), row(rad_id="2", personnummer=None, barn_id="b1")]), PARAMS)
    assert len(calls) == 1


def test_a_key_shorter_than_32_bytes_is_refused() -> None:
    with pytest.raises(personnummer.KeyMissingError, match=r"för kort \(31 byte; minst 32\)"):
        clean.clean(raw_table([row()]), PARAMS, key=b"k" * 31)


def test_synthetic_params_need_demo_convention_personnummer() -> None:
    synthetic = {**PARAMS, "synthetic": True}
    assert run([row()], synthetic=True).accounting["rows_clean"] == 1  # serial 982: demo series
    outside = pnr("20150304", "123")
    rows = [row(), row(rad_id="2", personnummer=outside, aktualiseringsdatum="2024-03-06")]
    with pytest.raises(personnummer.SyntheticDataError) as exc:
        clean.clean(raw_table(rows), synthetic, key=KEY)
    msg = str(exc.value)
    assert "test.csv" in msg and "1 rader" in msg and "rad 3" in msg and "980–999" in msg
    assert "secrets.token_hex(32)" in msg and outside not in msg and outside[2:] not in msg
    mistyped = row(personnummer=CHILD[:-1] + "0")  # a wrong control digit is still in the demo series
    assert clean.clean(raw_table([mistyped]), synthetic, key=KEY).accounting["rows_in"] == 1


def test_missing_key_for_real_data_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(personnummer.KEY_ENV, raising=False)
    monkeypatch.delenv(personnummer.KEY_FILE_ENV, raising=False)
    monkeypatch.setattr(personnummer, "default_key_file", lambda: tmp_path / "none")
    with pytest.raises(personnummer.KeyMissingError):
        clean.clean(raw_table([row()]), {**PARAMS, "synthetic": False})


# ---------------------------------------------------------------------------------------------
# Derived columns, computed by hand
# ---------------------------------------------------------------------------------------------

def _plain(**cells: str | None) -> dict[str, str | None]:
    """A MINIMAL row (no decision yet) with ``cells``."""
    return row(MINIMAL, **cells)


def _child(i: int) -> str:
    """The personnummer of the i-th test child (all born 2015-03-04, so aged 9 in March 2024)."""
    return pnr("20150304", f"{900 + i:03d}")


def test_reaktualisering_window_is_inclusive_and_strictly_earlier() -> None:
    other = pnr("20120101", "993")
    rows = [_plain(rad_id="1", aktualiseringsdatum="2023-01-10"),
            _plain(rad_id="2", aktualiseringsdatum="2023-06-01"),
            _plain(rad_id="3", aktualiseringsdatum="2024-06-01"),   # exactly 12 months after row 2
            _plain(rad_id="4", aktualiseringsdatum="2024-06-01", aktualiseringstyp="Ansökan"),  # same day
            _plain(rad_id="5", aktualiseringsdatum="2024-12-01", personnummer=other),
            _plain(rad_id="6", aktualiseringsdatum="2024-06-03", personnummer=other)]
    f = run(rows).frame.set_index("rad_excel").sort_index()
    assert f["tidigare_i_data"].tolist() == [False, True, True, True, True, False]
    assert f["ateraktualisering"].tolist() == [False, True, True, True, True, False]
    f6 = run(rows, ateraktualisering_manader=6).frame.set_index("rad_excel").sort_index()
    assert f6["ateraktualisering"].tolist() == [False, True, False, False, True, False]


def test_reaktualisering_row_after_a_gap() -> None:
    rows = [_plain(rad_id="1", aktualiseringsdatum="2023-01-10"),
            _plain(rad_id="2", aktualiseringsdatum="2024-06-02")]
    f = run(rows).frame.set_index("rad_excel")
    assert f.loc[3, "tidigare_i_data"] and not f.loc[3, "ateraktualisering"]


def test_reaktualisering_of_a_child_entered_by_barn_id_only() -> None:
    def entered(rad_id: str, barn_id: str, datum: str) -> dict[str, str | None]:
        return _plain(rad_id=rad_id, personnummer=None, barn_id=barn_id, alder="9", aktualiseringsdatum=datum)
    rows = [entered("1", "x-0042", "2024-01-10"), entered("2", "x-0042", "2024-06-01"),
            entered("3", "x-0043", "2024-07-01")]
    f = run(rows).frame.set_index("rad_excel").sort_index()
    assert f["ateraktualisering"].tolist() == [False, True, False]
    assert f["barn_id"].nunique() == 2 and not f["barn_id"].str.contains("x-004").any()


def test_previous_date_matches_a_loop() -> None:
    rng = np.random.default_rng(3)
    child = rng.integers(0, 20, 300)
    date = (np.datetime64("2024-01-01", "ns") + rng.integers(0, 60, 300).astype("timedelta64[D]"))
    prev = clean.previous_date(child, date)
    for i in range(300):
        earlier = date[(child == child[i]) & (date < date[i])]
        expected = earlier.max() if earlier.size else np.datetime64("NaT")
        assert (np.isnat(prev[i]) and np.isnat(expected)) or prev[i] == expected


def test_forhandsbedomning_timeliness_and_censoring() -> None:
    rows = [_plain(rad_id="a", fb_beslut="Inte inleda", fb_datum="2024-03-19"),        # 14 days
            _plain(rad_id="b", fb_beslut="Inte inleda", fb_datum="2024-03-20"),        # 15 days
            _plain(rad_id="c", aktualiseringsdatum="2024-12-20"),                      # open, 11 days
            _plain(rad_id="d", aktualiseringsdatum="2024-12-17"),                      # open, exactly 14
            _plain(rad_id="e", aktualiseringsdatum="2024-12-01"),                      # open, 30 days
            _plain(rad_id="f", fb_beslut="Inte inleda"),                               # decided, no date
            # decided in 2 days, but the 14 days had not passed at period end: outside the complete
            # cohort (keeping it while dropping the open ones would favour the quick cases)
            _plain(rad_id="g", aktualiseringsdatum="2024-12-20", fb_beslut="Inte inleda",
                   fb_datum="2024-12-22")]
    for i, r in enumerate(rows):
        r["personnummer"] = _child(i)
    f = run(rows).frame.set_index("rad_excel").sort_index()
    assert f["fb_beslutad"].tolist() == [True, True, False, False, False, True, True]
    assert f["dagar_till_fb"].astype(object).tolist() == [14, 15, pd.NA, pd.NA, pd.NA, pd.NA, 2]
    assert f["fb_inom_frist"].astype(object).tolist() == [True, False, pd.NA, pd.NA, False, pd.NA, pd.NA]
    assert f["fb_oppen_vid_periodslut"].tolist() == [False, False, True, True, True, False, False]


def test_utredning_timeliness_and_censoring() -> None:
    def u(rid: str, start: str | None, end: str | None, beslut: str = "Inleda utredning",
          fb: str | None = None) -> dict[str, str | None]:
        return _plain(rad_id=rid, personnummer=_child(ord(rid) - 96), aktualiseringsdatum="2024-01-02",
                      fb_beslut=beslut, fb_datum=fb, utredning_start=start, utredning_slut=end)
    rows = [u("a", "2024-01-02", "2024-05-03"),          # 122 days
            u("b", "2024-01-02", "2024-05-04"),          # 123 days
            u("c", "2024-10-01", None),                  # open 91 days at period end: censored
            u("d", "2024-06-01", None),                  # open 213 days: overdue
            u("e", None, "2024-03-01", fb="2024-01-05"),  # start from the decision date: 56 days
            u("f", None, None),                          # opened, no dates: unknown
            _plain(rad_id="g", fb_beslut="Inte inleda", fb_datum="2024-03-06"),
            u("h", "2024-10-01", "2024-11-01")]          # closed in 31 days, deadline not passed: outside
    result = run(rows)
    assert found(result) == set()
    f = result.frame.set_index("rad_excel").sort_index()
    assert f["utredning_inledd"].tolist() == [True] * 6 + [False, True]
    assert f["utredning_avslutad"].tolist() == [True, True, False, False, True, False, False, True]
    assert f["utredning_dagar"].astype(object).tolist() == [122, 123, pd.NA, pd.NA, 56, pd.NA, pd.NA, 31]
    assert f["utredning_inom_frist"].astype(object).tolist() == [True, False, pd.NA, False, True, pd.NA,
                                                                  pd.NA, pd.NA]
    assert f["utredning_oppen_vid_periodslut"].tolist() == [False, False, True, True, False, True, False,
                                                            False]


def test_pagaende_counts_as_utredning_inledd() -> None:
    f = run([_plain(fb_beslut="Påförs pågående utredning", fb_datum="2024-03-06")]).frame
    assert f["utredning_inledd"].tolist() == [True]


@pytest.mark.parametrize(("age", "group"), [(0, "0-5"), (5, "0-5"), (6, "6-12"), (12, "6-12"), (13, "13-17"),
                                            (17, "13-17"), (18, "18-20"), (20, "18-20")])
def test_aldersgrupp_boundaries(age: int, group: str) -> None:
    f = run([row(personnummer=None, barn_id="b1", alder=str(age))]).frame
    assert f["aldersgrupp"].tolist() == [group] and group == schema.aldersgrupp_of(age)


def test_arendetyp_priority_and_reason_count() -> None:
    rows = [_plain(rad_id="1", orsak_omsorgssvikt="Ja", orsak_bevittnat_vald="Ja"),
            _plain(rad_id="2", orsak_omsorgssvikt="Ja", orsak_skolfranvaro="Ja",
                   aktualiseringsdatum="2024-03-06"),
            _plain(rad_id="3", orsak_omsorgssvikt=None, orsak_skolfranvaro="Ja",
                   aktualiseringsdatum="2024-03-07"),
            _plain(rad_id="4", orsak_omsorgssvikt=None, orsak_ovrigt="Ja", aktualiseringsdatum="2024-03-08"),
            _plain(rad_id="5", orsak_omsorgssvikt=None, aktualiseringstyp="Ansökan")]
    f = run(rows).frame.set_index("rad_excel").sort_index()
    assert f["arendetyp"].tolist() == ["vald", "foralder", "barnet", "ovrigt", "ovrigt"]
    assert f["antal_orsaker"].tolist() == [2, 2, 1, 1, 0]
    for rad, r in f.iterrows():
        codes = {x.code for x in schema.ORSAKER if r[x.column]}
        assert r["arendetyp"] == schema.arendetyp_of(codes), rad


def test_insats_flags() -> None:
    rows = [row(rad_id="1"),
            row(rad_id="2", aktualiseringsdatum="2024-03-06", insats_typ="Kontaktperson"),
            row(rad_id="3", aktualiseringsdatum="2024-03-07", insats_typ=None),
            row(rad_id="4", aktualiseringsdatum="2024-03-08", insats_erbjuden="Nej", insats_svar=None,
                insats_startad=None, insats_typ=None, insats_lagrum=None,
                utredning_utfall="Hänvisad till annat stöd"),
            row(rad_id="5", aktualiseringsdatum="2024-03-09", insats_svar="Tackat nej", insats_startad="Nej")]
    for i, r in enumerate(rows):
        r.update(personnummer=_child(i), aktualiseringsdatum="2024-03-05")
    result = run(rows)
    assert found(result) == set()
    f = result.frame.set_index("rad_excel").sort_index()
    assert f["insats_heldygn"].astype(object).tolist() == [True, False, pd.NA, False, True]
    assert f["insats_accepterad"].tolist() == [True, True, True, False, False]
    assert f["insats_erbjuden"].tolist() == [True, True, True, False, True]
    assert f["insats_startad"].tolist() == [True, True, True, False, False]


def test_calendar_columns_and_kommun() -> None:
    f = run([row(aktualiseringsdatum="05/03/2024")], kommun="ekby").frame
    values = f[["kommun", "ar", "manad", "rad_excel"]].astype(object).values.tolist()
    assert values == [["ekby", 2024, "2024-03", 2]]


def test_stage_flags_never_missing_and_dtypes_exact() -> None:
    result = run([row(), _plain(rad_id="2", insats_erbjuden=None, aktualiseringsdatum="2024-04-01")])
    f = result.frame
    assert list(f.columns) == list(schema.CLEAN_COLUMNS)
    for c in schema.CLEAN_COLUMNS:
        assert f[c].dtype == schema.pandas_dtype(c), c
    for c in ("fb_beslutad", "utredning_inledd", "utredning_avslutad", "insats_erbjuden", "insats_accepterad",
              "insats_startad", "ateraktualisering", "tidigare_i_data", *schema.REASON_COLUMNS):
        assert f[c].notna().all(), c


def test_rows_sorted_by_date_then_excel_row() -> None:
    rows = [_plain(rad_id="1", aktualiseringsdatum="2024-05-01"),
            _plain(rad_id="2", aktualiseringsdatum="2024-03-01", personnummer=pnr("20110101", "985")),
            _plain(rad_id="3", aktualiseringsdatum="2024-03-01", personnummer=pnr("20120101", "985"))]
    assert run(rows).frame["rad_id"].tolist() == [rid("2"), rid("3"), rid("1")]


def test_period_slut_from_data_when_not_a_parameter() -> None:
    params = {k: v for k, v in PARAMS.items() if k != "period_slut"}
    result = clean.clean(raw_table([row()]), params, key=KEY)
    assert result.accounting["period_slut"] == "2024-06-20"
    assert result.accounting["period_slut_kalla"] == "data"


def test_empty_file() -> None:
    result = run([])
    assert result.frame.empty and list(result.frame.columns) == list(schema.CLEAN_COLUMNS)
    assert result.accounting["rows_in"] == result.accounting["rows_clean"] == 0


# ---------------------------------------------------------------------------------------------
# Accounting, quarantine and report
# ---------------------------------------------------------------------------------------------

def test_accounting_counts_per_rule_and_severity() -> None:
    rows = [row(), row(rad_id="2", aktualiseringsdatum="2024-04-01", fb_datum="2024-03-30",
                       skyddsbedomning_datum=None, utredning_start="2024-04-02", anmalare="Polise"),
            row(rad_id="3", aktualiseringsdatum="2024-05-01", anmalare="Kompis", skyddsbedomning_datum=None,
                fb_datum="2024-05-02", utredning_start="2024-05-02")]
    acc = run(rows).accounting
    assert (acc["rows_in"], acc["rows_clean"], acc["rows_quarantined"]) == (3, 2, 1)
    assert acc["rules"] == {"datumordning": {"fel": 1, "varning": 0},
                            "stavning_tolkad": {"fel": 0, "varning": 1},
                            "okand_kod": {"fel": 0, "varning": 1}}
    assert acc["rows_quarantined_by_rule"] == {"datumordning": 1}
    assert acc["rows_clean_with_warnings"] == 1
    assert acc["problems"] == {"fel": 1, "varning": 2}


def test_quarantine_has_no_identifiers_or_values() -> None:
    result = run([row(personnummer=CHILD[:-1] + "0", aktualiseringstyp="Blankett")])
    q = result.quarantine
    assert q.to_dict("records") == [{"fil": "test.csv", "rad_excel": 2,
                                     "regler": "personnummer_ogiltigt; okand_kod",
                                     "kolumner": "personnummer; aktualiseringstyp"}]


def test_import_problems_are_reported_and_row_level_fatal_ones_quarantine() -> None:
    from genomlysning.problems import Problem

    raw = raw_table([row(), row(rad_id="2", aktualiseringsdatum="2024-04-01", fb_datum="2024-04-02",
                                utredning_start="2024-04-02", skyddsbedomning_datum=None)])
    raw.problems = [Problem("test.csv", 0, "Handläggare", "", "kolumnen läses inte in: okänd kolumn",
                            "varning", "x"),
                    Problem("test.csv", 3, "", "a;b", "raden har 43 fält men rubrikraden har 41", "fel", "y")]
    raw.dropped_columns = [("Handläggare", "okänd kolumn"),
                           (f"Anteckning {CHILD}", "fritext med personnummer")]
    result = clean.clean(raw, PARAMS, key=KEY)
    assert found(result) == {(0, "kolumn_borttagen", "Handläggare", "varning"),
                             (3, "fel_antal_falt", "", "fel")}
    assert result.quarantine["rad_excel"].tolist() == [3]
    assert result.accounting["dropped_columns"][1] == {"header": f"Anteckning {personnummer.MASK}",
                                                       "reason": "fritext med personnummer"}


def test_format_report_shows_accounting_and_each_rule() -> None:
    result = run([row(), row(rad_id="2", aktualiseringstyp="Blankett")])
    text = clean.format_report(result)
    assert "Rader in:" in text and "Rena rader:" in text and "Rader i karantän:" in text
    assert "stämmer" in text and "[okand_kod] 1 st" in text and "(rad 3)" in text
    assert "Blankett" not in text and "'text, 8 tecken'" in text and "Anmälan, Ansökan" in text


def test_format_report_limits_examples() -> None:
    rows = [row(rad_id=str(i), aktualiseringstyp="B" * (i + 1)) for i in range(30)]
    text = clean.format_report(run(rows), examples_per_rule=5)
    assert "… och 25 värden till (25 problem av samma slag)" in text


def test_format_report_groups_by_rule_and_lists_valid_values_once() -> None:
    rows = [row(rad_id=str(i), aktualiseringstyp="ANM" if i % 3 else "Blankett") for i in range(30)]
    rows[0]["aktualiseringstyp"] = "Ring Eva"  # a one-off note: never shown as written
    raw = raw_table(rows)
    text = clean.format_report(clean.clean(raw, PARAMS, key=KEY), unknown=clean.unknown_values(raw, PARAMS))
    assert text.count(clean.valid_values_text("aktualiseringstyp")) == 1
    assert "'text, 3 tecken': 20 (rad 3, 4, 6 …)" in text and "'text, 8 tecken': 10 (rad 2, 5, 8 …)" in text
    assert "Gör så här:" in text and "mapping.values" in text
    assert "aktualiseringstyp: 'ANM' (20), 'Blankett' (9), 'text, 8 tecken' (1)" in text
    assert "Ring Eva" not in text and len(text.splitlines()) < 25


# ---------------------------------------------------------------------------------------------
# Files: write_processed, load_clean, run_cleaning, CLI
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def project(tmp_project: Path) -> Path:
    """A throw-away project: data/raw, data/processed and params under tmp_path."""
    return tmp_project


def _write_kommun(project: Path, kommun: str, source: Path, period_slut: str = "2024-12-31") -> Path:
    folder = project / "data" / "raw" / kommun
    folder.mkdir(parents=True)
    target = folder / source.name
    target.write_bytes(source.read_bytes())
    (project / "params" / f"{kommun}.yaml").write_text(
        f"kommun: {kommun}\nsynthetic: true\ninput: data/raw/{kommun}/{source.name}\n"
        f"period_slut: {period_slut}\n", encoding="utf-8")
    return target


def test_write_processed_and_load_clean_round_trip(project: Path) -> None:
    result = run([row(), _plain(rad_id="2", aktualiseringsdatum="2024-04-01"), row(rad_id="3",
                                                                                 aktualiseringstyp="x")])
    files = clean.write_processed(result, "test")
    assert {p.name for p in files.values()} == set(clean.PROCESSED_FILES.values())
    back = clean.load_clean("test")
    pd.testing.assert_frame_equal(back, result.frame)
    acc = json.loads(files["redovisning"].read_text(encoding="utf-8"))
    assert acc["rows_in"] == 3 and acc["rows_quarantined"] == 1
    report = pd.read_csv(files["valideringsrapport"], dtype=str, keep_default_na=False)
    assert tuple(report.columns) == clean.REPORT_COLUMNS and report["rad_excel"].tolist() == ["4"]
    quarantine = pd.read_csv(files["karantan"])
    assert quarantine["rad_excel"].tolist() == [4]
    text = files["redovisning"].read_text(encoding="utf-8")
    assert str(project) not in text and acc["fil"] == "test.csv"


def test_local_csv_files_are_safe_to_open_in_a_spreadsheet(project: Path) -> None:
    """A quarantined row's raw text and its problem value must not become a live formula when
    the analyst opens karantan.csv or valideringsrapport.csv in Excel (OWASP CSV injection)."""
    evil = "=HYPERLINK(\"http://x\",\"y\")"
    result = run([row(), row(rad_id="2", aktualiseringstyp=evil)])
    files = clean.write_processed(result, "test")
    for name in ("karantan", "valideringsrapport"):
        cells = pd.read_csv(files[name], dtype=str, keep_default_na=False).to_numpy().ravel().tolist()
        assert not any(str(c).startswith(("=", "+", "@")) for c in cells), name
    safe = clean._spreadsheet_safe(pd.DataFrame({"=fil": ["=cmd|' /C calc'!A0", "-3", "ok"]}))
    assert safe.columns.tolist() == ["'=fil"]
    assert safe["'=fil"].tolist() == ["'=cmd|' /C calc'!A0", "-3", "ok"]


def test_load_clean_missing_says_what_to_run(project: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"genomlysning prepare --kommun saknas.*make processed"):
        clean.load_clean("saknas")


def test_run_cleaning_handmade_fixture_keeps_every_row(project: Path) -> None:
    _write_kommun(project, "hand", FIXTURES / "handgjord.csv")
    result = clean.run_cleaning("hand")
    acc = result.accounting
    assert acc["rows_in"] == 18 == acc["rows_clean"] + acc["rows_quarantined"]
    files = sorted((project / "data" / "processed" / "hand").iterdir())
    assert [p.name for p in files] == sorted(clean.PROCESSED_FILES.values())


#: The problems the hand-made file must give: (Excel row, rule, column, severity).
HANDGJORD_EXPECTED = {
    (0, "kolumn_borttagen", "(kolumn AO)", "varning"),  # the header Anteckning is not declared
    (4, "stavning_tolkad", "anmalare", "varning"),
    (5, "okand_kod", "anmalare", "varning"),
    (6, "okand_kod", "aktualiseringstyp", "fel"),
    (7, "datumordning", "fb_datum", "fel"),
    (8, "ogiltigt_datum", "aktualiseringsdatum", "fel"),
    (9, "dubblett", "aktualiseringsdatum", "fel"),
    (10, "dubblett_rad_id", "rad_id", "fel"),
    (11, "personnummer_ogiltigt", "personnummer", "fel"),
    (12, "alder_utanfor", "alder", "fel"),
    (13, "alder_motsagelse", "alder", "varning"),
    (14, "startad_utan_ja", "insats_startad", "fel"),
    (15, "utfall_utan_slut", "utredning_utfall", "fel"),
    (15, "insats_underforstadd", "insats_erbjuden", "varning"),  # "Insats beviljad", offer blank
    (16, "barnsamtal_antal_motsagelse", "barnsamtal_antal", "varning"),
    (17, "obligatoriskt_saknas", "aktualiseringsdatum", "fel"),
    (19, "datum_efter_periodslut", "aktualiseringsdatum", "fel"),
}


def test_handmade_file_gives_the_expected_problems_at_the_right_rows() -> None:
    params = {**PARAMS, "kommun": "handgjord"}
    raw = ingest.read_raw(FIXTURES / "handgjord.csv", params)
    result = clean.clean(raw, params, key=KEY)
    assert found(result) == HANDGJORD_EXPECTED
    fatal_rows = sorted({r for r, _, _, s in HANDGJORD_EXPECTED if s == "fel" and r})
    assert result.quarantine["rad_excel"].tolist() == fatal_rows
    assert sorted([*result.frame["rad_excel"], *result.quarantine["rad_excel"]]) == list(range(2, 20))
    f = result.frame.set_index("rad_excel")
    # row 3: every format and spelling variant read correctly
    assert f.loc[3, "aktualiseringsdatum"] == pd.Timestamp("2024-04-05")
    assert f.loc[3, "fb_datum"] == pd.Timestamp("2024-04-10")
    assert f.loc[3, "utredning_start"] == pd.Timestamp("2024-04-10")
    assert f.loc[3, "utredning_slut"] == pd.Timestamp("2024-07-01")
    assert f.loc[3, "anmalare"] == "polisen" and f.loc[3, "kon"] == "flicka"
    assert bool(f.loc[3, "orsak_bevittnat_vald"]) and bool(f.loc[3, "kontakt_polis"])
    assert f.loc[3, "arendetyp"] == "vald" and f.loc[3, "ateraktualisering"]
    assert f.loc[13, "alder"] == 16
    assert pd.isna(f.loc[16, "barnsamtal_antal"])
    everything = " ".join(output_texts(result))
    for digits in ("20150304", "9825", "20191130-9845", "0812-9917"):
        assert digits not in everything


def test_validate_exit_codes_and_writes_nothing(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = project / "params" / "hand.yaml"
    params.write_text("kommun: hand\nsynthetic: true\nperiod_slut: 2024-12-31\n", encoding="utf-8")
    assert cli.main(["validate", str(FIXTURES / "handgjord.csv"), "--params", str(params)]) == 1
    out = capsys.readouterr().out
    assert "Rader in:" in out and "[dubblett] 1 st" in out and "20191130" not in out
    good = project / "bra.csv"
    source = pd.read_csv(FIXTURES / "handgjord.csv", sep=";", dtype=str, keep_default_na=False)
    clean_rows = source.iloc[[0, 2]]
    clean_rows.drop(columns="Anteckning").to_csv(good, sep=";", index=False)
    assert cli.main(["validate", str(good), "--params", str(params)]) == 0
    assert "Rader i karantän:           0" in capsys.readouterr().out
    assert cli.main(["validate", str(project / "finns_inte.csv")]) == 2
    assert not (project / "data" / "processed").exists()


def test_validate_refuses_synthetic_params_for_real_personnummer(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = project / "params" / "hand.yaml"
    params.write_text("kommun: hand\nsynthetic: true\n", encoding="utf-8")
    real = pnr("20150304", "123")
    data = project / "riktig.csv"
    data.write_text("Löpnummer;Personnummer;Aktualiseringsdatum;Aktualiseringstyp\n"
                    f"1;{real};2024-03-05;Ansökan\n", encoding="utf-8")
    assert cli.main(["validate", str(data), "--params", str(params)]) == 1
    out = capsys.readouterr().out
    assert "synthetic: true" in out and "980–999" in out and real not in out and real[2:] not in out


def test_validate_without_params_needs_no_key(project: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(personnummer, "load_key", lambda params: pytest.fail("validate must not need a key"))
    assert cli.main(["validate", str(FIXTURES / "handgjord.csv")]) == 1
    assert "period_slut" in capsys.readouterr().out


def test_validate_reports_missing_required_columns(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = project / "utan.csv"
    bad.write_text("Löpnummer;Kön\n1;Flicka\n", encoding="utf-8")
    assert cli.main(["validate", str(bad)]) == 1
    assert "obligatorisk kolumn saknas" in capsys.readouterr().out


def test_prepare_cleans_every_municipality(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_kommun(project, "hand", FIXTURES / "handgjord.csv")
    _write_kommun(project, "hand2", FIXTURES / "handgjord.csv")
    assert cli.main(["prepare"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["hand: 18 rader in = 7 rena + 11 i karantän; 6 varningar -> data/processed/hand/",
                   "hand2: 18 rader in = 7 rena + 11 i karantän; 6 varningar -> data/processed/hand2/"]
    assert cli.main(["prepare", "--kommun", "saknas"]) == 1
    assert "saknas: FEL" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# The synthetic generator's injected entry errors (--dirty): every one is caught or read right
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kommun", ["norrvik", "ekby", "storstad_oster"])  # template CSV, xlsx, export
def test_every_injected_error_is_caught_or_read_correctly(tmp_path: Path, kommun: str) -> None:
    from dataclasses import replace

    from genomlysning import synth

    spec = replace(synth.demo_spec(kommun), volym=500)
    synth.write_kommun(spec, 7, 0.15, raw_root=tmp_path)
    truth = synth.load_truth(kommun, raw_root=tmp_path)
    conf = {**synth.params_dict(spec), "period_slut": synth.PERIOD_SLUT}
    raw = ingest.read_raw(tmp_path / kommun / Path(spec.input_path).name, conf)
    result = clean.clean(raw, conf, key=KEY)
    log = truth["dirty"]["log"]
    kinds = {e["feltyp"] for e in log}
    assert {"tom_obligatorisk", "datumordning", "dubblett", "fel_kontrollsiffra", "datumformat",
            "felstavad_kategori"} <= kinds <= set(synth.ERROR_KINDS)
    assert result.accounting["rows_in"] == truth["dirty"]["rows_in_file"]
    problems = found(result)
    quarantined = set(result.quarantine["rad_excel"])
    frame = result.frame.set_index("rad_excel")
    fatal_rule = {"tom_obligatorisk": "obligatoriskt_saknas", "datumordning": "datumordning",
                  "dubblett": "dubblett", "fel_kontrollsiffra": "personnummer_ogiltigt"}
    for e in log:
        r, kind, col = e["rad_excel"], e["feltyp"], e["kolumn"]
        at_row = {(rule, c, sev) for rr, rule, c, sev in problems if rr == r}
        if kind in fatal_rule:
            assert r in quarantined and any(rule == fatal_rule[kind] for rule, _, _ in at_row), e
        elif kind == "omojlig_alder":  # personnummer wins (warning) unless there is none (fatal)
            assert ("alder_motsagelse", "alder", "varning") in at_row or (
                ("alder_utanfor", "alder", "fel") in at_row and r in quarantined), e
        elif kind == "fritext_personnummer":
            assert any(rr == 0 and rule == "kolumn_borttagen" and c.startswith("(kolumn ")
                       for rr, rule, c, _ in problems), e
        elif r not in quarantined and not any(c == col and rule == "okand_kod" for rule, c, _ in at_row):
            value = frame.loc[r, col]
            if kind == "datumformat":
                assert value == pd.Timestamp(e["forvantat"]), e
            elif kind == "ja_nej_variant":
                assert bool(value) == (e["forvantat_kod"] == "true"), e
            else:
                assert kind == "felstavad_kategori" and value == e["forvantat_kod"], e
    rows_with_errors = {e["rad_excel"] for e in log}
    assert {r for r, *_ in problems if r} <= rows_with_errors  # no false alarms on untouched rows
    assert [t for t in output_texts(result) if personnummer.find_in_text(t)] == []


# ---------------------------------------------------------------------------------------------
# Tables of the cleaning notebook
# ---------------------------------------------------------------------------------------------

def _ten_children(n: int = 10) -> list[dict[str, str | None]]:
    return [row(MINIMAL, rad_id=str(i), personnummer=pnr("20150304", f"{900 + i:03d}")) for i in range(n)]


def test_distributions_count_every_clean_row_and_suppress_small_cells() -> None:
    rows = _ten_children(10)
    rows[0]["orsak_bevittnat_vald"] = "Ja"  # one violence case among ten
    result = run(rows)
    table = clean.distributions(result.frame, k=5)
    typ = table[table["variabel"] == "arendetyp"].set_index("kategori")
    # vald 1 (hidden), foralder 9 (visible total 10 would reveal it -> a second cell is hidden)
    assert typ.loc["vald", "antal"] == ".." and (typ["antal"] == "..").sum() >= 2
    kon = table[table["variabel"] == "kon"].set_index("kategori")
    assert kon.loc["flicka", "antal"] == kon.loc["pojke", "antal"] == 5  # serial 90x: odd third digit = boy
    assert kon.loc["flicka", "andel"] == 0.5
    for variabel, part in clean.distributions(result.frame, k=1).groupby("variabel"):
        assert part["antal"].sum() == 10, variabel


def test_days_table_hides_quartiles_of_few_values() -> None:
    rows = _ten_children(3)
    for r in rows:
        r.update(fb_beslut="Inte inleda", fb_datum="2024-03-10")
    table = clean.days_table(run(rows).frame, k=5)
    assert table.iloc[0].tolist() == ["Dagar till beslut", "..", "", "", "", "14"]
    table = clean.days_table(run(rows).frame, k=2, lang="en")
    assert table.iloc[0].tolist() == ["Days to decision", "3", "5", "5", "5", "14"]


def test_notebook_tables_show_no_values_and_translate() -> None:
    result = run([row(), row(rad_id="2", aktualiseringstyp="Blankett", personnummer=CHILD[:-1] + "0"),
                  row(rad_id="3", anmalare="Kompis", personnummer=_child(3))])
    counts = clean.problem_counts(result, lang="en")
    assert list(counts.columns) == ["Rule", "Column", "Errors", "Warnings", "Rows in quarantine"]
    assert counts.columns.name is None
    assert counts.values.tolist() == [["personnummer_ogiltigt", "personnummer", "1", "0", "1"],
                                      ["okand_kod", "aktualiseringstyp", "1", "0", "1"],
                                      ["okand_kod", "anmalare", "0", "1", "0"]]
    assert "Blankett" not in counts.to_string() and "Kompis" not in counts.to_string()
    result = run([row(), row(rad_id="2", aktualiseringstyp="Blankett", personnummer=CHILD[:-1] + "0")])
    assert clean.accounting_table(result, "sv").iloc[:3, 1].tolist() == ["2", "1", "1"]
    sentence = "Rader in = rena rader + rader i karantän: 2 = 1 + 1 (stämmer)."
    assert clean.accounting_sentence(result, "sv") == sentence
    summary = clean.rule_summary(result, "en")
    assert summary["Rule"].tolist() == ["personnummer_ogiltigt", "okand_kod"]
    assert summary["Description"].tolist() == ["invalid personnummer", "unknown value"]
    ref = clean.rules_reference("sv")
    assert len(ref) == len(clean.RULES) and ref["Regel"].tolist() == [r.id for r in clean.RULES]


def test_run_line_names_file_period_and_window() -> None:
    result = run([row()])
    assert clean.run_line(result, "sv") == ("Fil: test.csv. Periodslut: 2024-12-31 (params-filen). "
                                            "Återaktualiseringsfönster: 12 månader. Schema 1.0.0.")
    assert clean.run_line(result, "en").startswith("File: test.csv. Period end: 2024-12-31 (params file).")
    assert clean.ui_text("inga_problem", "en") == "No problems were found in the file."


def test_bench_clean_reports_rows_and_memory() -> None:
    import importlib.util

    script = Path(__file__).parents[1] / "scripts" / "bench_clean.py"
    spec = importlib.util.spec_from_file_location("bench_clean", script)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = bench.bench_clean(FIXTURES / "handgjord.csv")
    # period_slut 2025-12-31 here, so row 19 (2025-01-15) is not after the period: 10 fatal rows
    assert (out["rows"], out["rows_clean"], out["rows_quarantined"]) == (18, 8, 10)
    assert out["peak_rss_mb"] > 0 and out["rows_per_second"] > 0 and out["seconds_write"] == 0


@pytest.mark.parametrize(("text", "masked"), [
    (f"Ring {CHILD}", f"Ring {personnummer.MASK}"), (f"x{CHILD.replace('-', '')}y", f"x{personnummer.MASK}y"),
    ("tel 0701234567890", "tel XXXXXXXXXX"),
    ("2024-13-05 14:30", "2024-13-05 14:30"), ("A-2024-0001", "A-2024-0001"), ("", ""),
])
def test_mask_text(text: str, masked: str) -> None:
    assert clean.mask_text(text) == masked


@pytest.mark.parametrize(("text", "hit"), [
    (CHILD, True), (CHILD[2:], True), (f"x{CHILD.replace('-', '')}", True), ("IFO-2024-000123", False),
    ("2024001234", False), ("b12", False), (f"tel{CHILD[:-1]}0", False),
])
def test_contains_personnummer(text: str, hit: bool) -> None:
    assert clean.contains_personnummer(text) is hit


# ---------------------------------------------------------------------------------------------
# Unknown is not no: three values, consistency of outcome and insats, påförda utredningar
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [*schema.JA_NEJ_ALIASES_UNKNOWN, "Uppgift saknas", " OKÄNT ", "Vet ej."])
def test_spellings_of_unknown_are_read_as_missing_not_no(text: str) -> None:
    assert clean.match_code(text, "barnsamtal") == (clean.UNKNOWN, "exakt")
    assert clean.match_code(text, "utredning_utfall") == (clean.UNKNOWN, "exakt")
    result = run([row(barnsamtal=text, barnsamtal_antal=None, insats_startad=text)])
    assert found(result) == set()
    f = result.frame
    assert f["barnsamtal"].isna().all() and f["insats_startad"].isna().all()  # accepted: start unknown


def test_unknown_is_not_a_value_of_the_flow_deciding_codes() -> None:
    assert clean.match_code("uppgift saknas", "fb_beslut") == (None, "okand")
    assert clean.match_code("uppgift saknas", "kon") == ("okant", "exakt")  # kön has its own code


def test_a_blank_stage_is_unknown_where_it_could_have_been_reached_and_no_where_it_could_not() -> None:
    rows = [
        # closed utredning, outcome and offer blank: the offer is unknown, and so is everything after
        row(rad_id="1", utredning_utfall=None, insats_erbjuden=None, insats_svar=None, insats_startad=None,
            insats_typ=None, insats_lagrum=None),
        # open utredning: no insats can have been offered yet -> nej by derivation
        row(rad_id="2", personnummer=pnr("20150305", "984"), utredning_slut=None, utredning_utfall=None,
            insats_erbjuden=None, insats_svar=None, insats_startad=None, insats_typ=None, insats_lagrum=None),
        # offered, answer blank: acceptance and start unknown
        row(rad_id="3", personnummer=pnr("20150306", "986"), insats_svar=None, insats_startad=None),
        # declined: start "nej" by derivation
        row(rad_id="4", personnummer=pnr("20150307", "988"), utredning_utfall="Avslutad av annat skäl",
            insats_svar="Tackat nej", insats_startad=None),
    ]
    result = run(rows)
    assert found(result) == set()
    f = result.frame.set_index("rad_excel").sort_index()
    got = f[["insats_erbjuden", "insats_accepterad", "insats_startad"]].astype(object)
    got = got.where(got.notna(), None).values.tolist()
    assert got == [[None, None, None], [False, False, False], [True, None, None], [True, False, False]]


def test_the_outcome_implies_a_blank_offer_and_says_so() -> None:
    granted = run([row(insats_erbjuden=None)])
    assert found(granted) == {(2, "insats_underforstadd", "insats_erbjuden", "varning")}
    assert "Insats beviljad" in granted.problems["giltigt"].iloc[0]
    assert granted.frame["insats_erbjuden"].tolist() == [True]
    no_need = run([row(utredning_utfall="Inget behov", insats_erbjuden=None, insats_svar=None,
                       insats_startad=None, insats_typ=None, insats_lagrum=None)])
    assert found(no_need) == {(2, "insats_underforstadd", "insats_erbjuden", "varning")}
    assert no_need.frame["insats_erbjuden"].tolist() == [False]


def test_a_contradiction_between_outcome_and_insats_is_flagged_and_counted_as_unknown() -> None:
    # "Inget behov" with an insats offered, accepted and started
    result = run([row(utredning_utfall="Inget behov")])
    assert found(result) == {(2, "utfall_motsager_insats", "insats_erbjuden", "varning")}
    f = result.frame
    assert f["insats_erbjuden"].isna().all() and f["utredning_avslutad"].all()
    assert len(result.quarantine) == 0


def _pafort(**kw: str | None) -> dict[str, str | None]:
    return row(rad_id="2", aktualiseringsdatum="2024-04-02", skyddsbedomning_datum="2024-04-02",
               fb_beslut="Påförs pågående utredning", fb_datum="2024-04-05", utredning_start=None,
               utredning_slut=None, barnsamtal=None, barnsamtal_antal=None, kontakt_skola=None,
               utredning_utfall=None, insats_erbjuden=None, insats_svar=None, insats_startad=None,
               insats_typ=None, insats_lagrum=None, orsak_omsorgssvikt=None, orsak_skolfranvaro="Ja", **kw)


def test_a_row_added_to_an_ongoing_utredning_takes_its_outcome() -> None:
    result = run([row(), _pafort()])
    assert found(result) == set()
    f = result.frame.set_index("rad_excel").sort_index()
    assert f["utredning_slag"].astype(object).tolist() == ["egen", "pafort"]
    added = f.loc[3]
    assert bool(added["utredning_avslutad"]) and added["utredning_utfall"] == "insats"
    assert all(bool(added[c]) for c in ("insats_erbjuden", "insats_accepterad", "insats_startad"))
    assert pd.isna(added["utredning_slut"])  # the row's own dates are kept as entered


def test_a_row_added_to_an_utredning_not_in_the_data_has_an_unknown_closing() -> None:
    result = run([_pafort()])
    f = result.frame
    assert f["utredning_slag"].astype(object).tolist() == ["pafort_utan_kalla"]
    assert f["utredning_inledd"].tolist() == [True] and f["utredning_avslutad"].isna().all()
    assert f["insats_erbjuden"].isna().all()  # reachable if the ongoing one closed: unknown
    # an ongoing utredning that had closed before the decision is not the one it was added to
    late = run([row(utredning_slut="2024-04-01"), _pafort()])
    assert late.frame["utredning_slag"].astype(object).tolist() == ["egen", "pafort_utan_kalla"]
