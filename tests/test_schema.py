"""The data dictionary: one definition of every column, code list and label."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from genomlysning import schema


def test_column_names_are_ascii_snake_case_and_unique() -> None:
    names = [c.name for c in schema.COLUMNS]
    assert len(names) == len(set(names))
    for name in names:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name


def test_every_column_has_swedish_and_english_labels() -> None:
    for c in schema.COLUMNS:
        assert c.sv and c.en, c.name
    input_cols = schema.columns(role="input") + schema.columns(role="identifier")
    for c in input_cols:
        assert c.description_sv and c.description_en, c.name


def test_code_lists_have_unique_codes_and_labels() -> None:
    for c in schema.COLUMNS:
        if c.dtype == "code":
            assert c.codes, c.name
            assert len(set(c.code_values())) == len(c.codes), c.name
            assert len({x.sv.lower() for x in c.codes}) == len(c.codes), c.name
        else:
            assert not c.codes, c.name


def test_identifier_never_in_clean_table() -> None:
    assert schema.IDENTIFIER_COLUMNS == ("personnummer",)
    assert "personnummer" not in schema.CLEAN_COLUMNS
    assert "barn_id" in schema.CLEAN_COLUMNS


def test_template_covers_every_field_of_the_domain_brief() -> None:
    needed = {"rad_id", "personnummer", "aktualiseringsdatum", "aktualiseringstyp", "alder", "kon",
              "anmalare", "fb_beslut", "fb_datum", "utredning_start", "utredning_slut", "barnsamtal",
              "barnsamtal_antal", "kontakt_forskola", "kontakt_skola", "kontakt_polis",
              "kontakt_halso_sjukvard", "utredning_utfall", "insats_erbjuden", "insats_svar",
              "insats_startad", "insats_typ", "insats_lagrum", "omrade"}
    assert needed <= set(schema.TEMPLATE_COLUMNS)
    assert set(schema.REASON_COLUMNS) <= set(schema.TEMPLATE_COLUMNS)
    assert len(schema.ORSAKER) == 14


def test_every_reason_belongs_to_an_arendetyp_group() -> None:
    groups = {g.code for g in schema.ARENDETYP}
    for r in schema.ORSAKER:
        assert r.group in groups


@pytest.mark.parametrize(("reasons", "expected"), [
    ({"skolfranvaro", "bevittnat_vald"}, "vald"),
    ({"skolfranvaro", "omsorgssvikt"}, "foralder"),
    ({"egen_kriminalitet"}, "barnet"),
    ({"ovrigt"}, "ovrigt"),
    (set(), "ovrigt"),
])
def test_arendetyp_priority(reasons: set[str], expected: str) -> None:
    assert schema.arendetyp_of(reasons) == expected


@pytest.mark.parametrize(("age", "group"), [(0, "0-5"), (5, "0-5"), (6, "6-12"), (12, "6-12"),
                                            (13, "13-17"), (17, "13-17"), (18, "18-20"), (20, "18-20")])
def test_aldersgrupp_bounds(age: int, group: str) -> None:
    assert schema.aldersgrupp_of(age) == group


@pytest.mark.parametrize("age", [-1, 21])
def test_aldersgrupp_rejects_impossible_ages(age: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        schema.aldersgrupp_of(age)


def test_labels_in_both_languages() -> None:
    assert schema.label("anmalare") == "Anmälare"
    assert schema.label("anmalare", "en") == "Reporter"
    assert schema.code_label("anmalare", "polisen", "sv") == "Polisen"
    assert schema.code_label("anmalare", "polisen", "en") == "Police"
    assert list(schema.code_labels("kon")) == ["flicka", "pojke", "okant"]


def test_unknown_column_error_names_valid_columns() -> None:
    with pytest.raises(KeyError, match="aktualiseringsdatum"):
        schema.column("aktualiseringsdatm")


def test_empty_clean_frame_has_schema_dtypes() -> None:
    frame = schema.empty_clean_frame()
    assert tuple(frame.columns) == schema.CLEAN_COLUMNS
    assert frame["arendetyp"].dtype == pd.CategoricalDtype(["vald", "foralder", "barnet", "ovrigt"])
    assert frame["utredning_inledd"].dtype == "boolean"
    assert frame["alder"].dtype == "Int64"


def test_schema_version_is_semver() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", schema.SCHEMA_VERSION)
