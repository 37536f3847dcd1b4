"""``genomlysning map`` on the worked example export, mapping.derive and absent columns (issue 15)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from genomlysning import clean, ingest, personnummer, suggest, worked_example

KEY = b"test-key-for-the-suggest-tests-only-0123"
PARAMS: dict[str, Any] = {"kommun": "exempelby", "namn": "Exempelby", "ar": 2024, "period_slut": "2024-12-31",
                          "k": 5, "synthetic": True, "ateraktualisering_manader": 12}


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ex") / "export.csv"
    worked_example.write(path, rows=800)
    return path


def _draft(path: Path) -> tuple[str, str]:
    sheet = ingest.read_table(path, path.name, {})
    guesses = suggest.guess_columns(sheet, 5)
    return suggest.describe(guesses, path.name, len(sheet.frame)), suggest.draft_mapping(guesses)


def _clean(path: Path, mapping: dict[str, Any]) -> clean.CleanResult:
    prm = {**PARAMS, "mapping": mapping}
    return clean.clean(ingest.read_raw(path, prm), prm, key=KEY)


def test_example_is_windows_1252_with_semicolons_and_system_wording(example: Path) -> None:
    raw = example.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1252")
    assert text.splitlines()[0].count(";") >= 20 and "\r\n" in text
    assert "Utredning inleds ej" in text and "Utredning inleds 11 kap 1 § SoL" in text
    assert "Insats startdatum" in text and "Avslutad utan insats" in text


def test_map_yields_a_mapping_with_which_validate_reports_no_unknown_code(example: Path) -> None:
    _, draft = _draft(example)
    mapping = yaml.safe_load(draft)["mapping"]
    result = _clean(example, mapping)
    rules = set(result.problems["regel"].str.split(":").str[0])
    assert not rules & {"okand_kod", "okand_orsak", "stavning_tolkad", "kolumn_borttagen"}, rules
    # and it reads every row as the mapping of a person who knows the system does
    truth = _clean(example, worked_example.TRUE_MAPPING)
    pd.testing.assert_frame_equal(result.frame, truth.frame)
    assert result.frame["insats_startad"].sum() > 0 and (result.frame["fb_beslut"] == "inte_inleda").sum() > 0


def test_map_comments_every_guess(example: Path) -> None:
    _, draft = _draft(example)
    body = [ln for ln in draft.splitlines()[1:] if ln.startswith("      ") or ln.startswith("    \"")
            or ln.startswith("    - ") or ln.startswith("  reasons") or ln.startswith("    insats_startad")]
    body = [ln for ln in body if not ln.rstrip().endswith(":")]  # a column's key under values
    assert len(body) > 20 and all("#" in ln for ln in body), [ln for ln in body if "#" not in ln]


def test_map_never_shows_personnummer_names_or_free_text(example: Path) -> None:
    report, draft = _draft(example)
    frame = worked_example.export_frame(rows=800)
    out = report + draft
    for pnr in [p for p in frame["Personnr"].unique() if p][:200]:
        assert str(pnr) not in out and str(pnr).replace("-", "") not in out
    assert not personnummer.contains(out)
    for name in frame["Handläggare"].unique():
        assert name not in out
    assert "Samtal med mamma" not in out


def test_map_shows_a_one_off_value_by_its_shape_only(tmp_path: Path) -> None:
    rows = ["Beslut;Inkom;Löpnummer;Aktualiseringstyp"]
    rows += [f"Utredning inleds ej;2024-01-{i % 28 + 1:02d};{i};Anmälan" for i in range(30)]
    rows += ["Ring Kalle Svensson;2024-02-01;31;Anmälan"]
    path = tmp_path / "e.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report, draft = _draft(path)
    assert "Kalle" not in report + draft and "'text, 19 tecken'" in report


@pytest.mark.parametrize(("text", "col", "not_code"), [
    ("Insats beviljas ej", "utredning_utfall", "insats"),
    ("Samtycker inte", "insats_svar", "ja"),
    ("Ej inledd utredning", "fb_beslut", "inleda"),
    ("Ingen insats erbjuden", "insats_erbjuden", "Ja"),
])
def test_a_negated_value_is_never_proposed_as_the_positive_code(text: str, col: str, not_code: str) -> None:
    code, status, _ = suggest.guess_value(text, col)
    assert code != not_code, (text, code, status)


def test_samtycker_ej_is_proposed_as_the_opposite_of_samtycker() -> None:
    assert suggest.guess_value("Samtycker ej", "insats_svar")[:2] == ("nej", "gissning")
    assert suggest.guess_value("Samtycker", "insats_svar")[:2] == ("ja", "exakt")


def test_cli_map_prints_report_and_draft(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert suggest.cli_map(argparse.Namespace(file=str(example), params=None)) == 0
    out = capsys.readouterr().out
    assert "Kolumner i" in out and "\nmapping:\n" in out and "derive:" in out


# ---------------------------------------------------------------------------------------------
# mapping.derive and absent columns (issue 15, case 3)
# ---------------------------------------------------------------------------------------------

HEADER = "Löpnummer;Personnummer;Aktualiseringsdatum;Aktualiseringstyp;Våld mot barnet;"
BASE_ROW = "1;20150304-9825;2024-03-05;Anmälan;Ja;"


def _file(tmp_path: Path, header_extra: str, cells: list[str]) -> Path:
    path = tmp_path / "x.csv"
    lines = [HEADER + header_extra] + [BASE_ROW.replace("1;", f"{i + 1};", 1).replace("03-05", f"03-0{i + 5}")
                                       + c for i, c in enumerate(cells)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_derive_reads_ja_where_the_date_column_has_a_date(tmp_path: Path) -> None:
    path = _file(tmp_path, "Insats startdatum", ["2024-05-01", "", "snart"])
    raw = ingest.read_raw(path, {"mapping": {"derive": {"insats_startad": "Insats startdatum"}}})
    assert raw.frame["insats_startad"].tolist() == ["Ja", None, "snart"]
    assert "insats_startad" in raw.columns_found and raw.dropped_columns == []


def test_derive_with_blank_nej_and_bad_specs(tmp_path: Path) -> None:
    path = _file(tmp_path, "Samtal", ["2024-05-01", ""])
    raw = ingest.read_raw(path, {"mapping": {"derive": {"barnsamtal": {"from": "Samtal", "blank": "Nej"}}}})
    assert raw.frame["barnsamtal"].tolist() == ["Ja", "Nej"]
    with pytest.raises(ingest.IngestError, match="ingen Ja/Nej-kolumn"):
        ingest.read_raw(path, {"mapping": {"derive": {"fb_beslut": "Samtal"}}})
    with pytest.raises(ingest.IngestError, match="finns inte i filen"):
        ingest.read_raw(path, {"mapping": {"derive": {"insats_startad": "Startdatum"}}})


def test_absent_column_is_reported_and_unknown_not_zero(tmp_path: Path) -> None:
    """The case of the issue: an export without insats_startad gave '0 % till en insats som startade'."""
    path = _file(tmp_path, "Insats erbjuden/beviljad;Insats, svar", ["Ja;Tackat ja", "Nej;", ";"])
    raw = ingest.read_raw(path, {})
    assert "insats_startad" in raw.columns_absent and "insats_erbjuden" not in raw.columns_absent
    result = clean.clean(raw, PARAMS | {"synthetic": False}, key=KEY)
    # the accepted insats: whether it started is unknown (never "nej"); the rows never offered one
    # cannot have started it: "nej" by derivation (issue 10's rule)
    started = result.frame["insats_startad"]
    assert started.isna().tolist() == [True, False, False] and not started.iloc[1:].any()
    assert result.frame["insats_erbjuden"].tolist() == [True, False, False]
    assert "insats_startad" in result.accounting["columns_absent"]
    text = clean.format_report(result)
    assert "Kolumner som saknas i filen:" in text and "insats_startad" in text and "inte som noll" in text
    table = clean.dropped_columns_table(result)
    assert "Insats startad (insats_startad)" in set(table.iloc[:, 0])


def test_absent_answer_makes_acceptance_unknown(tmp_path: Path) -> None:
    path = _file(tmp_path, "Insats erbjuden/beviljad", ["Ja", "Nej"])
    result = clean.clean(ingest.read_raw(path, {}), PARAMS | {"synthetic": False}, key=KEY)
    assert result.frame["insats_accepterad"].isna().all()


def test_template_file_has_no_absent_columns() -> None:
    assert ingest.absent_columns(list(clean.schema.TEMPLATE_COLUMNS)) == []
    assert np.all([c.startswith(("fb_", "utredning", "barnsamtal", "kontakt", "insats", "skydd", "anmalare",
                                 "orsak")) for c in ingest.absent_columns(["rad_id", "aktualiseringsdatum",
                                                                           "aktualiseringstyp"])])


# ---------------------------------------------------------------------------------------------
# Demo apart from own data (issue 15, cases 2 and 4)
# ---------------------------------------------------------------------------------------------

def test_compare_never_mixes_demo_and_own_units_and_keeps_one_year() -> None:
    from genomlysning.runner import comparable

    loaded = {"norrvik": {"synthetic": True, "ar": 2025}, "ekby": {"synthetic": True, "ar": 2025},
              "minkommun": {"synthetic": False, "ar": 2024}}
    included, why = comparable(loaded, list(loaded))
    assert included == ["minkommun"] and "fiktiva data" in why  # alone: the comparison is skipped
    loaded["grannby"] = {"synthetic": False, "ar": 2024}
    loaded["gammelby"] = {"synthetic": False, "ar": 2023}
    included, why = comparable(loaded, list(loaded))
    assert included == ["minkommun", "grannby"] and "gammelby" in why and "2024" in why
    demo = {k: v for k, v in loaded.items() if v["synthetic"]}
    assert comparable(demo, list(demo)) == (["norrvik", "ekby"], "")


def test_demo_data_is_not_recreated_when_own_params_exist(tmp_project: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from genomlysning import synth

    (tmp_project / "params" / "minkommun.yaml").write_text("kommun: minkommun\nar: 2024\n", encoding="utf-8")
    args = argparse.Namespace(seed=1, dirty=None, national=0, only=None, force=False)
    assert synth.cli_demo_data(args) == 0
    assert sorted(p.name for p in (tmp_project / "params").iterdir()) == ["minkommun.yaml"]
    assert "egna data (minkommun" in capsys.readouterr().out
    assert synth.cli_demo_data(argparse.Namespace(seed=1, dirty=None, national=0, only=["pyttby"],
                                                  force=False)) == 0
    assert (tmp_project / "params" / "pyttby.yaml").is_file()


def test_index_row_and_report_title_say_fiktiva_data(tmp_project: Path) -> None:
    from genomlysning import index, runner

    (tmp_project / "params" / "demo.yaml").write_text("kommun: demo\nnamn: Demo\nsynthetic: true\n",
                                                      encoding="utf-8")
    (tmp_project / "params" / "egen.yaml").write_text("kommun: egen\nnamn: Egen\n", encoding="utf-8")
    html = index.write_index(tmp_project).read_text(encoding="utf-8")
    rows = {r.split('"')[0]: r for r in html.split('<tr id="')[1:]}
    assert "fiktiva data" in rows["demo"] and "fiktiva data" not in rows["egen"]
    assert runner._demo_mark({"synthetic": True}) == " (fiktiva data)"
    assert runner._demo_mark({"synthetic": True}, {"synthetic": False}) == ""


def test_make_test_runs_in_a_project_of_its_own() -> None:
    """The case of the issue: `make test` failed once the analyst's own params file existed."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(["make", "-n", "-s", "test"], cwd=root, capture_output=True, text=True,
                         check=True).stdout
    assert "-m genomlysning.cli test" in out  # make test is genomlysning test (selftest.steps)
    from genomlysning import selftest

    todo = {s.name: s for s in selftest.steps(root)}
    for name in ("demo-data", "prepare", "pytest", "nbval"):
        assert todo[name].env == {"GENOMLYSNING_ROOT": str(root / selftest.NBVAL_ROOT)}, name
    assert "cp -r params" not in out


def test_params_readme_exists_and_a_demo_without_data_suggests_demo_data(tmp_project: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    text = (root / "params" / "README.md").read_text(encoding="utf-8")
    assert "mapping:" in text and "derive:" in text and "Reason recodes" in text
    with pytest.raises(ingest.IngestError, match="genomlysning demo-data"):
        ingest.read_raw("data/raw/ekby/aktualiseringar.xlsx", {"synthetic": True})
    with pytest.raises(ingest.IngestError, match="params/README.md"):
        ingest.read_raw("data/raw/minkommun/export.csv", {})
