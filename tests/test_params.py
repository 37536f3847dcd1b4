"""params/<kommun>.yaml loading and key checking."""

from __future__ import annotations

from pathlib import Path

import pytest

from genomlysning import params


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "testkommun.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_load_fills_defaults_and_normalises_dates(tmp_path: Path) -> None:
    p = _write(tmp_path, "namn: Test\nreform_datum: 2024-07-01\n")
    out = params.load(p)
    assert out["kommun"] == "testkommun"
    assert out["reform_datum"] == "2024-07-01"
    assert out["k"] == 5 and out["lang"] == "sv" and out["ateraktualisering_manader"] == 12


def test_misspelt_key_is_refused_with_suggestion(tmp_path: Path) -> None:
    p = _write(tmp_path, "reformdatum: 2024-07-01\n")
    with pytest.raises(params.ParamsError, match=r"unknown key 'reformdatum'.*did you mean 'reform_datum'"):
        params.load(p)


def test_unknown_mapping_key_is_refused(tmp_path: Path) -> None:
    p = _write(tmp_path, "mapping:\n  colums: {}\n")
    with pytest.raises(params.ParamsError, match="mapping.colums"):
        params.load(p)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(params.ParamsError, match="params file not found"):
        params.load(tmp_path / "finns_inte.yaml")


def test_every_committed_params_file_loads() -> None:
    for kommun in params.all_kommuner():
        assert params.load(kommun)["kommun"] == kommun


@pytest.mark.parametrize(("text", "message"), [
    ("k: 2\n", r"k = 2 is too small.*at least 3"),
    ("k: 0\n", r"k = 0 is too small"),
    ("k: 4.5\n", r"k must be a whole number.*got float"),
    ("k: '5'\n", r"k must be a whole number.*got str"),
    ("k: true\n", r"k must be a whole number.*got bool"),
    ("omraden: Nord\n", r"omraden must be a non-empty list"),
    ("omraden: []\n", r"omraden must be a non-empty list"),
    ("omraden: [Nord, '']\n", r"omraden\[1\] must be a name of 1-40 characters"),
    (f"omraden: [Nord, {'x' * 41}]\n", r"omraden\[1\] must be a name"),
    ("omraden: [Nord, nord]\n", r"omraden\[1\] repeats an earlier area"),
    ("pilot_omrade: Pilot\n", r"pilot_omrade 'Pilot' is not one of the areas.*none declared"),
    ("omraden: [Nord, Syd]\npilot_omrade: Pilot\n", r"pilot_omrade 'Pilot' is not one.*Nord, Syd"),
])
def test_invalid_values_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(params.ParamsError, match=message):
        params.load(_write(tmp_path, text))


def test_declared_areas_and_an_integer_k_load(tmp_path: Path) -> None:
    out = params.load(_write(tmp_path, "k: 3\nomraden: [Nord, Syd, Pilot]\npilot_omrade: pilot\n"))
    assert out["k"] == 3 and out["omraden"] == ["Nord", "Syd", "Pilot"]
    assert out["pilot_omrade"] == "Pilot"  # spelt as declared, as the cleaned omrade column is


@pytest.mark.parametrize(("text", "key"), [
    ("namn: Barn 19811218-9876\n", "namn"),
    ("namn: 'Barn 811218\u20139876'\n", "namn"),
    ("namn: 198112189876\n", "namn"),  # YAML reads it as an integer: still refused
    ("input: data/raw/x/lista_811218_9876.csv\n", "input"),
    ("omraden: [Nord, 'Team 81 12 18 9876']\n", r"omraden\[1\]"),
    ("mapping:\n  drop: [Anteckning, '811218-9876']\n", r"mapping.drop\[1\]"),
    ("mapping:\n  columns: {'811218-9876': personnummer}\n", r"mapping.columns.ÅÅÅÅMMDD-XXXX \(nyckeln\)"),
])
def test_a_personnummer_in_any_value_is_refused_without_echoing_it(tmp_path: Path, text: str,
                                                                    key: str) -> None:
    with pytest.raises(params.ParamsError, match=rf"the value of {key} looks like a personnummer") as exc:
        params.load(_write(tmp_path, text))
    assert "9876" not in str(exc.value)


def test_dates_and_numbers_in_params_are_not_taken_for_personnummer(tmp_path: Path) -> None:
    text = ("period_slut: 2025-12-31\nreform_datum: 2024-07-01\nseed: 20261122\n"
            "input: data/raw/x/export_2025-01-01_2025-12-31.csv\nnamn: Norrvik 2025\n")
    assert params.load(_write(tmp_path, text))["seed"] == 20261122
