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
