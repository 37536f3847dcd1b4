"""params/<kommun>.yaml loading and key checking."""

from __future__ import annotations

from pathlib import Path

import pytest

from genomlysning import params, paths


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
    with pytest.raises(params.ParamsError, match=r"okänd nyckel 'reformdatum'.*menade du 'reform_datum'"):
        params.load(p)
    p = _write(tmp_path, "lang: en\nreformdatum: 2024-07-01\n")
    with pytest.raises(params.ParamsError, match=r"unknown key 'reformdatum'.*did you mean 'reform_datum'"):
        params.load(p)


def test_unknown_mapping_key_is_refused(tmp_path: Path) -> None:
    p = _write(tmp_path, "mapping:\n  colums: {}\n")
    with pytest.raises(params.ParamsError, match="mapping.colums"):
        params.load(p)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(params.ParamsError, match="params-filen finns inte"):
        params.load(tmp_path / "finns_inte.yaml")


def test_every_committed_params_file_loads() -> None:
    for kommun in params.all_kommuner():
        assert params.load(kommun)["kommun"] == kommun


@pytest.mark.parametrize(("text", "message"), [
    ("lang: en\nk: 2\n", r"k = 2: out of range; valid: an integer 3-100"),
    ("lang: en\nk: 0\n", r"k = 0: out of range"),
    ("lang: en\nk: 4.5\n", r"k = 4.5: wrong type \(decimal number\); valid: an integer"),
    ("lang: en\nk: '5'\n", r"k = '5': wrong type \(text\)"),
    ("lang: en\nk: true\n", r"k = True: wrong type \(yes/no\)"),
    ("lang: en\nomraden: Nord\n", r"omraden = 'Nord': must be a non-empty list"),
    ("lang: en\nomraden: []\n", r"omraden = \[\]: must be a non-empty list"),
    ("lang: en\nomraden: [Nord, '']\n", r"omraden\[1\] = '': must be a name of 1-40 characters"),
    (f"lang: en\nomraden: [Nord, {'x' * 41}]\n", r"omraden\[1\] = 'x+': must be a name"),
    ("lang: en\nomraden: [Nord, nord]\n", r"omraden\[1\] = 'nord': repeats an earlier area"),
    ("lang: en\npilot_omrade: Pilot\n", r"pilot_omrade = 'Pilot': is not one of the areas.*none declared"),
    ("lang: en\nomraden: [Nord, Syd]\npilot_omrade: Pilot\n",
     r"pilot_omrade = 'Pilot': is not one.*Nord, Syd"),
    ("k: 2\n", r"k = 2: utanför tillåtna värden; giltigt: ett heltal 3-100"),
    ("k: 2.5\n", r"k = 2.5: fel typ \(decimaltal\)"),
    ("k: fem\n", r"k = 'fem': fel typ \(text\)"),
    ("omraden: [Nord, nord]\n", r"omraden\[1\] = 'nord': upprepar ett tidigare område"),
    ("pilot_omrade: Pilot\n", r"pilot_omrade = 'Pilot': är inte ett av områdena.*inga angivna"),
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
    with pytest.raises(params.ParamsError, match=rf"värdet av {key} liknar ett personnummer") as exc:
        params.load(_write(tmp_path, text))
    assert "9876" not in str(exc.value)


def test_dates_and_numbers_in_params_are_not_taken_for_personnummer(tmp_path: Path) -> None:
    text = ("period_slut: 2025-12-31\nreform_datum: 2024-07-01\nseed: 20261122\n"
            "input: data/raw/x/export_2025-01-01_2025-12-31.csv\nnamn: Norrvik 2025\n")
    assert params.load(_write(tmp_path, text))["seed"] == 20261122


@pytest.mark.parametrize(("text", "message"), [
    ("ar: tjugo\n", r"testkommun.yaml: ar = 'tjugo': fel typ \(text\); giltigt: ett årtal 2000-2100"),
    ("ar: 1899\n", r"ar = 1899: utanför tillåtna värden"),
    ("ateraktualisering_manader: -3\n", r"ateraktualisering_manader = -3: utanför tillåtna värden; "
     r"giltigt: ett heltal 1-120"),
    ("lang: de\n", r"lang = 'de': inget av de tillåtna värdena; giltigt: sv eller en"),
    ("period_slut: 2025-13-45\n", r"period_slut = '2025-13-45': inget giltigt datum; giltigt: ett datum "
     r"ÅÅÅÅ-MM-DD"),
    ("reform_datum: igår\n", r"reform_datum = 'igår': inget giltigt datum"),
    ("synthetic: ja\n", r"synthetic = 'ja': fel typ \(text\); giltigt: true eller false"),
    ("csv_sep: ':'\n", r"csv_sep = ':': inget av de tillåtna värdena"),
    ("encoding: klingon\n", r"encoding = 'klingon': okänd teckenkodning"),
    ("kommun: ../../x\n", r"kommun = '../../x': inget säkert mappnamn; giltigt: a-z, 0-9"),
    ("input: /etc/passwd\n", r"input = '/etc/passwd': pekar utanför projektmappen"),
    ("input: data/raw/../../../etc/passwd\n", r"input = .*: pekar utanför projektmappen"),
    ("min_n: 0\n", r"min_n = 0: utanför tillåtna värden; giltigt: ett heltal 1-10000"),
    ("folds: 1\n", r"folds = 1: utanför tillåtna värden; giltigt: ett heltal 2-50"),
    ("formula: 'utredning_inledd ~ kon'\n", r"formula = 'utredning_inledd ~ kon': .*right-hand side"),
    ("formula: 'kon * anmalare'\n", r"formula = 'kon \* anmalare': .*only main effects"),
    ("outcome: glädje\n", r"outcome = 'glädje': ingen indikator; giltiga: utredning_inledd"),
    ("pilot_outcome: 3\n", r"pilot_outcome = 3: fel typ \(heltal\)"),
    ("max_cells: 0\n", r"max_cells = 0: utanför tillåtna värden"),
    ("mapping: [a, b]\n", r"mapping = \['a', 'b'\]: fel typ \(lista\)"),
    ("mapping:\n  drop: Anteckning\n", r"mapping.drop = 'Anteckning': fel typ; giltigt: en lista"),
])
def test_every_key_is_typed_and_ranged(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(params.ParamsError, match=message):
        params.load(_write(tmp_path, text))


def test_every_problem_is_listed_at_once_in_english_with_lang_en(tmp_path: Path) -> None:
    with pytest.raises(params.ParamsError) as exc:
        params.load(_write(tmp_path, "lang: en\nk: 1\nar: tjugo\nateraktualisering_manader: -3\n"))
    lines = str(exc.value).splitlines()
    assert len(lines) == 3 and all(line.startswith("testkommun.yaml: ") for line in lines)
    assert "k = 1: out of range; valid: an integer 3-100" in lines[1]
    assert "ar = 'tjugo': wrong type (text); valid: a year 2000-2100" in lines[2]


@pytest.mark.parametrize("text", ["k: [\n", "k: 5\n  lang: sv\n", "'k: 5\n", "- a\n- b\n"])
def test_malformed_yaml_is_one_line_naming_the_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(params.ParamsError) as exc:
        params.load(_write(tmp_path, text))
    msg = str(exc.value)
    assert msg.startswith("testkommun.yaml: ") and len(msg.splitlines()) == 1
    assert "ogiltig YAML (rad" in msg or "väntade nycklar med värden" in msg


def test_the_model_and_pilot_specification_are_settable(tmp_path: Path) -> None:
    text = ("formula: arendetyp + kon\nmin_n: 30\nfolds: 10\noutcome: barnsamtal\n"
            "pilot_outcome: insats_erbjuden\nmax_xlsx_mb: 50\nmax_cells: 1000000\nsheet: Blad1\n")
    out = params.load(_write(tmp_path, text))
    assert (out["formula"], out["min_n"], out["folds"]) == ("arendetyp + kon", 30, 10)
    assert (out["outcome"], out["pilot_outcome"]) == ("barnsamtal", "insats_erbjuden")
    assert {"formula", "min_n", "folds", "outcome", "pilot_outcome"} <= params.NOTEBOOK_KEYS


def test_a_municipality_name_is_a_safe_slug(tmp_path: Path) -> None:
    with pytest.raises(params.ParamsError, match="kommunnamnet '../../../x' är inte tillåtet"):
        params.load("../../../x")
    for bad in ("../x", "a/b", "Ekby", ".", "", "a b", "x" * 64):
        with pytest.raises(paths.PathError):
            paths.processed_dir(bad)
    assert paths.report_dir("storstad_oster").name == "storstad_oster"


def test_an_input_through_a_symlink_out_of_the_project_is_refused(tmp_project: Path, tmp_path_factory:
                                                                   pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("utanfor") / "hemlig.csv"
    outside.write_text("x", encoding="utf-8")
    (tmp_project / "data" / "raw" / "x").mkdir(parents=True)
    (tmp_project / "data" / "raw" / "x" / "a.csv").symlink_to(outside)
    p = tmp_project / "params" / "x.yaml"
    p.write_text("input: data/raw/x/a.csv\n", encoding="utf-8")
    with pytest.raises(params.ParamsError, match=r"params/x.yaml: input = 'data/raw/x/a.csv': pekar utanför"):
        params.load("x")
    (tmp_project / "data" / "raw" / "x" / "b.csv").write_text("x", encoding="utf-8")
    p.write_text("input: data/raw/x/b.csv\n", encoding="utf-8")
    assert params.load("x")["input"] == "data/raw/x/b.csv"
