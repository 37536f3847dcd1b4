"""The runner audits each publication unit before its reports stay published (genomlysning.runner).

A unit whose published tables let a reader recover a hidden small count (here: a ``..`` replaced by
its true value in one CSV, which pins the other hidden cell through the published total) is
withheld: its files leave ``reports/`` for ``data/processed/<unit>/tillbakahallet/``, the run fails,
the index says so, and the other units are published as usual. The units here are tiny hand-made
ledgers (one table), so the audit takes milliseconds; one test runs them through the real runner
with toy notebooks, and one (slow) runs the funnel analysis of a ~60-row synthetic municipality.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import time
from argparse import Namespace
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from genomlysning import (
    audit,
    clean,
    disclose,
    funnel,
    funnel_report,
    index,
    paths,
    provenance,
    report,
    runner,
    synth,
)
from genomlysning.ledger import Cell, Ledger

#: Counts by category of the hand-made unit: ``a`` (2) is small, so it and one more are hidden.
COUNTS = {"a": 2, "b": 9, "c": 7}
TABLE = "02_fordelning"


@pytest.fixture(autouse=True)
def stable_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Others edit the library while these tests run: pin the code hash and git version."""
    monkeypatch.setattr(provenance, "code_hash", lambda folder=None: "c0de" * 16)
    monkeypatch.setattr(provenance, "git_version", lambda repo=None: "0123456789")


def _params(root: Path, label: str) -> None:
    (root / "params").mkdir(exist_ok=True)
    raw = root / "data" / "raw" / label
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "data.csv").write_text("varde\n1\n", encoding="utf-8")
    p = {"kommun": label, "namn": label.capitalize(), "input": f"data/raw/{label}/data.csv"}
    (root / "params" / f"{label}.yaml").write_text(yaml.safe_dump(p), encoding="utf-8")


def _publish_unit(label: str, counts: dict[str, int] = COUNTS, k: int = 5) -> pd.DataFrame:
    """Publish a one-table unit under reports/<label>/ as 02_funnel would: the table protected by
    the ledger, its definitions, a notebook, a figure and results.json. Returns the raw table."""
    cats = list(counts)
    led = Ledger(k)
    led.dimension("akt", "kategori", pd.Series([c for c in cats for _ in range(counts[c])]), tuple(cats))
    cells = [Cell.of("akt", kategori=c) for c in cats] + [Cell.of("akt")]
    frame = pd.DataFrame({"kategori": [*cats, "totalt"], "n": [led.value(c) for c in cells]})
    led.add("fordelning", frame, {"n": cells})
    led.protect()
    report.save_ledger(led.definitions_json({"fordelning": TABLE}), label, "02")
    report.save_table(led.masked("fordelning"), label, TABLE, title="Fördelning", unit="aktualiseringar",
                      source="test", k=k)
    folder = paths.report_dir(label)
    nb = new_notebook()
    nb.cells = [new_markdown_cell(f"# {label}")]
    nbformat.write(nb, folder / "02_funnel.ipynb")
    (folder / "02_funnel.html").write_text("<html>rapport</html>", encoding="utf-8")
    (folder / "figures").mkdir(exist_ok=True)
    (folder / "figures" / "02_fordelning.png").write_bytes(b"png")
    report.update_results(label, "tratt", {"aktualiseringar_n": sum(counts.values())})
    return frame


def _reveal(folder: Path, raw: pd.DataFrame) -> int:
    """Tamper with a published table: replace the largest hidden count by its true value (which
    pins the small one through the visible total). Returns the value written."""
    path = folder / "tables" / f"{TABLE}.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    col = rows[0].index("n")
    hidden = [i for i, row in enumerate(rows[1:]) if row[col] == disclose.SUPPRESSED]
    assert len(hidden) >= 2, rows  # the small count and its secondary
    i = max(hidden, key=lambda i: int(raw["n"].iloc[i]))
    value = int(raw["n"].iloc[i])
    rows[i + 1][col] = str(value)
    path.write_text("".join(report.csv_line(r) for r in rows), encoding="utf-8")
    return value


def _publish_comparison_row(label: str, table: str, cell: Cell, value: int) -> None:
    """Publish ``jamforelse/<table>``, one row about ``label`` printing ``cell`` as ``value``,
    with its definition in ``label``'s ``ledger/04.json`` (as 04_compare does)."""
    defs = json.loads((paths.report_dir(label) / "ledger" / "02.json").read_text(encoding="utf-8"))
    report.save_table(pd.DataFrame({"kommun": [label.capitalize()], "n": [value]}), runner.CROSS_LABEL, table,
                      title="x", unit="aktualiseringar", source="test", k=5)
    defs["tables"] = [{"name": f"{runner.CROSS_LABEL}/{table}", "cells": {"n": [cell.key()]}, "linked": {},
                       "protect": []}]
    report.save_ledger(json.dumps(defs), label, "04")


def _ran(label: str, *notebooks: str) -> list[runner.NotebookResult]:
    return [runner.NotebookResult(label, nb, runner.OK, 1.0) for nb in notebooks]


def _row(html: str, label: str) -> str:
    start = html.index(f'<tr id="{label}">')
    return html[start:html.index("</tr>", start)]


# -- the withhold step on prepared reports (fast) ---------------------------------------------


def test_untampered_unit_passes_and_its_audit_time_is_recorded(tmp_project: Path) -> None:
    _publish_unit("alfa")
    table = pd.read_csv(tmp_project / "reports" / "alfa" / "tables" / f"{TABLE}.csv", dtype=str)
    assert (table["n"] == disclose.SUPPRESSED).sum() == 2  # a (2) and its secondary
    out = runner.audit_and_publish(runner.Project(tmp_project), "alfa", _ran("alfa", "02_funnel"))
    assert [(r.notebook, r.status) for r in out] == [("02_funnel", "ok"), (runner.AUDIT_STEP, "ok")]
    assert out[-1].seconds > 0 and "2 dolda celler" in out[-1].message
    assert (tmp_project / "reports" / "alfa" / "tables" / f"{TABLE}.csv").is_file()
    summary = runner.RunSummary(out)
    assert summary.exit_code == 0 and summary.withheld == []
    assert "röjandegranskning: 1 enheter på" in summary.table()


def test_tampered_unit_is_withheld_and_the_other_stays(tmp_project: Path) -> None:
    for label in ("alfa", "beta"):
        _params(tmp_project, label)
    _publish_unit("alfa")
    raw = _publish_unit("beta")
    before = sorted(p.relative_to(tmp_project / "reports" / "beta").as_posix()
                    for p in (tmp_project / "reports" / "beta").rglob("*") if p.is_file())
    _reveal(tmp_project / "reports" / "beta", raw)
    project = runner.Project(tmp_project)
    results = [r for label in ("alfa", "beta")
               for r in runner.audit_and_publish(project, label, _ran(label, "01_cleaning", "02_funnel"))]
    summary = runner.RunSummary(results)
    assert summary.withheld == ["beta"] and summary.exit_code == 1
    status = {(r.kommun, r.notebook): r.status for r in summary.results}
    assert status == {("alfa", "01_cleaning"): "ok", ("alfa", "02_funnel"): "ok",
                      ("alfa", "granskning"): "ok", ("beta", "01_cleaning"): "failed",
                      ("beta", "02_funnel"): "failed", ("beta", "granskning"): "failed"}
    # nothing of beta under reports/; all of it in the local folder, with the audit's findings
    assert not (tmp_project / "reports" / "beta").exists()
    kept = tmp_project / "data" / "processed" / "beta" / runner.WITHHELD_DIR
    assert before and all((kept / f).is_file() for f in before)
    marker = json.loads((kept / runner.WITHHELD_FILE).read_text(encoding="utf-8"))
    assert marker["enhet"] == "beta" and "1 litet antal som kan räknas fram" in marker["orsak"]
    assert "RÖJD" in (kept / runner.WITHHELD_REPORT).read_text(encoding="utf-8")
    # alfa is untouched
    assert (tmp_project / "reports" / "alfa" / "tables" / f"{TABLE}.csv").is_file()
    # the message names the unit, the disclosed cell and its pinned value, and where the files are
    text = summary.table()
    a = Cell.of("akt", kategori="a").key()
    assert "beta: TILLBAKAHÅLLEN" in text and "data/processed/beta/tillbakahallet/" in text
    assert f"RÖJD {TABLE} [dold] {a}: [2, 2]" in text
    assert "röjandegranskning: 2 enheter" in text and "tillbakahållna: beta" in text
    assert "beta/02_funnel failed" not in text  # one message per withheld unit, not per notebook
    # the index shows beta as withheld, with no link to any of its files; alfa as usual
    html = index.write_index(tmp_project).read_text(encoding="utf-8")
    row = _row(html, "beta")
    assert "tillbakahållen" in row and "Rapporterna hålls tillbaka" in row and "href" not in row
    assert 'href="beta/' not in html and "beta/figures" not in html
    assert 'href="alfa/02_funnel.html"' in _row(html, "alfa")


def test_small_count_published_in_plain_sight_is_withheld(tmp_project: Path) -> None:
    raw = _publish_unit("alfa")
    path = tmp_project / "reports" / "alfa" / "tables" / f"{TABLE}.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows[1][rows[0].index("n")] = str(int(raw["n"].iloc[0]))  # a = 2, visible
    path.write_text("".join(report.csv_line(r) for r in rows), encoding="utf-8")
    out = runner.audit_and_publish(runner.Project(tmp_project), "alfa", _ran("alfa", "02_funnel"))
    assert out[-1].status == "failed" and "[synlig]" in out[-1].message
    assert not (tmp_project / "reports" / "alfa").exists()


def test_unit_whose_audit_fails_is_withheld(tmp_project: Path) -> None:
    _publish_unit("alfa")
    (tmp_project / "reports" / "alfa" / "tables" / f"{TABLE}.csv").unlink()  # the ledger names it
    out = runner.audit_and_publish(runner.Project(tmp_project), "alfa", _ran("alfa", "02_funnel"))
    assert out[-1].status == "failed" and "kunde inte genomföras" in out[-1].message
    assert out[0].status == "failed" and out[0].message == runner.WITHHELD_NOTE
    assert not (tmp_project / "reports" / "alfa").exists()
    assert runner.is_withheld(runner.Project(tmp_project), "alfa")


def test_rerun_that_passes_publishes_the_unit_again(tmp_project: Path) -> None:
    _params(tmp_project, "alfa")
    project = runner.Project(tmp_project)
    _reveal(tmp_project / "reports" / "alfa", _publish_unit("alfa"))
    runner.audit_and_publish(project, "alfa", _ran("alfa", "02_funnel"))
    assert runner.is_withheld(project, "alfa")
    _publish_unit("alfa")  # the next run writes the unit afresh
    out = runner.audit_and_publish(project, "alfa", _ran("alfa", "02_funnel"))
    assert out[-1].status == "ok" and not runner.withheld_dir(project, "alfa").exists()
    html = index.write_index(tmp_project).read_text(encoding="utf-8")
    assert "tillbakahållen" not in _row(html, "alfa") and 'href="alfa/02_funnel.html"' in html


def test_comparison_unit_without_ledger_is_not_audited_and_with_one_is(tmp_project: Path) -> None:
    project = runner.Project(tmp_project)
    cross = tmp_project / "reports" / runner.CROSS_LABEL
    cross.mkdir(parents=True)
    nbformat.write(new_notebook(), cross / "04_compare.ipynb")
    out = runner.audit_and_publish(project, runner.CROSS_LABEL, _ran(runner.CROSS_LABEL, "04_compare"))
    assert [r.notebook for r in out] == ["04_compare"] and out[0].status == "ok"  # no ledger: no audit
    assert cross.is_dir()
    _reveal(cross, _publish_unit(runner.CROSS_LABEL))
    out = runner.audit_and_publish(project, runner.CROSS_LABEL, _ran(runner.CROSS_LABEL, "04_compare"))
    assert out[-1].status == "failed" and not cross.exists()
    html = index.write_index(tmp_project).read_text(encoding="utf-8")
    section = html[html.index("Jämförelse mellan kommuner"):]
    assert "tillbakahållen" in section and 'href="jamforelse/' not in html


def test_comparison_that_reveals_a_municipality_cell_is_withheld_not_the_municipality(
        tmp_project: Path) -> None:
    """The comparison prints alfa's secondary-hidden category c (7) about alfa: with alfa's own
    total that pins the small a (2). alfa alone passes; the comparison is withheld, and alfa's
    ledger file for it goes with it, so alfa's next audit is not broken by a missing table."""
    project = runner.Project(tmp_project)
    _publish_unit("alfa")
    cross = tmp_project / "reports" / runner.CROSS_LABEL
    _publish_comparison_row("alfa", "04_x", Cell.of("akt", kategori="c"), COUNTS["c"])
    out = runner.audit_and_publish(project, "alfa", _ran("alfa", "02_funnel"))
    assert out[-1].status == "ok"  # the municipality's own notebooks are fine
    out = runner.audit_and_publish(project, runner.CROSS_LABEL, _ran(runner.CROSS_LABEL, "04_compare"))
    assert out[-1].status == "failed" and "alfa" in out[-1].message and not cross.exists()
    assert not (paths.report_dir("alfa") / "ledger" / "04.json").exists()
    assert (paths.report_dir("alfa") / "tables" / f"{TABLE}.csv").is_file()
    assert audit.audit_unit("alfa").ok


def test_index_and_runner_agree_on_the_withheld_folder() -> None:
    assert (index.WITHHELD_DIR, index.WITHHELD_FILE) == (runner.WITHHELD_DIR, runner.WITHHELD_FILE)
    assert index.CROSS_LABEL == runner.CROSS_LABEL


# -- through the runner, with toy notebooks -----------------------------------------------------

CLEANING = '''
import json
from genomlysning import paths
out = paths.processed_dir(kommun)
out.mkdir(parents=True, exist_ok=True)
(out / "redovisning.json").write_text(json.dumps({"rows_in": 1, "rows_clean": 1, "rows_quarantined": 0}))
'''

#: "02_funnel": publishes the unit prepared under data/processed/<kommun>/forberedd/.
PUBLISH = '''
import shutil
from genomlysning import paths
shutil.copytree(paths.processed_dir(kommun) / "forberedd", paths.report_dir(kommun), dirs_exist_ok=True)
'''

COMPARE = '''
import json
from genomlysning import paths
out = paths.report_dir("jamforelse")
out.mkdir(parents=True, exist_ok=True)
(out / "results.json").write_text(json.dumps({"jamforelse": {"kommuner": len(kommuner)}}))
'''


def _notebook(path: Path, parameters: str, code: str) -> None:
    nb = new_notebook()
    cell = new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, new_code_cell(code)]
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nbformat.write(nb, path)


def test_run_withholds_the_disclosing_unit_and_goes_on(tmp_project: Path) -> None:
    root = tmp_project
    (root / "notebooks").mkdir()
    _notebook(root / "notebooks" / "01_cleaning.ipynb",
              'kommun = "alfa"\nparams_path = "params/alfa.yaml"\ninput_path = None', CLEANING)
    _notebook(root / "notebooks" / "02_funnel.ipynb", 'kommun = "alfa"', PUBLISH)
    _notebook(root / "notebooks" / "04_compare.ipynb", 'kommuner = ["alfa", "gamma"]', COMPARE)
    for label in ("alfa", "beta", "gamma"):
        _params(root, label)
        raw = _publish_unit(label)
        if label == "beta":
            _reveal(root / "reports" / label, raw)
        shutil.move(root / "reports" / label, paths.processed_dir(label) / "forberedd")
    summary = runner.run(root=root, jobs=1, progress=False, prewarm=False)
    status = {(r.kommun, r.notebook): r.status for r in summary.results}
    assert status[("beta", "granskning")] == "failed" and status[("beta", "02_funnel")] == "failed"
    for label in ("alfa", "gamma"):
        assert status[(label, "02_funnel")] == status[(label, "granskning")] == "ok"
        assert (root / "reports" / label / "02_funnel.html").is_file()
        assert (root / "reports" / label / "tables" / f"{TABLE}.csv").is_file()
    assert status[("jamforelse", "04_compare")] == "ok"  # over the two published units
    assert json.loads((root / "reports" / "jamforelse" / "results.json").read_text())["jamforelse"] == \
        {"kommuner": 2}
    assert summary.exit_code == 1 and summary.withheld == ["beta"]
    assert not (root / "reports" / "beta").exists()
    kept = paths.processed_dir("beta") / runner.WITHHELD_DIR
    assert (kept / "02_funnel.ipynb").is_file() and (kept / "tables" / f"{TABLE}.csv").is_file()
    assert (kept / provenance.STATE_FILE).is_file()  # so the next run reruns the whole unit
    text = summary.table()
    assert "beta: TILLBAKAHÅLLEN" in text and "röjandegranskning: 3 enheter" in text
    html = (root / "reports" / "index.html").read_text(encoding="utf-8")
    assert "tillbakahållen" in _row(html, "beta") and 'href="beta/' not in html
    # the next run: beta is rerun (and withheld again), the others are up to date
    again = {(r.kommun, r.notebook): r.status for r in runner.run(root=root, jobs=1, progress=False,
                                                                  prewarm=False).results}
    assert again[("alfa", "02_funnel")] == "up-to-date" and again[("beta", "granskning")] == "failed"


def test_cli_run_exit_status_is_non_zero_when_a_unit_is_withheld(
        tmp_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    summary = runner.RunSummary([*_ran("alfa", "02_funnel"),
                                 runner.NotebookResult("alfa", runner.AUDIT_STEP, runner.FAILED, 0.1,
                                                       "alfa: TILLBAKAHÅLLEN – test")])
    monkeypatch.setattr(runner, "run", lambda **kw: summary)
    assert runner.cli_run(Namespace(kommun=None, jobs=1, scheduler=None, force=False)) == 1
    assert "alfa: TILLBAKAHÅLLEN – test" in capsys.readouterr().out


# -- the tiny synthetic municipality, through the real funnel analysis ---------------------------


def test_tiny_spec_is_not_a_demo_municipality() -> None:
    assert [s.kommun for s in synth.DEMO_SPECS] == ["ekby", "norrvik", "storstad_vaster", "storstad_oster",
                                                    "sjohamn"]
    assert synth.TINY_SPEC not in synth.DEMO_SPECS and synth.demo_spec("pyttby") == synth.TINY_SPEC
    df, _ = synth.generate_kommun(synth.TINY_SPEC)
    assert 40 <= len(df) <= 90


@pytest.mark.slow
def test_tiny_municipality_is_protected_and_passes_the_audit(tmp_project: Path) -> None:
    """~60 rows: nearly every cell is small. Generated, cleaned by the prepare path, analysed and
    saved as 02_funnel does; the audit the runner calls finds no disclosure (so the runner would
    publish it: the withhold step itself is tested above on hand-made units, in milliseconds)."""
    spec = synth.TINY_SPEC
    synth.write_kommun(spec, raw_root=paths.DATA_RAW, params_root=paths.PARAMS_DIR)
    assert clean.cli_prepare(Namespace(kommun=[spec.kommun])) == 0
    data = clean.load_clean(spec.kommun)
    assert 40 <= len(data) <= 90
    t0 = time.perf_counter()
    rep = funnel_report.analyse(data, 2025, 5, funnel.period_end(data, spec.kommun),
                                cache=paths.processed_dir(spec.kommun))
    analysis = time.perf_counter() - t0
    funnel_report.save_tables(rep, spec.kommun, 2025, namn=spec.namn)
    result = audit.audit_unit(spec.kommun)
    assert result.ok, audit.describe(result)
    protection = rep.ledger.result  # type: ignore[attr-defined]
    shown = sum((report.read_table(spec.kommun, name)[0] == disclose.SUPPRESSED).to_numpy().sum()
                for name, *_ in funnel_report.EXPORTS.values())
    assert protection.primary and protection.primary <= protection.hidden
    assert result.hidden > 0 and shown > 0
    print(f"\n{spec.kommun}: {len(data)} rader, {len(protection.primary)} primära och "
          f"{len(protection.hidden)} dolda celler i liggaren, {result.hidden} dolda i granskningen, "
          f"{shown} '..' i tabellerna; analys {analysis:.1f} s, granskning {result.seconds:.1f} s")


def test_the_comparisons_audit_of_many_units_side_by_side_finds_what_one_at_a_time_does(
        tmp_project: Path) -> None:
    """Three compared municipalities, audited in three threads: the same findings, in the same
    order, as one at a time; only beta's cell is named (its 04 row pins its small count)."""
    project = runner.Project(tmp_project)
    reports = tmp_project / "reports"
    for label in ("alfa", "beta", "gamma"):
        _publish_unit(label)
        if label == "beta":
            _publish_comparison_row(label, f"04_{label}", Cell.of("akt", kategori="c"), COUNTS["c"])
        else:
            _publish_comparison_row(label, f"04_{label}", Cell.of("akt"), sum(COUNTS.values()))
    assert audit.compared_units() == ["alfa", "beta", "gamma"]
    saved = tmp_project / "saved"
    shutil.copytree(reports, saved)
    texts = []
    for threads in (1, 3):  # a withheld comparison takes its ledger files along: start afresh
        shutil.rmtree(reports)
        shutil.copytree(saved, reports)
        out = runner.audit_and_publish(project, runner.CROSS_LABEL, _ran(runner.CROSS_LABEL, "04_compare"),
                                       threads)
        assert out[-1].status == "failed" and "beta" in out[-1].message
        assert "alfa" not in out[-1].message and "gamma" not in out[-1].message
        withheld = runner.withheld_dir(project, runner.CROSS_LABEL) / runner.WITHHELD_REPORT
        texts.append(re.sub(r"\(\d+\.\d s\)", "(s)", withheld.read_text(encoding="utf-8")))  # times differ
    assert texts[0] == texts[1] and "alfa" in texts[0] and "gamma" in texts[0]
