"""Tests of the runner (genomlysning.runner, genomlysning.kernel, genomlysning.provenance).

Each test builds a small project in a temporary GENOMLYSNING_ROOT with tiny notebooks (json and the
params/paths modules only) so that the tests are fast and independent of the real notebooks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html import unescape
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from genomlysning import params, provenance, runner
from genomlysning.kernel import WarmKernel

# -- a tiny project -----------------------------------------------------------------------------

CLEAN = '''
import json
from genomlysning import params, paths
p = params.load(params_path)
src = paths.resolve(input_path or p["input"])
values = [int(x) for x in src.read_text(encoding="utf-8").split()[1:]]
out = paths.processed_dir(kommun)
out.mkdir(parents=True, exist_ok=True)
(out / "values.json").write_text(json.dumps(values))
(out / "redovisning.json").write_text(json.dumps(
    {"rows_in": len(values), "rows_clean": len(values), "rows_quarantined": 0}))
print(f"{kommun}: {len(values)} rader")
'''

FUNNEL = '''
import json
from genomlysning import paths
values = json.loads((paths.processed_dir(kommun) / "values.json").read_text())
res = {"tratt": {"aktualiseringar": len(values), "andel_stora": sum(v > 2 for v in values) / len(values),
                 "summa": sum(values), "k": k, "ar": ar, "manader": ateraktualisering_manader}}
out = paths.report_dir(kommun)
out.mkdir(parents=True, exist_ok=True)
(out / "results.json").write_text(json.dumps(res, sort_keys=True))
(out / "figures").mkdir(exist_ok=True)
(out / "figures" / "tratt.png").write_bytes(b"not really a png " + str(len(values)).encode())
res
'''

COMPARE = '''
import json
from genomlysning import paths
rows = {k: json.loads((paths.report_dir(k) / "results.json").read_text())["tratt"] for k in kommuner}
out = paths.report_dir("jamforelse")
out.mkdir(parents=True, exist_ok=True)
total = sum(r["aktualiseringar"] for r in rows.values())
(out / "results.json").write_text(json.dumps({"jamforelse": {"kommuner": len(rows), "totalt": total}}))
print(sorted(rows), total, k)
'''


def _notebook(path: Path, parameters: str, *code: str) -> None:
    nb = new_notebook()
    cell = new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [new_markdown_cell(f"# {path.stem}"), cell, *(new_code_cell(c) for c in code)]
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nbformat.write(nb, path)


def _kommun(root: Path, name: str, values: list[int] | None, **extra: object) -> None:
    raw = root / "data" / "raw" / name
    raw.mkdir(parents=True, exist_ok=True)
    if values is not None:
        (raw / "data.csv").write_text("varde\n" + "\n".join(map(str, values)) + "\n", encoding="utf-8")
    p = {"kommun": name, "namn": name.capitalize(), "input": f"data/raw/{name}/data.csv", "ar": 2025,
         "k": 3, **extra}
    (root / "params" / f"{name}.yaml").write_text(yaml.safe_dump(p, allow_unicode=True), encoding="utf-8")


@pytest.fixture(autouse=True)
def stable_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Others edit the library while these tests run: pin the code hash and git version."""
    monkeypatch.setattr(provenance, "code_hash", lambda folder=None: "c0de" * 16)
    monkeypatch.setattr(provenance, "git_version", lambda repo=None: "0123456789")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Two good municipalities (alfa, beta) and the three tiny notebooks."""
    root = tmp_path / "proj"
    (root / "notebooks").mkdir(parents=True)
    (root / "params").mkdir()
    _notebook(root / "notebooks" / "01_cleaning.ipynb",
              'kommun = "alfa"\nparams_path = "params/alfa.yaml"\ninput_path = None', CLEAN)
    _notebook(root / "notebooks" / "02_funnel.ipynb",
              'kommun = "alfa"\nar = 2025\nk = 5\nateraktualisering_manader = 12', FUNNEL)
    _notebook(root / "notebooks" / "04_compare.ipynb", 'kommuner = ["alfa", "beta"]\nk = 5', COMPARE)
    _kommun(root, "alfa", [1, 2, 3, 4])
    _kommun(root, "beta", [5, 6, 7], k=5)
    return root


def _run(root: Path, **kw: object) -> runner.RunSummary:
    kw.setdefault("jobs", 1)
    return runner.run(root=root, progress=False, prewarm=False, **kw)


def _statuses(summary: runner.RunSummary) -> dict[tuple[str, str], str]:
    return {(r.kommun, r.notebook): r.status for r in summary.results}


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted((root / "reports").rglob("*")) if p.is_file()}


# -- parameters ------------------------------------------------------------------------------


def test_misspelt_key_is_refused_before_anything_runs(project: Path) -> None:
    _kommun(project, "beta", [5, 6, 7], ateraktualisering_manadr=6)
    with pytest.raises(params.ParamsError) as err:
        _run(project)
    msg = str(err.value)
    assert "params/beta.yaml" in msg
    assert "'ateraktualisering_manadr'" in msg
    assert "closest valid key: 'ateraktualisering_manader'" in msg
    assert "Valid keys:" in msg and "input_path" in msg and "mapping" in msg
    assert not (project / "reports").exists()


def test_key_that_no_notebook_declares_is_refused(project: Path) -> None:
    # pilot_omrade is a known key in params.NOTEBOOK_KEYS, but none of these notebooks declares it
    _kommun(project, "alfa", [1, 2], pilot_omrade="Pilot")
    with pytest.raises(params.ParamsError, match="'pilot_omrade'.*neither a parameter of any notebook"):
        _run(project)


def test_keys_the_runner_sets_are_refused_in_params(project: Path) -> None:
    _kommun(project, "alfa", [1, 2], input_path="x.csv")
    with pytest.raises(params.ParamsError, match="'input_path' is set by the runner"):
        _run(project)


def test_named_municipality_without_params_file(project: Path) -> None:
    with pytest.raises(params.ParamsError, match="params/gamma.yaml: params file not found.*alfa, beta"):
        _run(project, kommuner=["gamma"])


def test_notebooks_get_only_their_declared_parameters(project: Path) -> None:
    summary = _run(project, kommuner=["alfa"], cross=False)
    assert summary.exit_code == 0
    injected = {}
    for name in ("01_cleaning", "02_funnel"):
        nb = nbformat.read(project / "reports" / "alfa" / f"{name}.ipynb", as_version=4)
        cells = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(cells) == 1
        injected[name] = cells[0].source
    assert 'params_path = "params/alfa.yaml"' in injected["01_cleaning"]
    assert "k = " not in injected["01_cleaning"] and "ar = " not in injected["01_cleaning"]
    assert "k = 3" in injected["02_funnel"] and "ar = 2025" in injected["02_funnel"]
    assert "input" not in injected["02_funnel"]
    # the params default (ateraktualisering_manader = 12) reaches the notebook that declares it
    assert "ateraktualisering_manader = 12" in injected["02_funnel"]


# -- a full run: outputs, provenance, failures -------------------------------------------------


def test_failing_municipality_leaves_the_others_complete(project: Path) -> None:
    _kommun(project, "gamma", None)  # params point at an input file that does not exist
    summary = _run(project, jobs=2)
    st = _statuses(summary)
    assert st[("gamma", "01_cleaning")] == "failed"
    assert st[("gamma", "02_funnel")] == "skipped"
    for k in ("alfa", "beta"):
        assert st[(k, "01_cleaning")] == st[(k, "02_funnel")] == "ok"
        for nb in ("01_cleaning", "02_funnel"):
            for f in runner.output_names(nb):
                assert (project / "reports" / k / f).is_file()
        assert json.loads((project / "reports" / k / "results.json").read_text())["tratt"]["aktualiseringar"]
    # the comparison runs over the two that succeeded
    assert st[("jamforelse", "04_compare")] == "ok"
    cross = json.loads((project / "reports" / "jamforelse" / "results.json").read_text())
    assert cross == {"jamforelse": {"kommuner": 2, "totalt": 7}}
    assert summary.exit_code == 1
    assert [r.notebook for r in summary.failed] == ["01_cleaning"]
    assert "FileNotFoundError" in summary.failed[0].message
    table = summary.table()
    assert "gamma" in table and "failed" in table and "skipped" in table and "seconds" in table
    # the failing notebook is kept, with papermill's error marker and the traceback
    nb = nbformat.read(project / "reports" / "gamma" / "01_cleaning.ipynb", as_version=4)
    assert provenance.PROVENANCE_TAG in nb.cells[0].metadata["tags"]
    assert any("papermill-error-cell-tag" in c.metadata.get("tags", []) for c in nb.cells)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "FileNotFoundError"
    assert (project / "reports" / "gamma" / "01_cleaning.html").is_file()
    assert not (project / "reports" / "gamma" / "02_funnel.ipynb").exists()


def test_cli_run_exit_code_and_summary(project: Path) -> None:
    _kommun(project, "gamma", None)
    env = {**os.environ, "GENOMLYSNING_ROOT": str(project)}
    proc = subprocess.run([sys.executable, "-m", "genomlysning.cli", "run", "--kommun", "gamma",
                           "--kommun", "alfa", "--jobs", "1"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "gamma" in proc.stdout and "failed" in proc.stdout and "alfa" in proc.stdout
    assert "översikt: reports/index.html" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "genomlysning.cli", "run", "--kommun", "nosuch"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "params/nosuch.yaml" in bad.stdout


def test_provenance_cell_is_first_and_has_no_absolute_paths(project: Path) -> None:
    _run(project, kommuner=["alfa"], cross=False)
    nb = nbformat.read(project / "reports" / "alfa" / "01_cleaning.ipynb", as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("## Härkomst")
    data_hash = provenance.sha256_file(project / "data" / "raw" / "alfa" / "data.csv")
    for needle in ("Git-version", "Schemaversion", "`data/raw/alfa/data.csv`", data_hash[:16],
                   "pandas ", "numpy ", "statsmodels ", "matplotlib ", "seaborn ", "papermill ",
                   "genomlysning ", "python ", '`"params/alfa.yaml"`', "`kommun`"):
        assert needle in first.source, needle
    assert "metadata" not in json.dumps(nb.metadata.get("papermill", {}))
    for rel, data in _files(project).items():
        assert str(project).encode() not in data, rel
        assert str(project.parent).encode() not in data, rel


def test_outputs_are_byte_reproducible(project: Path) -> None:
    _run(project)
    first = _files(project)
    _run(project, force=True)
    assert _files(project) == first
    assert {"reports/alfa/02_funnel.html", "reports/alfa/02_funnel_utan_kod.html", "reports/index.html",
            "reports/jamforelse/04_compare.ipynb"} <= set(first)


def test_html_without_code_hides_inputs(project: Path) -> None:
    _run(project, kommuner=["alfa"], cross=False)
    with_code = (project / "reports" / "alfa" / "02_funnel.html").read_text(encoding="utf-8")
    no_code = (project / "reports" / "alfa" / "02_funnel_utan_kod.html").read_text(encoding="utf-8")
    assert with_code.count("highlight hl-ipython3") == 3 and "highlight hl-ipython3" not in no_code
    for page in (with_code, no_code):
        html = unescape(page)
        assert "Härkomst" in html and "aktualiseringar" in html
        assert "require.js" not in html and "mermaid" not in html.lower()
        assert 'href="../index.html"' in html and '<html lang="sv">' in html


# -- up to date ----------------------------------------------------------------------------------


def test_second_run_skips_up_to_date_work_and_force_redoes_it(project: Path) -> None:
    first = _run(project)
    assert set(_statuses(first).values()) == {"ok"}
    second = _run(project)
    assert set(_statuses(second).values()) == {"up-to-date"}
    assert second.kernels_started == 0  # nothing to do: no kernel, no worker started
    # new input data for alfa: its chain and the comparison rerun, beta stays up to date
    (project / "data" / "raw" / "alfa" / "data.csv").write_text("varde\n9\n9\n", encoding="utf-8")
    third = _statuses(_run(project))
    assert third[("alfa", "01_cleaning")] == third[("alfa", "02_funnel")] == "ok"
    assert third[("beta", "01_cleaning")] == third[("beta", "02_funnel")] == "up-to-date"
    assert third[("jamforelse", "04_compare")] == "ok"
    # a deleted report is rewritten; the rest stays
    (project / "reports" / "beta" / "02_funnel_utan_kod.html").unlink()
    fourth = _statuses(_run(project))
    assert fourth[("beta", "02_funnel")] == "ok" and fourth[("beta", "01_cleaning")] == "up-to-date"
    # changed params: only that municipality
    _kommun(project, "beta", [5, 6, 7], k=7)
    fifth = _statuses(_run(project))
    assert fifth[("beta", "02_funnel")] == "ok" and fifth[("alfa", "02_funnel")] == "up-to-date"
    forced = _run(project, force=True)
    assert set(_statuses(forced).values()) == {"ok"}


def test_changed_notebook_reruns_it_and_what_follows(project: Path) -> None:
    _run(project, kommuner=["alfa"], cross=False)
    nb = nbformat.read(project / "notebooks" / "01_cleaning.ipynb", as_version=4)
    nb.cells.append(new_markdown_cell("Ny förklaring."))
    nbformat.write(nb, project / "notebooks" / "01_cleaning.ipynb")
    st = _statuses(_run(project, kommuner=["alfa"], cross=False))
    assert st == {("alfa", "01_cleaning"): "ok", ("alfa", "02_funnel"): "ok"}


# -- side by side -------------------------------------------------------------------------------

MODELS = '''
import json
from genomlysning import paths
values = json.loads((paths.processed_dir(kommun) / "values.json").read_text())
(paths.report_dir(kommun) / "modell.json").write_text(json.dumps({"max": max(values), "k": k}))
'''


def test_notebooks_after_cleaning_run_in_dependency_order(project: Path, tmp_path: Path) -> None:
    """03 reads what 02 published (the unit's disclosure ledger), so it runs after 02, with any
    number of workers, and not at all when 02 fails."""
    import shutil

    _notebook(project / "notebooks" / "03_models.ipynb", 'kommun = "alfa"\nk = 5', MODELS)
    other = tmp_path / "other"
    shutil.copytree(project, other)
    one = _run(project, kommuner=["alfa"], jobs=1, cross=False)
    two = _run(other, kommuner=["alfa"], jobs=2, cross=False)
    assert one.kernels_started == two.kernels_started == 1  # a chain: 01, 02, 03
    names = ("01_cleaning", "02_funnel", "03_models")
    assert _statuses(one) == _statuses(two) == {("alfa", n): "ok" for n in names}
    state = "reports/alfa/.state.json"
    assert {k: v for k, v in _files(project).items() if k != state} == \
        {k: v for k, v in _files(other).items() if k != state}
    assert set(_statuses(_run(other, kommuner=["alfa"], jobs=2, cross=False)).values()) == {"up-to-date"}
    # 02 fails: 03, which reads 02's publication, does not run
    nb = nbformat.read(other / "notebooks" / "02_funnel.ipynb", as_version=4)
    nb.cells.append(new_code_cell("raise RuntimeError('trasig')"))
    nbformat.write(nb, other / "notebooks" / "02_funnel.ipynb")
    st = _statuses(_run(other, kommuner=["alfa"], jobs=2, cross=False))
    assert st[("alfa", "01_cleaning")] == "up-to-date" and st[("alfa", "02_funnel")] == "failed"
    assert st[("alfa", "03_models")] == "skipped"


# -- Dask ----------------------------------------------------------------------------------------


def test_dask_path_gives_the_same_results_as_the_local_path(project: Path, tmp_path: Path) -> None:
    import shutil

    from distributed import LocalCluster

    other = tmp_path / "other"
    shutil.copytree(project, other)
    local = _run(project)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        remote = runner.run(root=other, scheduler=cluster.scheduler_address, progress=False, prewarm=False)
    assert _statuses(local) == _statuses(remote)
    assert set(_statuses(remote).values()) == {"ok"}
    for label in ("alfa", "beta", "jamforelse"):
        a = (project / "reports" / label / "results.json").read_bytes()
        b = (other / "reports" / label / "results.json").read_bytes()
        assert a == b
    # in fact every report is byte-identical (relative paths only, no timestamps)
    assert _files(project) == _files(other)


# -- clean ---------------------------------------------------------------------------------------


def test_cli_clean_prints_the_accounting(project: Path, tmp_path: Path) -> None:
    env = {**os.environ, "GENOMLYSNING_ROOT": str(project)}
    export = tmp_path / "export.csv"
    export.write_text("varde\n1\n1\n1\n1\n1\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "genomlysning.cli", "clean", "--kommun", "beta",
                           "--input", str(export)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "beta: 5 rader in = 5 rena + 0 i karantän" in proc.stdout
    nb = (project / "reports" / "beta" / "01_cleaning.ipynb").read_text(encoding="utf-8")
    assert "export.csv" in nb and str(tmp_path) not in nb
    assert not (project / "reports" / "beta" / "02_funnel.ipynb").exists()


# -- the warm kernel -----------------------------------------------------------------------------

MESS = '''
import logging, os, random, sys, warnings
import matplotlib, matplotlib.pyplot as plt
import numpy as np, pandas as pd
matplotlib.rcParams["font.size"] = 31
plt.figure()
pd.set_option("display.max_rows", 3)
np.set_printoptions(precision=2)
np.seterr(all="raise")
warnings.simplefilter("ignore")
logging.basicConfig(level=logging.DEBUG)
os.environ["GL_TEST"] = "x"
os.chdir("/")
sys.path.append("/nowhere")
import genomlysning.paths
genomlysning.paths.PROJECT_ROOT = None
secret = 42
warnings.warn("shown once per location", UserWarning)
'''

PROBE = '''
import logging, os, sys, warnings
import matplotlib, matplotlib.pyplot as plt
import numpy as np, pandas as pd
import genomlysning.paths
print(matplotlib.rcParams["font.size"], len(plt.get_fignums()), pd.get_option("display.max_rows"))
print(np.get_printoptions()["precision"], np.geterr()["divide"])
print(logging.root.level, len(logging.root.handlers))
print(os.environ.get("GL_TEST"), os.path.basename(os.getcwd()), "/nowhere" in sys.path)
print(genomlysning.paths.PROJECT_ROOT is not None, "secret" in globals(), len(warnings.filters) > 0)
warnings.warn("shown once per location", UserWarning)
'''


def test_warm_kernel_restores_a_fresh_state(tmp_path: Path) -> None:
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    _notebook(nbdir / "mess.ipynb", "x = 1", MESS)
    _notebook(nbdir / "probe.ipynb", "x = 1", PROBE)
    env = {"GENOMLYSNING_ROOT": str(tmp_path)}

    def outputs(path: Path) -> list[object]:
        nb = runner.scrub_paths(nbformat.read(path, as_version=4), runner.path_rewrites(tmp_path))
        return [(c.execution_count, [dict(o) for o in c.outputs]) for c in nb.cells if c.cell_type == "code"]

    warm = WarmKernel(nbdir, env, prewarm=("numpy", "pandas", "matplotlib.pyplot"))
    cold = WarmKernel(nbdir, env, reuse=False)
    try:
        warm.execute(nbdir / "mess.ipynb", tmp_path / "m.ipynb", {})
        warm.execute(nbdir / "probe.ipynb", tmp_path / "warm.ipynb", {"x": 2})
        cold.execute(nbdir / "probe.ipynb", tmp_path / "cold.ipynb", {"x": 2})
        assert warm.kernels_started == 1 and warm.notebooks_run == 2
    finally:
        warm.close()
        cold.close()
    got, want = outputs(tmp_path / "warm.ipynb"), outputs(tmp_path / "cold.ipynb")
    assert got == want
    text = json.dumps(want)
    assert "shown once per location" in text and "notebooks False" in text
    assert "cell-" in text and "ipykernel_" not in text
    assert [n for n, _ in want] == [1, 2, 3]


def test_failed_cell_keeps_the_kernel_and_the_next_notebook_runs(tmp_path: Path) -> None:
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    _notebook(nbdir / "bad.ipynb", "x = 1", "raise ValueError('nej')")
    _notebook(nbdir / "good.ipynb", "x = 1", "print(x * 2)")
    kernel = WarmKernel(nbdir, {})
    try:
        with pytest.raises(Exception, match="ValueError"):
            kernel.execute(nbdir / "bad.ipynb", tmp_path / "bad.ipynb", {})
        nb = kernel.execute(nbdir / "good.ipynb", tmp_path / "good.ipynb", {"x": 21})
    finally:
        kernel.close()
    assert nb.cells[-1].outputs[0]["text"] == "42\n"
    assert kernel.kernels_started == 1


# -- small pieces --------------------------------------------------------------------------------


def test_summary_table_and_exit_code() -> None:
    s = runner.RunSummary([runner.NotebookResult("alfa", "01_cleaning", "ok", 1.25),
                           runner.NotebookResult("beta", "01_cleaning", "failed", 0.5, "KeyError: 'x'"),
                           runner.NotebookResult("beta", "02_funnel", "skipped", 0.0, "01_cleaning failed")])
    lines = s.table().splitlines()
    assert lines[0].split() == ["municipality", "notebook", "status", "seconds"]
    assert lines[2].split() == ["alfa", "01_cleaning", "ok", "1.2"]
    assert "1 ok, 0 up-to-date, 1 skipped, 1 failed" in s.table()
    assert "beta/01_cleaning failed: KeyError: 'x'" in s.table()
    assert s.exit_code == 1 and s.status("beta", "02_funnel") == "skipped"
    assert runner.RunSummary([runner.NotebookResult("a", "b", "up-to-date")]).exit_code == 0


def test_registry_roles_and_change_notebook_precondition(tmp_path: Path) -> None:
    assert runner.REGISTRY["04_compare"].scope == "alla"
    # 05 reads what 02 published (its ledger fixes 02's year): it waits for 02, not for 03
    order = ("01_cleaning", "02_funnel", "03_models")
    spec = runner.NotebookSpec("05_change", tmp_path / "x.ipynb", runner.REGISTRY["05_change"], ("kommun",),
                               "0" * 64)
    assert runner._deps(spec, list(order)) == order[:2]
    change = runner.NotebookSpec("05_change", tmp_path / "05_change.ipynb", runner.REGISTRY["05_change"],
                                 ("kommun", "reform_datum"), "0" * 64)
    assert not runner._applies(change, {"kommun": "a", "reform_datum": None})
    assert runner._applies(change, {"kommun": "a", "reform_datum": "2024-07-01"})
    assert runner._applies(change, {"kommun": "a", "pilot_omrade": "Pilot"})
    project = runner.Project(tmp_path)
    passed = runner._parameters_for(change, {"kommun": "a", "pilot_omrade": "P", "k": 5}, project, {})
    assert passed == {"kommun": "a", "reform_datum": None}  # not the notebook's demo default
    assert runner._role("07_extra", ("kommuner", "k")).scope == "alla"
    assert runner._role("07_extra", ("kommun",)).scope == "kommun"


def test_cross_parameters_use_the_strictest_threshold(tmp_path: Path) -> None:
    nb = runner.NotebookSpec("04_compare", tmp_path / "x.ipynb", runner.Role("alla"),
                             ("kommuner", "k", "ar", "lang"), "0" * 64)
    loaded = {"a": {"k": 3, "ar": 2025, "lang": "sv"}, "b": {"k": 5, "ar": 2024, "lang": "sv"}}
    assert runner._common_parameters(nb, loaded, ["a", "b"]) == {"kommuner": ["a", "b"], "k": 5, "lang": "sv"}


def test_parameters_are_read_like_python_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "n.ipynb"
    _notebook(path, 'kommun = "a"  # x\nperiod_slut = None  # None = värdet i params-filen\n'
                    'seed: int = 1\nlo, hi = 0, 1\n# ar = 2025\nkommuner = [\n  "a",  # = first\n]', "y = 2")
    assert runner.notebook_parameters(path) == ("kommun", "period_slut", "seed", "lo", "hi", "kommuner")
