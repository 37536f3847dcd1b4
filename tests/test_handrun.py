"""Notebooks run by hand cannot mislead (issue 15, case 5); outputs readable by the group (case 7)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from genomlysning import handrun, paths, provenance, report

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture
def project(tmp_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", tmp_project / "notebooks")
    monkeypatch.delenv(handrun.RUNNER_ENV, raising=False)
    (tmp_project / "notebooks").mkdir()
    for name in ("02_funnel", "05_change"):
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", tmp_project / "notebooks")
    (tmp_project / "params" / "minkommun.yaml").write_text(
        "kommun: minkommun\nnamn: Min kommun\nar: 2024\nk: 7\nperiod_slut: 2024-12-31\n"
        "pilot_omrade: Pilot\nomraden: [Nord, Pilot]\n", encoding="utf-8")
    return tmp_project


def _defaults(notebook: str) -> dict:
    found = handrun._cells(notebook)
    assert found is not None
    return dict(found[0])


def test_with_only_kommun_the_rest_comes_from_the_params_file(project: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The case of the issue: `papermill … -p kommun K` fell back on 2025 and the demo's k."""
    ns = {**_defaults("02_funnel"), "kommun": "minkommun"}
    taken = handrun.settle(ns, "02_funnel")
    assert ns["ar"] == 2024 and ns["k"] == 7 and ns["period_slut"] == "2024-12-31"
    assert set(taken) == {"ar", "k", "period_slut"}
    assert "ar = 2024" in capsys.readouterr().out
    ns = {**_defaults("05_change"), "kommun": "minkommun"}
    handrun.settle(ns, "05_change")
    assert ns["pilot_omrade"] == "Pilot"


def test_an_explicit_parameter_is_kept(project: Path) -> None:
    ns = {**_defaults("02_funnel"), "kommun": "minkommun", "ar": 2023}
    handrun.settle(ns, "02_funnel")
    assert ns["ar"] == 2023 and ns["k"] == 7


def test_a_misspelt_parameter_stops_the_run_with_the_closest_name(project: Path) -> None:
    ns = {**_defaults("02_funnel"), "komun": "minkommun"}
    with pytest.raises(handrun.HandRunError, match="okänd parameter 'komun' \\(menade du 'kommun'\\?\\)"):
        handrun.settle(ns, "02_funnel")


def test_names_the_notebook_itself_assigns_are_no_unknown_parameter(project: Path) -> None:
    ns = {**_defaults("02_funnel"), "kommun": "minkommun", "namn": "Min kommun", "In": [], "_": 1}
    handrun.settle(ns, "02_funnel")


def test_nothing_changes_when_the_runner_drives(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(handrun.RUNNER_ENV, "1")
    ns = {**_defaults("02_funnel"), "kommun": "minkommun", "komun": "x"}
    assert handrun.settle(ns, "02_funnel") == [] and ns["ar"] == 2025


def _table() -> pd.DataFrame:
    return pd.DataFrame({"steg": ["a"], "andel": [0.5]})


def test_a_hand_run_does_not_overwrite_published_reports(project: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The case of the issue: a hand run overwrote the published tables, workbook and results.json."""
    report.update_results("minkommun", "x", {"a": 1})  # nothing published yet: a hand run may write
    provenance.save_state(paths.report_dir("minkommun"), {"notebooks": {"02_funnel": {"status": "ok"}},
                                                           "files": {}})
    before = report.results_path("minkommun").read_bytes()
    with pytest.raises(handrun.HandRunError, match="publicerat av genomlysning run"):
        report.update_results("minkommun", "x", {"a": 2})
    with pytest.raises(handrun.HandRunError):
        report.save_table(_table(), "minkommun", "t", title="T", unit="u", source="s")
    assert report.results_path("minkommun").read_bytes() == before
    monkeypatch.setenv(handrun.RUNNER_ENV, "1")
    report.update_results("minkommun", "x", {"a": 2})
    assert report.load_results("minkommun")["x"] == {"a": 2}


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_outputs_are_readable_as_the_umask_allows(project: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        report.update_results("minkommun", "x", {"a": 1})
        path = report.save_table(_table(), "minkommun", "t", title="T", unit="u", source="s")
    finally:
        os.umask(old)
    assert report.results_path("minkommun").stat().st_mode & 0o777 == mode
    assert Path(path).stat().st_mode & 0o777 == mode


def test_figure_alt_text_says_what_the_figure_shows() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    fig.suptitle("Tratten 2024")
    ax.set_title("Andel per steg")
    ax.set_xlabel("andel")
    ax.set_ylabel("steg")
    expected = "Figur: Tratten 2024. Andel per steg (x-axel: andel; y-axel: steg)."
    assert handrun.figure_alt_text(fig) == expected
    assert handrun.figure_alt_text(plt.figure(), "en") == "Figure: a chart without a title."
    plt.close("all")


def test_html_report_uses_the_figures_alt_text() -> None:
    import base64

    import nbformat

    from genomlysning import runner

    png = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("fig", outputs=[
        nbformat.v4.new_output("display_data", data={"image/png": png},
                               metadata={"image/png": {"alt": "Figur: Tratten 2024."}}),
        nbformat.v4.new_output("display_data", data={"image/png": png})])]
    exporter = runner._exporter()
    exporter.alt_text = "Figur"
    html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": "t"}, "gl_alt": "Figur"})
    assert 'alt="Figur: Tratten 2024."' in html and html.count("<img") == 2 and 'alt="Figur"' in html
