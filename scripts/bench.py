"""Benchmarks (``make bench``): cleaning throughput and notebook run times, as medians.

Measured on this machine, printed as a table and saved to ``bench/results/latest.json``:

1. **clean** - import + clean of a national-size CSV (~420 000 rows; ``scripts/bench_clean.py``, one
   fresh process per repetition): rows per second and peak memory.
2. **demo** - one demo municipality (``norrvik``), all its notebooks through ``genomlysning run``
   (one warm kernel, HTML renderings included), and a check that the warm kernel's reports are
   byte-identical to fresh-kernel reports.
3. **national** - a synthetic national run (``synth.national_specs``: 320 municipalities, 420 000
   aktualiseringar a year) in a temporary project root, compared with
   (a) a naive sequential loop of ``papermill`` command-line calls over the same notebooks and
       parameters - measured on an evenly spaced sample of municipalities (by size) and
       extrapolated to all of them (the full loop would take hours), plus the cross-municipality
       notebooks once;
   (b) the same library calls in one plain Python process: every notebook's code cells, with the
       same parameters, executed one after another without a kernel, notebook files or HTML.
   Targets (issue 5): at least 3x faster than (a); within 2x of (b) plus one kernel start per
   notebook divided by the cores.

``--quick`` runs everything small (24 municipalities, one repetition) for trying things out.
Nothing is written to the real data/ or reports/ (all work happens under a temporary root, or
``--workdir`` to keep the generated national data between runs).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from genomlysning import paths, runner, synth
from genomlysning.kernel import WarmKernel

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "latest.json"
DEMO_KOMMUN = "norrvik"


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _say(text: str) -> None:
    print(text, flush=True)


# ---------------------------------------------------------------------------------------------
# Project roots


def _copy_notebooks(root: Path) -> None:
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    for nb in sorted(paths.NOTEBOOKS_DIR.glob(runner.NOTEBOOK_GLOB)):
        shutil.copy2(nb, root / "notebooks" / nb.name)


def demo_root(work: Path, kommun: str = DEMO_KOMMUN) -> Path:
    """A project root with the real notebooks and one demo municipality's params and raw data."""
    root = work / "demo"
    shutil.rmtree(root, ignore_errors=True)
    _copy_notebooks(root)
    (root / "params").mkdir()
    shutil.copy2(paths.params_file(kommun), root / "params" / f"{kommun}.yaml")
    (root / "data" / "raw").mkdir(parents=True)
    shutil.copytree(paths.raw_dir(kommun), root / "data" / "raw" / kommun)
    return root


def national_root(work: Path, n_kommuner: int, total_rows: int, seed: int) -> tuple[Path, int]:
    """A project root with ``n_kommuner`` synthetic municipalities (reused when already generated)."""
    root = work / f"national-{n_kommuner}-{total_rows}-{seed}"
    stamp = root / "generated.json"
    if not stamp.is_file():
        shutil.rmtree(root, ignore_errors=True)
        (root / "params").mkdir(parents=True)
        t0 = time.perf_counter()
        rows = 0
        for spec in synth.national_specs(n_kommuner=n_kommuner, total_rows=total_rows, seed=seed):
            s = synth.write_kommun(spec, seed, raw_root=root / "data" / "raw", params_root=root / "params")
            rows += int(s["rows"])
        stamp.write_text(json.dumps({"rows": rows, "seconds": time.perf_counter() - t0}))
        _say(f"  generated {n_kommuner} municipalities, {rows} rows in {time.perf_counter() - t0:.0f} s")
    _copy_notebooks(root)
    for folder in ("reports", "data/processed"):
        shutil.rmtree(root / folder, ignore_errors=True)
    return root, int(json.loads(stamp.read_text())["rows"])


# ---------------------------------------------------------------------------------------------
# (i) cleaning


def bench_clean(work: Path, rows: int, repeat: int, seed: int) -> dict[str, Any]:
    """Median rows/s and peak memory of import + clean of a national-size CSV."""
    spec = synth.national_spec(rows)
    target = work / f"clean-{rows}-{seed}"
    path = target / spec.kommun / Path(spec.input_path).name
    if not path.is_file():
        synth.write_kommun(spec, seed, raw_root=target, unique_pnr=False)
    loader = importlib.util.spec_from_file_location("bench_clean", REPO / "scripts" / "bench_clean.py")
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return dict(module.bench_clean_repeated(path, repeat))


# ---------------------------------------------------------------------------------------------
# (ii) one demo municipality


def kernel_start_seconds(repeat: int = 3) -> float:
    """Median time to start a bare kernel and have it ready (what every papermill call pays)."""
    times = []
    for _ in range(repeat):
        kernel = WarmKernel(REPO / "notebooks", {})
        t, _ = _timed(lambda k=kernel: k.start().result())
        kernel.close()
        times.append(t)
    return _median(times)


def bench_demo(work: Path, repeat: int, check_cold: bool) -> dict[str, Any]:
    """Median wall time of all notebooks of one demo municipality through the runner."""
    root = demo_root(work)
    walls, per_notebook = [], {}
    summary = None
    for _ in range(repeat):
        wall, summary = _timed(lambda: runner.run([DEMO_KOMMUN], force=True, root=root,
                                                  progress=False, cross=False, index=False))
        walls.append(wall)
        for r in summary.results:
            per_notebook.setdefault(r.notebook, []).append(r.seconds)
    assert summary is not None
    out: dict[str, Any] = {
        "kommun": DEMO_KOMMUN, "median_seconds": _median(walls), "runs": walls,
        "notebooks": {k: _median(v) for k, v in per_notebook.items()},
        "status": {r.notebook: r.status for r in summary.results},
    }
    if check_cold:
        warm = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "reports").rglob("*"))
                if p.is_file() and p.name != ".state.json"}
        t, _ = _timed(lambda: runner.run([DEMO_KOMMUN], jobs=1, force=True, root=root, progress=False,
                                         cross=False, index=False, reuse_kernels=False))
        cold = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "reports").rglob("*"))
                if p.is_file() and p.name != ".state.json"}
        differ = sorted(k for k in set(warm) | set(cold) if warm.get(k) != cold.get(k))
        out["fresh_kernels_seconds"] = t
        out["warm_equals_fresh"] = not differ
        out["differing_files"] = differ[:20]
    return out


# ---------------------------------------------------------------------------------------------
# (iii) national: runner, (a) naive papermill loop, (b) one plain process


def _plan(root: Path) -> tuple[list[runner.NotebookSpec], dict[str, dict[str, Any]], list[str]]:
    project = runner.Project(root)
    notebooks = runner.discover_notebooks(project)
    kommuner = project.kommuner()
    loaded = runner.check_params(project, kommuner, notebooks)
    return notebooks, loaded, kommuner


def notebook_calls(root: Path, kommuner: Sequence[str] | None = None,
                   cross: bool = True) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, notebook path, parameters) in run order: what the runner executes for ``kommuner``."""
    project = runner.Project(root)
    notebooks, loaded, everyone = _plan(root)
    chosen = list(kommuner) if kommuner is not None else everyone
    calls = []
    for k in chosen:
        for nb in notebooks:
            if nb.role.scope == "kommun" and runner._applies(nb, loaded[k]):
                calls.append((k, str(nb.path), runner._parameters_for(nb, loaded[k], project, {})))
    if cross:
        for nb in notebooks:
            if nb.role.scope == "alla":
                included = [k for k in everyone if runner._applies(nb, loaded[k])]
                parameters = runner._common_parameters(nb, loaded, included)
                calls.append((runner.CROSS_LABEL, str(nb.path), parameters))
    return calls


def plain_python(root: Path) -> dict[str, Any]:
    """(b): every notebook's code, same parameters, one after another in this process (no kernel)."""
    import matplotlib

    matplotlib.use("Agg")
    import IPython.display
    import matplotlib.pyplot as plt
    import nbformat

    IPython.display.display = lambda *a, **k: None  # no rendering: library calls only
    os.chdir(root / "notebooks")
    failures: list[str] = []
    t0 = time.perf_counter()
    for label, path, parameters in notebook_calls(root):
        nb = nbformat.read(path, as_version=4)
        lines = []
        for cell in nb.cells:
            if cell.cell_type == "code":
                lines += [ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
                if "parameters" in cell.metadata.get("tags", []):
                    lines += [f"{k} = {v!r}" for k, v in parameters.items()]
        namespace: dict[str, Any] = {"__name__": "__main__", "display": IPython.display.display}
        try:
            exec(compile("\n".join(lines), f"{label}/{Path(path).stem}", "exec"), namespace)
        except Exception as exc:
            failures.append(f"{label}/{Path(path).stem}: {type(exc).__name__}: {exc}")
        plt.close("all")
    return {"seconds": time.perf_counter() - t0, "failures": failures}


def naive_papermill(root: Path, kommuner: Sequence[str], cross: bool) -> dict[str, Any]:
    """(a) for ``kommuner``: one ``papermill`` command-line call per notebook, sequentially."""
    env = {**os.environ, "GENOMLYSNING_ROOT": str(root)}
    out_dir = root / "naive"
    out_dir.mkdir(exist_ok=True)
    papermill = str(Path(sys.executable).with_name("papermill"))
    per_kommun: dict[str, float] = {}
    failures = []
    for label, path, parameters in notebook_calls(root, kommuner, cross=cross):
        out = out_dir / f"{label}-{Path(path).name}"
        t, proc = _timed(lambda p=path, o=out, q=parameters: subprocess.run(
            [papermill, "--no-progress-bar", "--log-level", "ERROR", p, str(o), "-y", json.dumps(q)],
            cwd=root / "notebooks", env=env, capture_output=True, text=True))
        per_kommun[label] = per_kommun.get(label, 0.0) + t
        if proc.returncode:
            failures.append(f"{label}/{Path(path).stem}")
    return {"per_kommun": per_kommun, "failures": failures}


def _sample(kommuner: Sequence[str], root: Path, m: int) -> list[str]:
    """``m`` municipalities evenly spaced by input size (smallest to largest)."""
    notebooks, loaded, _ = _plan(root)
    sizes = {}
    for k in kommuner:
        f = runner._input_files(runner.Project(root), loaded[k])
        sizes[k] = sum(p.stat().st_size for p in f if p.is_file())
    ranked = sorted(kommuner, key=lambda k: (sizes[k], k))
    if m >= len(ranked):
        return ranked
    return [ranked[round(i * (len(ranked) - 1) / (m - 1))] for i in range(m)] if m > 1 else [ranked[0]]


def bench_national(work: Path, n_kommuner: int, total_rows: int, seed: int, repeat: int, sample: int,
                   jobs: int | None, t_kernel: float) -> dict[str, Any]:
    """Runner vs (a) and (b) on a synthetic national project."""
    root, rows = national_root(work, n_kommuner, total_rows, seed)
    walls = []
    summary = None
    for i in range(repeat):
        shutil.rmtree(root / "reports", ignore_errors=True)
        shutil.rmtree(root / "data" / "processed", ignore_errors=True)
        _say(f"  runner, repetition {i + 1}/{repeat} ...")
        wall, summary = _timed(lambda: runner.run(root=root, jobs=jobs, force=True, progress=None))
        walls.append(wall)
    assert summary is not None
    failed = [f"{r.kommun}/{r.notebook}: {r.message}" for r in summary.failed]
    n_notebooks = sum(r.status in ("ok", "failed") for r in summary.results)
    _say("  (b) one plain Python process ...")
    env = {**os.environ, "GENOMLYSNING_ROOT": str(root), "MPLBACKEND": "Agg"}
    plain_runs = []
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, __file__, "--plain", str(root)], env=env, capture_output=True,
                              text=True, check=True)
        plain_runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    plain = _median([p["seconds"] for p in plain_runs])
    kommuner = runner.Project(root).kommuner()
    chosen = _sample(kommuner, root, sample)
    _say(f"  (a) naive papermill loop over {len(chosen)} of {len(kommuner)} municipalities + comparison ...")
    naive = naive_papermill(root, chosen, cross=True)
    cross_seconds = naive["per_kommun"].pop(runner.CROSS_LABEL, 0.0)
    per = list(naive["per_kommun"].values())
    naive_total = sum(per) / len(per) * len(kommuner) + cross_seconds
    cores = os.cpu_count() or 1
    workers = min(jobs or cores, len(kommuner))
    runner_s = _median(walls)
    budget = 2 * plain + t_kernel * n_notebooks / cores
    return {
        "kommuner": len(kommuner), "rows": rows, "notebooks": n_notebooks, "workers": workers,
        "runner_seconds": runner_s, "runner_runs": walls, "runner_failed": failed[:10],
        "plain_seconds": plain, "plain_failures": plain_runs[0]["failures"][:10],
        "naive_seconds_estimated": naive_total, "naive_sample": chosen,
        "naive_sample_seconds": naive["per_kommun"], "naive_cross_seconds": cross_seconds,
        "naive_failures": naive["failures"], "kernel_start_seconds": t_kernel,
        "speedup_vs_naive": naive_total / runner_s, "ratio_vs_plain": runner_s / plain,
        "budget_seconds": budget, "within_budget": runner_s <= budget,
    }


# ---------------------------------------------------------------------------------------------


def _report(results: dict[str, Any]) -> None:
    _say("\n== genomlysning bench (medians) ==")
    c = results.get("clean")
    if c:
        _say(f"clean     {c['rows']} rows: {c['median_seconds']:.1f} s, "
             f"{c['median_rows_per_second']:,.0f} rows/s, peak {c['median_peak_rss_mb']:.0f} MB")
    d = results.get("demo")
    if d:
        nbs = ", ".join(f"{k} {v:.1f} s" for k, v in d["notebooks"].items())
        _say(f"demo      {d['kommun']}, all notebooks: {d['median_seconds']:.1f} s (aim <= 15 s) [{nbs}]")
        if "warm_equals_fresh" in d:
            _say(f"          warm-kernel reports identical to fresh-kernel reports: "
                 f"{'yes' if d['warm_equals_fresh'] else 'NO ' + ', '.join(d['differing_files'])} "
                 f"(fresh kernels: {d['fresh_kernels_seconds']:.1f} s)")
    n = results.get("national")
    if n:
        _say(f"national  {n['kommuner']} municipalities, {n['rows']} rows, {n['notebooks']} notebooks, "
             f"{n['workers']} workers")
        _say(f"          runner            {n['runner_seconds']:8.1f} s")
        _say(f"          (a) naive papermill {n['naive_seconds_estimated']:6.1f} s  (estimated from "
             f"{len(n['naive_sample'])} municipalities + comparison)  "
             f"speed-up {n['speedup_vs_naive']:.1f}x (aim >= 3x)")
        _say(f"          (b) plain Python  {n['plain_seconds']:8.1f} s  "
             f"runner/(b) = {n['ratio_vs_plain']:.2f}; budget 2*(b) + kernel start "
             f"{n['kernel_start_seconds']:.2f} s * {n['notebooks']} / cores = "
             f"{n['budget_seconds']:.0f} s: {'met' if n['within_budget'] else 'NOT met'}")
        for key in ("runner_failed", "plain_failures", "naive_failures"):
            if n[key]:
                _say(f"          {key}: {n[key]}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    parser.add_argument("--repeat", type=int, help="repetitions of clean and demo (default 3; quick 1)")
    parser.add_argument("--national-repeat", type=int, default=1, help="repetitions of the national run")
    parser.add_argument("--kommuner", type=int, help="municipalities in the national run (default 320)")
    parser.add_argument("--rows", type=int, help="aktualiseringar a year, national run (default 420000)")
    parser.add_argument("--naive-sample", type=int, help="municipalities in the naive loop (default 6)")
    parser.add_argument("--jobs", type=int, help="runner workers (default: cores)")
    parser.add_argument("--seed", type=int, default=synth.DEFAULT_SEED)
    parser.add_argument("--only", choices=("clean", "demo", "national"), action="append",
                        help="run only these parts (repeatable)")
    parser.add_argument("--workdir", help="keep generated data here (default: a temporary folder)")
    parser.add_argument("--plain", metavar="ROOT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.plain:
        print(json.dumps(plain_python(Path(args.plain))))
        return 0
    quick = args.quick
    repeat = args.repeat or (1 if quick else 3)
    n_kommuner = args.kommuner or (24 if quick else 320)
    rows = args.rows or (420_000 * n_kommuner // 320 if quick else 420_000)
    sample = args.naive_sample or (3 if quick else 6)
    parts = args.only or ["clean", "demo", "national"]
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="genomlysning-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
                               "quick": quick}
    t0 = time.perf_counter()
    try:
        if "clean" in parts:
            _say(f"(i) cleaning {rows if quick else 420_000} rows x {repeat} ...")
            results["clean"] = bench_clean(work, rows if quick else 420_000, repeat, args.seed)
        if "demo" in parts:
            _say(f"(ii) demo municipality {DEMO_KOMMUN} x {repeat} ...")
            results["demo"] = bench_demo(work, repeat, check_cold=not quick)
        if "national" in parts:
            _say(f"(iii) national run: {n_kommuner} municipalities, {rows} a year ...")
            t_kernel = kernel_start_seconds()
            results["national"] = bench_national(work, n_kommuner, rows, args.seed, args.national_repeat,
                                                 sample, args.jobs, t_kernel)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    results["total_seconds"] = time.perf_counter() - t0
    _report(results)
    _say(f"total {results['total_seconds']:.0f} s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")
    _say(f"saved {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
