"""Benchmarks (``make bench``): cleaning throughput and notebook run times, as medians.

Measured on this machine, printed as a table and saved to ``bench/results/latest.json``:

1. **clean** - import + clean of a national-size CSV (420 000 rows; ``scripts/bench_clean.py``, one
   fresh process per repetition): rows per second and peak memory.
2. **demo** - one demo municipality (``norrvik``), all its notebooks through ``genomlysning run``
   (warm kernels, HTML renderings included), and a check that these reports are byte-identical to
   reports made with a fresh kernel per notebook, one notebook at a time.
3. **national** - ``synth.national_specs`` (320 municipalities, 420 000 aktualiseringar a year) in a
   temporary project root. The notebooks cost seconds per municipality whatever its size (figures,
   the workbook, model fits), so the whole 320 take over an hour on two cores; by default the
   benchmark therefore runs a systematic 1-in-5 sample by size (64 municipalities, every size
   class represented) and projects to 320 (``--full`` runs all 320). Compared with
   (a) a naive sequential loop of ``papermill`` command-line calls over the same notebooks and
       parameters - timed on a few municipalities evenly spaced by size plus the comparison
       notebook once, and extrapolated;
   (b) the same library calls in one plain Python process - every notebook's code cells with the
       same parameters, executed one after another without a kernel, notebook files or HTML -
       timed on a systematic sub-sample plus the comparison notebook once, and extrapolated.
   Targets (issue 5): at least 3x faster than (a); within 2x of (b) plus one kernel start per
   notebook divided by the cores. CPU seconds are printed beside wall times: the machine is shared.

``--quick`` runs everything small (24 municipalities, one repetition) for trying things out.
Nothing is written to the real data/ or reports/ (all work happens under a temporary root, or
``--workdir`` to keep the generated data between runs).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
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
from genomlysning.kernel import SINGLE_THREADED, WarmKernel

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "latest.json"
DEMO_KOMMUN = "norrvik"
NATIONAL_KOMMUNER = 320
NATIONAL_ROWS = 420_000


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _cpu() -> float:
    """CPU seconds (user + system) of this process and of every finished child process so far."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _say(text: str) -> None:
    print(text, flush=True)


def evenly_spaced(items: Sequence[Any], m: int) -> list[Any]:
    """A systematic sample of ``m`` of the (sorted) ``items``: the middle one of each of ``m`` equal
    strata, so that the sample mean estimates the mean without over-weighting the extremes."""
    if m >= len(items):
        return list(items)
    return [items[int((i + 0.5) * len(items) / m)] for i in range(max(1, m))]


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


def national_root(work: Path, n_chosen: int, seed: int, n_total: int = NATIONAL_KOMMUNER,
                  total_rows: int = NATIONAL_ROWS) -> tuple[Path, int]:
    """A project root with ``n_chosen`` of the ``n_total`` national municipalities, evenly spaced by
    size (reused when already generated); returns it and the number of rows written."""
    root = work / f"national-{n_chosen}of{n_total}-{total_rows}-{seed}"
    stamp = root / "generated.json"
    if not stamp.is_file():
        shutil.rmtree(root, ignore_errors=True)
        (root / "params").mkdir(parents=True)
        specs = synth.national_specs(n_kommuner=n_total, total_rows=total_rows, seed=seed)
        chosen = evenly_spaced(sorted(specs, key=lambda s: (s.volym, s.kommun)), n_chosen)
        t0 = time.perf_counter()
        rows = 0
        for spec in chosen:
            s = synth.write_kommun(spec, seed, raw_root=root / "data" / "raw", params_root=root / "params")
            rows += int(s["rows"])
        stamp.write_text(json.dumps({"rows": rows, "seconds": time.perf_counter() - t0}))
        _say(f"  generated {len(chosen)} municipalities, {rows} rows in {time.perf_counter() - t0:.0f} s")
    _copy_notebooks(root)
    for folder in ("reports", "data/processed", "naive"):
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


def _reports(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "reports").rglob("*"))
            if p.is_file() and p.name != ".state.json"}


def bench_demo(work: Path, repeat: int, check_cold: bool) -> dict[str, Any]:
    """Median wall time of all notebooks of one demo municipality through the runner."""
    root = demo_root(work)
    walls, per_notebook = [], {}
    summary = None
    for _ in range(repeat):
        wall, summary = _timed(lambda: runner.run([DEMO_KOMMUN], force=True, root=root, progress=False,
                                                  cross=False, index=False))
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
        warm = _reports(root)
        t, _ = _timed(lambda: runner.run([DEMO_KOMMUN], jobs=1, force=True, root=root, progress=False,
                                         cross=False, index=False, reuse_kernels=False))
        cold = _reports(root)
        differ = sorted(k for k in set(warm) | set(cold) if warm.get(k) != cold.get(k))
        out["fresh_kernels_seconds"] = t
        out["warm_equals_fresh"] = not differ
        out["differing_files"] = differ[:20]
    return out


# ---------------------------------------------------------------------------------------------
# (iii) national: runner, (a) naive papermill loop, (b) one plain process


def notebook_calls(root: Path, kommuner: Sequence[str] | None = None,
                   cross: bool = True) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, notebook path, parameters) in run order: what the runner executes for ``kommuner``
    (and the comparison notebooks over every municipality of the project)."""
    project = runner.Project(root)
    notebooks = runner.discover_notebooks(project)
    everyone = project.kommuner()
    loaded = runner.check_params(project, everyone, notebooks)
    calls = []
    for k in kommuner if kommuner is not None else everyone:
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


def plain_python(root: Path, kommuner: Sequence[str]) -> dict[str, Any]:
    """(b): the notebooks' code for ``kommuner`` (then the comparison), same parameters, one after
    another in this process: no kernel, no notebook files, no HTML, no display."""
    import matplotlib

    matplotlib.use("Agg")
    import IPython.display
    import matplotlib.pyplot as plt
    import nbformat

    IPython.display.display = lambda *a, **k: None
    os.chdir(root / "notebooks")
    failures: list[str] = []
    seconds: dict[str, float] = {}
    for label, path, parameters in notebook_calls(root, kommuner):
        nb = nbformat.read(path, as_version=4)
        lines = []
        for cell in nb.cells:
            if cell.cell_type == "code":
                lines += [ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
                if "parameters" in cell.metadata.get("tags", []):
                    lines += [f"{k} = {v!r}" for k, v in parameters.items()]
        namespace: dict[str, Any] = {"__name__": "__main__", "display": IPython.display.display}
        t0 = time.perf_counter()
        try:
            exec(compile("\n".join(lines), f"{label}/{Path(path).stem}", "exec"), namespace)
        except Exception as exc:
            failures.append(f"{label}/{Path(path).stem}: {type(exc).__name__}: {exc}")
        plt.close("all")
        seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - t0
    return {"per_kommun": seconds, "failures": failures}


def naive_papermill(root: Path, kommuner: Sequence[str]) -> dict[str, Any]:
    """(a) for ``kommuner`` (then the comparison): one ``papermill`` command-line call per notebook."""
    env = {**SINGLE_THREADED, **os.environ, "GENOMLYSNING_ROOT": str(root)}
    env.pop("MPLBACKEND", None)  # as a kernel started by hand: figures inline
    out_dir = root / "naive"
    out_dir.mkdir(exist_ok=True)
    papermill = str(Path(sys.executable).with_name("papermill"))
    per_kommun: dict[str, float] = {}
    failures = []
    for label, path, parameters in notebook_calls(root, kommuner):
        out = out_dir / f"{label}-{Path(path).name}"
        t, proc = _timed(lambda p=path, o=out, q=parameters: subprocess.run(
            [papermill, "--no-progress-bar", "--log-level", "ERROR", p, str(o), "-y", json.dumps(q)],
            cwd=root / "notebooks", env=env, capture_output=True, text=True))
        per_kommun[label] = per_kommun.get(label, 0.0) + t
        if proc.returncode:
            failures.append(f"{label}/{Path(path).stem}")
    return {"per_kommun": per_kommun, "failures": failures}


def _extrapolate(per_kommun: dict[str, float], n: int) -> tuple[float, float]:
    """(total for ``n`` municipalities from the sample's mean, the comparison notebooks' seconds)."""
    cross = per_kommun.get(runner.CROSS_LABEL, 0.0)
    sample = [v for k, v in per_kommun.items() if k != runner.CROSS_LABEL]
    return (sum(sample) / len(sample) * n if sample else 0.0) + cross, cross


def _by_notebook(summary: runner.RunSummary) -> dict[str, float]:
    """Total seconds per notebook over the run (where the time goes)."""
    out: dict[str, float] = {}
    for r in summary.results:
        out[r.notebook] = out.get(r.notebook, 0.0) + r.seconds
    return {k: round(v, 1) for k, v in sorted(out.items())}


def _by_size(root: Path) -> list[str]:
    project = runner.Project(root)
    kommuner = project.kommuner()
    sizes = {k: sum(p.stat().st_size for p in (project.root / "data" / "raw" / k).glob("*") if p.is_file())
             for k in kommuner}
    return sorted(kommuner, key=lambda k: (sizes[k], k))


def bench_national(work: Path, n_chosen: int, seed: int, repeat: int, naive_n: int, plain_n: int,
                   jobs: int | None, t_kernel: float) -> dict[str, Any]:
    """Runner vs (a) and (b) on ``n_chosen`` of the 320 national municipalities."""
    root, rows = national_root(work, n_chosen, seed)
    ranked = _by_size(root)
    n = len(ranked)
    walls, cpus = [], []
    summary = None
    for i in range(repeat):
        shutil.rmtree(root / "reports", ignore_errors=True)
        shutil.rmtree(root / "data" / "processed", ignore_errors=True)
        _say(f"  runner over {n} municipalities, repetition {i + 1}/{repeat} ...")
        cpu0 = _cpu()
        wall, summary = _timed(lambda: runner.run(root=root, jobs=jobs, force=True, progress=None))
        walls.append(wall)
        cpus.append(_cpu() - cpu0)
    assert summary is not None
    n_notebooks = sum(r.status in ("ok", "failed") for r in summary.results)

    plain_sample = evenly_spaced(ranked, plain_n)
    _say(f"  (b) one plain Python process: {len(plain_sample)} of {n} municipalities + comparison ...")
    env = {**SINGLE_THREADED, **os.environ, "GENOMLYSNING_ROOT": str(root), "MPLBACKEND": "Agg"}
    plain_runs = []
    for _ in range(repeat):
        cpu0 = _cpu()
        command = [sys.executable, __file__, "--plain-root", str(root), "--sample", ",".join(plain_sample)]
        proc = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        total, cross_b = _extrapolate(result["per_kommun"], n)
        wall_b = sum(result["per_kommun"].values())
        plain_runs.append({"seconds": total, "cross": cross_b, "failures": result["failures"],
                           "cpu": (_cpu() - cpu0) * total / wall_b if wall_b else float("nan")})
    plain = _median([p["seconds"] for p in plain_runs])

    naive_sample = evenly_spaced(ranked, naive_n)
    _say(f"  (a) naive papermill loop: {len(naive_sample)} of {n} municipalities + comparison ...")
    cpu0 = _cpu()
    naive = naive_papermill(root, naive_sample)
    naive_wall_sample = sum(naive["per_kommun"].values())
    naive_total, naive_cross = _extrapolate(naive["per_kommun"], n)
    naive_cpu = (_cpu() - cpu0) * naive_total / naive_wall_sample if naive_wall_sample else float("nan")

    cores = os.cpu_count() or 1
    runner_s = _median(walls)
    budget = 2 * plain + t_kernel * n_notebooks / cores
    scale = NATIONAL_KOMMUNER / n
    return {
        "kommuner": n, "of": NATIONAL_KOMMUNER, "rows": rows, "notebooks": n_notebooks,
        "workers": min(jobs or cores, n),
        "runner_seconds": runner_s, "runner_runs": walls, "runner_cpu_seconds": _median(cpus),
        "runner_notebook_seconds": _by_notebook(summary),
        "runner_failed": [f"{r.kommun}/{r.notebook}: {r.message}" for r in summary.failed][:10],
        "runner_projected_320_seconds": runner_s * scale,
        "plain_seconds_estimated": plain, "plain_sample": plain_sample,
        "plain_cross_seconds": _median([p["cross"] for p in plain_runs]),
        "plain_cpu_seconds_estimated": _median([p["cpu"] for p in plain_runs]),
        "plain_failures": plain_runs[0]["failures"][:10],
        "naive_seconds_estimated": naive_total, "naive_sample": naive_sample,
        "naive_sample_seconds": naive["per_kommun"], "naive_cross_seconds": naive_cross,
        "naive_cpu_seconds_estimated": naive_cpu, "naive_failures": naive["failures"],
        "kernel_start_seconds": t_kernel,
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
            same = "yes" if d["warm_equals_fresh"] else "NO " + ", ".join(d["differing_files"])
            _say(f"          reports identical to a fresh kernel per notebook, one at a time: {same} "
                 f"(that way: {d['fresh_kernels_seconds']:.1f} s)")
    n = results.get("national")
    if n:
        _say(f"national  {n['kommuner']} of {n['of']} municipalities (evenly spaced by size), "
             f"{n['rows']} rows, {n['notebooks']} notebooks, {n['workers']} workers")
        _say(f"          runner               {n['runner_seconds']:7.1f} s  CPU "
             f"{n['runner_cpu_seconds']:6.0f} s  "
             f"(all {n['of']}: ~{n['runner_projected_320_seconds'] / 60:.0f} min)")
        _say(f"            notebook seconds: {n['runner_notebook_seconds']}")
        _say(f"          (a) naive papermill  {n['naive_seconds_estimated']:7.1f} s  CPU "
             f"{n['naive_cpu_seconds_estimated']:6.0f} s  (from {len(n['naive_sample'])} municipalities "
             f"+ comparison) -> runner {n['speedup_vs_naive']:.1f}x faster (aim >= 3x)")
        _say(f"          (b) plain Python     {n['plain_seconds_estimated']:7.1f} s  CPU "
             f"{n['plain_cpu_seconds_estimated']:6.0f} s  (from {len(n['plain_sample'])} municipalities "
             f"+ comparison) -> runner/(b) = {n['ratio_vs_plain']:.2f}")
        _say(f"          budget 2*(b) + kernel start {n['kernel_start_seconds']:.2f} s * {n['notebooks']} "
             f"notebooks / cores = {n['budget_seconds']:.0f} s: {'met' if n['within_budget'] else 'NOT met'}")
        for key in ("runner_failed", "plain_failures", "naive_failures"):
            if n[key]:
                _say(f"          {key}: {n[key]}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    parser.add_argument("--full", action="store_true", help="all 320 national municipalities (over an hour)")
    parser.add_argument("--repeat", type=int, help="repetitions of clean and demo (default 3; quick 1)")
    parser.add_argument("--national-repeat", type=int, default=1, help="repetitions of the national run")
    parser.add_argument("--kommuner", type=int, help="national municipalities to run (default 64 of 320)")
    parser.add_argument("--naive", type=int, help="municipalities timed in the naive loop (default 6)")
    parser.add_argument("--plain", type=int, help="municipalities timed in one plain process (default 16)")
    parser.add_argument("--jobs", type=int, help="runner workers (default: cores)")
    parser.add_argument("--seed", type=int, default=synth.DEFAULT_SEED)
    parser.add_argument("--only", choices=("clean", "demo", "national"), action="append",
                        help="run only these parts (repeatable)")
    parser.add_argument("--workdir", help="keep generated data here (default: a temporary folder)")
    parser.add_argument("--plain-root", help=argparse.SUPPRESS)
    parser.add_argument("--sample", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.plain_root:
        print(json.dumps(plain_python(Path(args.plain_root), args.sample.split(","))))
        return 0
    quick = args.quick
    repeat = args.repeat or (1 if quick else 3)
    n_kommuner = args.kommuner or (NATIONAL_KOMMUNER if args.full else 24 if quick else 64)
    naive_n = args.naive or (3 if quick else 8 if args.full else 6)
    plain_n = args.plain or (8 if quick else 32 if args.full else 16)
    parts = args.only or ["clean", "demo", "national"]
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="genomlysning-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
                               "quick": quick, "full": args.full}
    t0 = time.perf_counter()
    try:
        if "clean" in parts:
            rows = 30_000 if quick else NATIONAL_ROWS
            _say(f"(i) cleaning {rows} rows x {repeat} ...")
            results["clean"] = bench_clean(work, rows, repeat, args.seed)
        if "demo" in parts:
            _say(f"(ii) demo municipality {DEMO_KOMMUN} x {repeat} ...")
            results["demo"] = bench_demo(work, repeat, check_cold=not quick)
        if "national" in parts:
            _say(f"(iii) national run: {n_kommuner} of {NATIONAL_KOMMUNER} municipalities ...")
            t_kernel = kernel_start_seconds()
            results["national"] = bench_national(work, n_kommuner, args.seed, args.national_repeat,
                                                 naive_n, plain_n, args.jobs, t_kernel)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    results["total_seconds"] = time.perf_counter() - t0
    _report(results)
    _say(f"total {results['total_seconds'] / 60:.1f} min")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")
    _say(f"saved {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
