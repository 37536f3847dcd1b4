"""Run every notebook for every municipality: papermill, provenance, skip-if-up-to-date, Dask, index.

``genomlysning run`` (:func:`run`) executes, for each municipality with a ``params/<kommun>.yaml``
(or those named), its notebooks from ``notebooks/`` in ``NN_name`` order into
``reports/<kommun>/NN_name.ipynb``, then the cross-municipality notebooks once into
``reports/jamforelse/``. Each executed notebook is also rendered to HTML twice: ``NN_name.html``
with code (for evaluators) and ``NN_name_utan_kod.html`` without code cells (for managers). Finally
``reports/index.html`` lists every municipality (:mod:`genomlysning.index`).

Which notebook runs where (:data:`REGISTRY`; a notebook not listed there is per-municipality when
it has a ``kommun`` parameter and cross-municipality when it has ``kommuner``):

* ``01_cleaning``, ``02_funnel``, ``03_models``: per municipality, in order; a failure skips the
  rest of that municipality's chain (but not other municipalities).
* ``05_change``: per municipality, only where the params file sets ``reform_datum`` or
  ``pilot_omrade`` (it evaluates that municipality's reform or pilot area), after 01-03.
* ``04_compare``: once per run, over every municipality of the run whose notebooks all succeeded
  (at least two), with ``kommuner`` set to that list.

Audit before publication (:func:`audit_and_publish`): when a unit's notebooks have run, the unit
(``reports/<kommun>/``, and ``reports/jamforelse/`` after 04) is attacked by
:func:`genomlysning.audit.audit_unit` if it has ledger definitions. A unit that discloses a small
count, or whose audit fails, is *withheld*: its whole report folder is moved (one rename) to
``data/processed/<kommun>/tillbakahallet/`` (never published) with the audit's findings beside it,
its notebooks count as failed and the run exits 1; the other units go on. The audit's time is the
``granskning`` row of the summary. The notebooks write into ``reports/`` directly (no staging
folder): a notebook prints and records its own paths, 03 reads what 02 published, the up-to-date
state lists files under ``reports/``. So ``reports/`` is a work area until ``genomlysning run``
has finished; publish it only after a run that exited 0.

Parameters come from the params file: a notebook receives exactly the keys its ``parameters`` cell
declares (papermill's inspection), plus ``params_path`` when it declares it. A key in a params file
that is neither an import setting (:data:`genomlysning.params.IMPORT_KEYS`) nor a parameter of any
notebook is refused before anything runs (papermill itself would only log it).

Up to date: each notebook's *key* hashes its notebook file, its parameters, the whole params file,
the input data file(s), the library code (``lib/genomlysning/**/*.py``), the package versions and
the key of the notebook before it; a cross-municipality notebook's key covers every included
municipality's chain. A notebook is skipped when its key and the files it wrote are unchanged
(:mod:`genomlysning.provenance`); ``force=True`` reruns everything.

Speed: each worker keeps one warm kernel (:mod:`genomlysning.kernel`) and runs notebook after
notebook in it, restoring a fresh kernel's state in between. Workers are local processes
(``concurrent.futures``; at most one per core) or, with ``scheduler=ADDRESS``, Dask distributed
workers (one task per municipality).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import multiprocessing
import os
import queue
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from genomlysning import params as params_mod
from genomlysning import paths, provenance
from genomlysning.kernel import WarmKernel, kernel_for, quiet_imports, shutdown_kernels

Scope = Literal["kommun", "alla"]
Status = Literal["ok", "failed", "skipped", "up-to-date"]
OK: Status = "ok"
FAILED: Status = "failed"
SKIPPED: Status = "skipped"
UP_TO_DATE: Status = "up-to-date"

#: Folder (under reports/) of the cross-municipality notebooks.
CROSS_LABEL = "jamforelse"
#: Executed notebooks match this pattern in notebooks/.
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
#: Suffix of the HTML rendering without code cells (for managers).
NO_CODE_SUFFIX = "_utan_kod"
#: Default time limit per cell, seconds (a stuck cell must not hang a national run).
CELL_TIMEOUT = 3600
#: Keys the runner itself supplies when a notebook declares them.
RUNNER_KEYS: frozenset[str] = frozenset({"params_path", "input_path", "kommuner"})
#: The audit's row in the run summary (in place of a notebook name).
AUDIT_STEP = "granskning"
#: Folder under ``data/processed/<unit>/`` (never published) that receives a withheld unit's reports.
WITHHELD_DIR = "tillbakahallet"
#: The marker in :data:`WITHHELD_DIR` that the index reads (why the unit is withheld).
WITHHELD_FILE = "tillbakahallet.json"
#: The audit's full text (every hidden cell and its range) in :data:`WITHHELD_DIR`.
WITHHELD_REPORT = "granskning.txt"
#: Message of a withheld unit's notebooks in the summary.
WITHHELD_NOTE = "tillbakahållen efter röjandegranskningen"
#: At most this many disclosed cells in the summary's message (all of them in WITHHELD_REPORT).
MAX_LISTED = 20


@dataclass(frozen=True)
class Role:
    """Where a notebook runs (per municipality or once across them), what it needs first
    (``after``: notebook names; None = every notebook before it) and optional precondition keys."""

    scope: Scope
    requires_any: tuple[str, ...] = ()
    after: tuple[str, ...] | None = None


#: The known notebooks. ``requires_any``: run only where the params set one of these keys;
#: ``after``: 02 only reads the clean data; 03 reads what 02 published (its disclosure ledger),
#: so it runs after 02, as does 05 (its many-year ledger fixes 02's year).
REGISTRY: dict[str, Role] = {
    "01_cleaning": Role("kommun"),
    "02_funnel": Role("kommun", after=("01_cleaning",)),
    "03_models": Role("kommun", after=("01_cleaning", "02_funnel")),  # reads 02's ledger
    "04_compare": Role("alla"),
    "05_change": Role("kommun", requires_any=("reform_datum", "pilot_omrade"),
                      after=("01_cleaning", "02_funnel")),
}


class RunnerError(RuntimeError):
    """The run cannot start (no notebooks, no params, a notebook without parameters cell ...)."""


# ---------------------------------------------------------------------------------------------
# Project layout, notebooks, params


@dataclass(frozen=True)
class Project:
    """The folders of one project root (``GENOMLYSNING_ROOT`` or the repository)."""

    root: Path

    @property
    def params_dir(self) -> Path:
        return self.root / "params"

    @property
    def notebooks_dir(self) -> Path:
        return self.root / "notebooks"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def report_dir(self, label: str) -> Path:
        """reports/<kommun> (or reports/jamforelse)."""
        return self.reports_dir / label

    def processed_dir(self, kommun: str) -> Path:
        """data/processed/<kommun>."""
        return self.root / "data" / "processed" / kommun

    def params_file(self, kommun: str) -> Path:
        """params/<kommun>.yaml."""
        return self.params_dir / f"{kommun}.yaml"

    def rel(self, path: str | os.PathLike[str]) -> str:
        """``path`` relative to the root (POSIX), or just its name when outside it."""
        p = Path(path).resolve()
        try:
            return p.relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return p.name

    def kommuner(self) -> list[str]:
        """Every municipality with a params file, sorted."""
        return sorted(p.stem for p in self.params_dir.glob("*.yaml"))


@dataclass(frozen=True)
class NotebookSpec:
    """One notebook of notebooks/: name (``NN_name``), path, role, declared parameters, content hash."""

    name: str
    path: Path
    role: Role
    parameters: tuple[str, ...]
    sha256: str


def _role(name: str, parameters: Sequence[str]) -> Role:
    if name in REGISTRY:
        return REGISTRY[name]
    if "kommun" not in parameters and "kommuner" in parameters:
        return Role("alla")
    return Role("kommun")


def notebook_parameters(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """Names assigned at top level of a notebook's ``parameters`` cell, in order.

    Parsed with :mod:`ast`, i.e. exactly what Python executes. (``papermill.inspect_notebook``
    skips any line with a second ``=``, so ``period_slut = None  # None = från params`` would be
    missed and the key wrongly refused.)
    """
    import ast

    quiet_imports()
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cell = next((c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return ()
    source = "\n".join(ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise RunnerError(f"{Path(path).name}: the parameters cell is not valid Python: {exc}") from exc
    names: list[str] = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, ast.AnnAssign) else []
        for target in targets:
            elts = target.elts if isinstance(target, ast.Tuple | ast.List) else [target]
            names += [e.id for e in elts if isinstance(e, ast.Name) and e.id not in names]
    return tuple(names)


def discover_notebooks(project: Project) -> list[NotebookSpec]:
    """The notebooks of ``notebooks/`` (``NN_name.ipynb``, sorted), with roles and parameters."""
    specs = []
    for path in sorted(project.notebooks_dir.glob(NOTEBOOK_GLOB)):
        declared = notebook_parameters(path)
        if not declared:
            raise RunnerError(f"{project.rel(path)}: no cell tagged 'parameters' (or it is empty); "
                              "every notebook must declare its parameters")
        specs.append(NotebookSpec(path.stem, path, _role(path.stem, declared), declared,
                                  provenance.sha256_file(path)))
    return specs


def _closest(key: str, valid: Iterable[str]) -> str:
    near = difflib.get_close_matches(key, sorted(valid), n=1, cutoff=0.5)
    return f" (closest valid key: {near[0]!r})" if near else ""


def check_params(project: Project, kommuner: Sequence[str],
                 notebooks: Sequence[NotebookSpec]) -> dict[str, dict[str, Any]]:
    """Load and check the params of ``kommuner``; raise :class:`ParamsError` listing every problem.

    A key must be an import setting or a parameter of at least one notebook; ``kommun`` (when set)
    must equal the file name.
    """
    declared = frozenset(p for nb in notebooks for p in nb.parameters)
    valid = params_mod.IMPORT_KEYS | declared
    problems: list[str] = []
    loaded: dict[str, dict[str, Any]] = {}
    available = project.kommuner()
    for kommun in kommuner:
        try:
            paths.check_kommun(kommun)
        except paths.PathError as exc:
            problems.append(str(exc))
            continue
        path = project.params_file(kommun)
        rel = project.rel(path)
        if not path.is_file():
            problems.append(f"{rel}: params file not found; municipalities with a params file: "
                            f"{', '.join(available) or '(none)'}")
            continue
        try:
            raw, _ = params_mod.read_yaml(path)
        except params_mod.ParamsError as exc:
            problems.append(str(exc))
            continue
        for key in (k for k in raw if k in RUNNER_KEYS):
            problems.append(f"{rel}: {key!r} is set by the runner for each notebook, not in a params file "
                            "(the data file is `input`; the municipality is the file name)")
        bad = [k for k in raw if k not in valid or k in RUNNER_KEYS]
        for key in (k for k in bad if k not in RUNNER_KEYS):
            problems.append(
                f"{rel}: unknown key {key!r}{_closest(str(key), valid)}; it is neither a parameter of "
                f"any notebook ({', '.join(nb.name for nb in notebooks)}) nor an import setting. "
                f"Valid keys: {', '.join(sorted(valid))}")
        if bad:
            continue
        try:
            p = params_mod.load(path, extra_keys=declared)
        except params_mod.ParamsError as exc:
            problems.append(str(exc))
            continue
        if str(p.get("kommun", kommun)) != kommun:
            problems.append(f"{rel}: kommun is {p['kommun']!r} but the file is named {kommun!r}; "
                            "they must agree (the name is the folder under data/ and reports/)")
            continue
        loaded[kommun] = p
    if problems:
        raise params_mod.ParamsError("\n".join(problems))
    return loaded


def _input_files(project: Project, p: Mapping[str, Any], override: str | None = None) -> list[Path]:
    value = override if override is not None else p.get("input")
    if not value:
        return []
    items = value if isinstance(value, list) else [value]
    return [Path(v) if Path(v).is_absolute() else project.root / str(v) for v in items]


# ---------------------------------------------------------------------------------------------
# Plan: tasks and jobs (plain picklable data, sent to worker processes or Dask)


@dataclass(frozen=True)
class Task:
    """One notebook to execute: where from, where to, with what parameters and key."""

    label: str
    notebook: str
    source: str
    out_dir: str
    parameters: dict[str, Any]
    key: str
    provenance_md: str
    title: str
    lang: str = "sv"
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class Job:
    """The tasks of one municipality (or the cross notebooks), in order; a task starts when those
    in its ``after`` are done, side by side in up to ``kernels`` kernels. ``finalize``: code run in
    a kernel after tasks ran side by side (it rewrites the shared XLSX workbook). ``audit``:
    audit the unit when its tasks are done, with ``audit_threads`` units at a time (the cross job's
    audit covers every compared unit)."""

    root: str
    label: str
    tasks: tuple[Task, ...]
    state_dir: str
    watch: tuple[str, ...]
    force: bool = False
    prewarm: tuple[str, ...] = ()
    reuse: bool = True
    timeout: int | None = CELL_TIMEOUT
    cost: int = 0
    kernels: int = 1
    finalize: str = ""
    audit: bool = True
    audit_threads: int = 1


@dataclass(frozen=True)
class NotebookResult:
    """Outcome of one notebook in a run."""

    kommun: str
    notebook: str
    status: Status
    seconds: float = 0.0
    message: str = ""


@dataclass
class RunSummary:
    """Every notebook's outcome, in run order, plus where the index page is."""

    results: list[NotebookResult] = field(default_factory=list)
    index: Path | None = None
    kernels_started: int = 0

    @property
    def failed(self) -> list[NotebookResult]:
        """The notebooks that failed."""
        return [r for r in self.results if r.status == FAILED]

    @property
    def withheld(self) -> list[str]:
        """The units withheld after their audit (their reports are not under reports/)."""
        return [r.kommun for r in self.results if r.notebook == AUDIT_STEP and r.status == FAILED]

    @property
    def audits(self) -> list[NotebookResult]:
        """The audit rows (one per audited unit, with the audit's seconds)."""
        return [r for r in self.results if r.notebook == AUDIT_STEP]

    @property
    def exit_code(self) -> int:
        """0 when nothing failed and no unit was withheld, else 1."""
        return 1 if self.failed or self.withheld else 0

    def status(self, kommun: str, notebook: str) -> Status | None:
        """Status of one notebook (None when it was not part of the run)."""
        for r in self.results:
            if r.kommun == kommun and r.notebook == notebook:
                return r.status
        return None

    def table(self) -> str:
        """Plain-text summary table (municipality, notebook, status, seconds) and failure messages."""
        rows = [("municipality", "notebook", "status", "seconds")]
        rows += [(r.kommun, r.notebook, r.status, f"{r.seconds:.1f}") for r in self.results]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                           for i, (c, w) in enumerate(zip(row, widths, strict=True))) for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        notebooks = [r for r in self.results if r.notebook != AUDIT_STEP]
        counts = {s: sum(r.status == s for r in notebooks) for s in (OK, UP_TO_DATE, SKIPPED, FAILED)}
        lines.append(", ".join(f"{n} {s}" for s, n in counts.items()))
        for r in notebooks:
            if r.message and r.status in (FAILED, SKIPPED) and r.message != WITHHELD_NOTE:
                lines.append(f"{r.kommun}/{r.notebook} {r.status}: {r.message}")
        if self.audits:
            lines.append(audit_line(self.audits))
        lines += [r.message for r in self.audits if r.status == FAILED]
        return "\n".join(lines)


def audit_line(audits: Sequence[NotebookResult]) -> str:
    """One line: units audited, the time the audit added, the units withheld."""
    withheld = [r.kommun for r in audits if r.status == FAILED]
    seconds = sum(r.seconds for r in audits)
    tail = f"; tillbakahållna: {', '.join(withheld)}" if withheld else "; alla godkända"
    return f"röjandegranskning: {len(audits)} enheter på {seconds:.1f} s{tail}"


def _parameters_for(nb: NotebookSpec, p: Mapping[str, Any], project: Project,
                    overrides: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: p[k] for k in nb.parameters if k in p}
    # an optional analysis (05_change) must not fall back on the demo's reform date or pilot area
    out.update({k: None for k in nb.role.requires_any if k in nb.parameters and k not in out})
    if "params_path" in nb.parameters and "params_path" not in p:
        out["params_path"] = project.rel(project.params_file(str(p["kommun"])))
    for k, v in overrides.items():
        if k not in nb.parameters:
            raise RunnerError(f"{project.rel(nb.path)} has no parameter {k!r} to override")
        out[k] = v
    return out


def _applies(nb: NotebookSpec, p: Mapping[str, Any]) -> bool:
    return not nb.role.requires_any or any(p.get(k) not in (None, "") for k in nb.role.requires_any)


def _deps(nb: NotebookSpec, before: Sequence[str]) -> tuple[str, ...]:
    """The notebooks (among ``before``, in order) that ``nb`` waits for."""
    if nb.role.after is None:
        return tuple(before)
    return tuple(n for n in before if n in nb.role.after)


def _workbook_code(kommun: str, lang: str, namn: str) -> str:
    """Kernel code that recompiles a municipality's XLSX workbook from all its saved tables (the
    notebooks each rewrite it; when they ran side by side, the last writer may have missed a table)."""
    return (f"from genomlysning import report as _gl_report\n"
            f"if _gl_report.workbook_path({kommun!r}).is_file():\n"
            f"    _gl_report.write_workbook({kommun!r}, {lang!r}, namn={namn!r})\n")


#: Said in the title and at the top of every report made from synthetic demo data.
DEMO_MARK = "fiktiva data"
DEMO_BANNER = {"sv": "Fiktiva data: en demokommun med syntetiska ärenden, inte en verklig kommun.",
               "en": "Fictional data (fiktiva data): a demo municipality with synthetic cases, not a real "
                     "one."}


def _demo_mark(*loaded: Mapping[str, Any]) -> str:
    """`` (fiktiva data)`` when every params given is ``synthetic: true``."""
    return f" ({DEMO_MARK})" if loaded and all(p.get("synthetic") is True for p in loaded) else ""


def plan_kommun(project: Project, notebooks: Sequence[NotebookSpec], kommun: str, p: Mapping[str, Any],
                env: Mapping[str, Any], *, force: bool = False, only: Sequence[str] | None = None,
                overrides: Mapping[str, Any] | None = None, prewarm: Sequence[str] = (),
                reuse: bool = True, timeout: int | None = CELL_TIMEOUT, kernels: int = 1) -> tuple[Job, str]:
    """The job of one municipality and the key of its whole chain (for the cross notebooks)."""
    overrides = dict(overrides or {})
    override_input = overrides.get("input_path")
    files = _input_files(project, p, override_input)
    inputs = {f"`{project.rel(f)}`": provenance.file_or_missing_hash(f) for f in files}
    keys: dict[str, str] = {}
    tasks = []
    for nb in notebooks:
        if nb.role.scope != "kommun" or not _applies(nb, p):
            continue
        parameters = _parameters_for(nb, p, project, {k: v for k, v in overrides.items()
                                                      if k in nb.parameters})
        deps = _deps(nb, list(keys))
        keys[nb.name] = provenance.sha256_json({
            "notebook": nb.sha256, "parameters": parameters, "params": p, "inputs": inputs,
            "code": env["code"], "versions": env["versions"], "upstream": [keys[d] for d in deps]})
        if only is not None and nb.name not in only:
            continue
        md = provenance.provenance_markdown(env, parameters, inputs, f"notebooks/{nb.path.name}", nb.sha256)
        in_job = [t.notebook for t in tasks]
        tasks.append(Task(kommun, nb.name, str(nb.path), str(project.report_dir(kommun)), parameters,
                          keys[nb.name], md, f"{p.get('namn', kommun)} – {nb.name}{_demo_mark(p)}",
                          str(p.get("lang", "sv")),
                          tuple(d for d in deps if d in in_job)))
    cost = sum(f.stat().st_size for f in files if f.is_file())
    lang = str(p.get("lang", "sv"))
    job = Job(str(project.root), kommun, tuple(tasks), str(project.report_dir(kommun)),
              (str(project.report_dir(kommun)), str(project.processed_dir(kommun))), force,
              tuple(prewarm), reuse, timeout, cost, kernels,
              _workbook_code(kommun, lang, str(p.get("namn", kommun))))
    return job, provenance.sha256_json(keys)


def _common_parameters(nb: NotebookSpec, loaded: Mapping[str, Mapping[str, Any]],
                       kommuner: Sequence[str]) -> dict[str, Any]:
    """Parameters of a cross notebook: ``kommuner`` plus keys every included params file agrees on
    (the suppression threshold ``k``: the strictest, i.e. largest)."""
    out: dict[str, Any] = {}
    if "kommuner" in nb.parameters:
        out["kommuner"] = list(kommuner)
    for name in nb.parameters:
        if name in out or name in ("kommun", "params_path", "input_path"):
            continue
        values = [loaded[k][name] for k in kommuner if name in loaded[k]]
        if not values or len(values) < len(kommuner):
            continue
        if name == "k":
            out[name] = max(values)
        elif all(v == values[0] for v in values):
            out[name] = values[0]
    return out


def comparable(loaded: Mapping[str, Mapping[str, Any]], ready: Sequence[str]) -> tuple[list[str], str]:
    """The municipalities the comparison may set side by side, and why others are left out.

    Synthetic (demo, ``synthetic: true``) and own data are never mixed: with any own municipality
    ready only own ones are compared. Only one review year (``ar``) is compared: the year most of
    them share (on a tie the latest).
    """
    real = [k for k in ready if loaded[k].get("synthetic") is not True]
    group = real or list(ready)
    notes = []
    if real and len(real) < len(ready):
        notes.append(f"{len(ready) - len(real)} demo municipalities (fiktiva data) left out")
    years: dict[Any, list[str]] = {}
    for k in group:
        years.setdefault(loaded[k].get("ar"), []).append(k)
    if not years:
        return [], ""
    year = max(years, key=lambda y: (len(years[y]), str(y)))
    other = [k for k in group if k not in years[year]]
    if other:
        notes.append(f"{', '.join(other)} left out: another review year than {year}")
    return years[year], ("; " + "; ".join(notes)) if notes else ""


def plan_cross(project: Project, notebooks: Sequence[NotebookSpec], loaded: Mapping[str, Mapping[str, Any]],
               chains: Mapping[str, str], ready: Sequence[str], env: Mapping[str, Any], *,
               force: bool = False, prewarm: Sequence[str] = (), reuse: bool = True,
               timeout: int | None = CELL_TIMEOUT) -> tuple[Job | None, list[NotebookResult]]:
    """The cross-municipality job over the ``ready`` municipalities, and the notebooks skipped."""
    tasks: list[Task] = []
    skipped: list[NotebookResult] = []
    upstream = ""
    for nb in notebooks:
        if nb.role.scope != "alla":
            continue
        included, why = comparable(loaded, [k for k in ready if _applies(nb, loaded[k])])
        if len(included) < 2:
            skipped.append(NotebookResult(CROSS_LABEL, nb.name, SKIPPED, 0.0,
                                          f"needs at least two comparable municipalities whose notebooks "
                                          f"all succeeded; have {len(included)}{why}"))
            continue
        parameters = _common_parameters(nb, loaded, included)
        combined = provenance.sha256_json({k: chains[k] for k in included})
        key = provenance.sha256_json({"notebook": nb.sha256, "parameters": parameters, "chains": combined,
                                      "code": env["code"], "versions": env["versions"],
                                      "upstream": upstream})
        upstream = key
        inputs = {f"{len(included)} kommuners indata och resultat (sammantaget)": combined}
        md = provenance.provenance_markdown(env, parameters, inputs, f"notebooks/{nb.path.name}", nb.sha256)
        lang = str(parameters.get("lang", "sv"))
        tasks.append(Task(CROSS_LABEL, nb.name, str(nb.path), str(project.report_dir(CROSS_LABEL)),
                          parameters, key, md,
                          f"Jämförelse – {nb.name}{_demo_mark(*(loaded[k] for k in included))}", lang,
                          tuple(t.notebook for t in tasks)))
    if not tasks:
        return None, skipped
    out = str(project.report_dir(CROSS_LABEL))
    return Job(str(project.root), CROSS_LABEL, tuple(tasks), out, (out,), force, tuple(prewarm), reuse,
               timeout), skipped


# ---------------------------------------------------------------------------------------------
# Executing a job (in the parent, a pool worker or a Dask worker)

Emit = Callable[..., None]


def _describe(exc: BaseException) -> str:
    if type(exc).__name__ == "PapermillExecutionError":
        text = f"{getattr(exc, 'ename', 'Error')}: {getattr(exc, 'evalue', '')}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def output_names(notebook: str) -> tuple[str, str, str]:
    """File names of an executed notebook and its two HTML renderings."""
    return f"{notebook}.ipynb", f"{notebook}.html", f"{notebook}{NO_CODE_SUFFIX}.html"


def path_rewrites(root: str | os.PathLike[str]) -> list[tuple[re.Pattern[str], str]]:
    """Rewrites that make absolute paths in outputs (warnings, tracebacks) machine-independent.

    The project root and the code checkout become relative, the Python installation is dropped
    (``lib/python3.11/site-packages/pandas/...``), and IPython's per-process cell files
    (``/tmp/ipykernel_<pid>/<hash>.py``) become ``cell-<hash>.py``.
    """
    import site
    import sys
    import tempfile

    prefixes = {str(Path(root).resolve()), str(provenance.package_dir().parents[1]), sys.prefix,
                sys.base_prefix, *site.getsitepackages()}
    rules = [(re.compile(re.escape(os.path.join(tempfile.gettempdir(), "ipykernel_")) + r"\d+/(\d+\.py)"),
              r"cell-\1")]
    for prefix in sorted(prefixes, key=len, reverse=True):
        rules.append((re.compile(re.escape(prefix.rstrip("/") + "/")), ""))
    return rules


_TEXT_MIME = ("text/plain", "text/html", "text/markdown", "text/latex")


def scrub_paths(nb: Any, rules: Sequence[tuple[re.Pattern[str], str]]) -> Any:
    """Apply :func:`path_rewrites` rules to every text output of ``nb`` (in place) and return it."""

    def fix(text: Any) -> Any:
        if isinstance(text, list):
            return [fix(t) for t in text]
        if not isinstance(text, str):
            return text
        for pattern, repl in rules:
            text = pattern.sub(repl, text)
        return text

    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = fix(out["text"])
            if out.get("output_type") == "error":
                out["evalue"] = fix(out.get("evalue", ""))
                out["traceback"] = fix(out.get("traceback", []))
            for mime in _TEXT_MIME:
                if mime in out.get("data", {}):
                    out["data"][mime] = fix(out["data"][mime])
    return nb


def merge_streams(outputs: list[Any]) -> list[Any]:
    """Consecutive stream outputs of the same name (stdout, stderr) joined into one: how the kernel
    splits one ``print`` into messages depends on timing, the text does not."""
    merged: list[Any] = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (out.get("output_type") == "stream" and prev is not None and prev.get("output_type") == "stream"
                and prev.get("name") == out.get("name")):
            prev["text"] = "".join(prev["text"]) + "".join(out["text"])
        else:
            merged.append(out)
    return merged


def strip_volatile(nb: Any) -> Any:
    """Remove papermill/widget metadata and execution timestamps, fix the kernelspec, give the
    cells stable ids and merge split stream outputs, in place, so the same run gives a
    byte-identical notebook. Returns ``nb``."""
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    for i, c in enumerate(nb.cells):
        c.metadata.pop("execution", None)
        c.metadata.pop("papermill", None)
        if "tags" in c.metadata and not c.metadata["tags"]:
            del c.metadata["tags"]
        c["id"] = f"cell-{i:02d}"
        if c.get("outputs"):
            c["outputs"] = merge_streams(c["outputs"])
    return nb


def finalize_notebook(nb: Any, provenance_md: str, root: str | os.PathLike[str] | None = None) -> Any:
    """Put the Härkomst cell first, strip volatile metadata (timestamps, papermill) and rewrite
    absolute paths in outputs (with ``root``: see :func:`path_rewrites`)."""
    import nbformat

    cells = [c for c in nb.cells if provenance.PROVENANCE_TAG not in c.get("metadata", {}).get("tags", [])]
    cell = nbformat.v4.new_markdown_cell(provenance_md)
    cell.metadata["tags"] = [provenance.PROVENANCE_TAG]
    nb.cells = [cell, *cells]
    strip_volatile(nb)
    if root is not None:
        scrub_paths(nb, path_rewrites(root))
    return nb


_HTML_TEMPLATE = r"""{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
{%- if resources.gl_math -%}{{ super() }}{%- endif -%}
{%- endblock html_head_js_mathjax -%}
{%- block extra_css -%}
<style>.gl-nav{font-family:system-ui,sans-serif;font-size:14px;padding:8px 16px;border-bottom:1px solid #ddd}
.gl-nav a{color:#1f4e79}
.gl-demo{font-family:system-ui,sans-serif;margin:0;padding:8px 16px;background:#fff4d6;color:#5c4200;
font-weight:600;border-bottom:1px solid #e6c66b}</style>
{%- endblock extra_css -%}
{%- block data_markdown scoped %}
<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown jp-OutputArea-output {{ extra_class }}"{#
#} data-mime-type="text/markdown">
{{ output.data['text/markdown'] | markdown_output2html }}
</div>
{%- endblock data_markdown -%}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img alt="{{ ((output | get_metadata('alt', 'image/png')) or resources.gl_alt) | escape_html }}" {#
#}src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
{%- set width=output | get_metadata('width', 'image/png') -%}
{%- if width is not none %} width={{ width | escape_html }}{%- endif %}
{%- set height=output | get_metadata('height', 'image/png') -%}
{%- if height is not none %} height={{ height | escape_html }}{%- endif %} class="">
</div>
{%- endblock data_png %}
{%- block body_header -%}{{ super() }}
<nav class="gl-nav"><a href="../index.html">&larr; {{ resources.gl_back }}</a>
&middot; {{ resources.gl_other }}</nav>
{%- if resources.gl_demo %}<p class="gl-demo">{{ resources.gl_demo }}</p>{% endif -%}
{%- endblock body_header -%}
"""

_EXPORTER: Any = None
_EXPORTER_LOCK = threading.Lock()
_RENDER_LOCK = threading.Lock()  # the exporter's flags are switched per rendering (Dask threads)
_IMG_NO_ALT = re.compile(r"<img(?![^>]*\balt=)")
_FOCUSABLE = re.compile(r'<div class="(jp-Cell-inputWrapper|jp-OutputArea-output)')


def _exporter() -> Any:
    """nbconvert's HTML exporter (lab template, our tweaks), without its BeautifulSoup pass.

    Markdown *outputs* (text the code built, which may hold data such as the municipality's name)
    are rendered with raw HTML escaped and harmful link schemes (``javascript:``) removed; the
    notebook's own markdown cells are rendered as usual.

    ``HTMLExporter`` re-parses its own output with BeautifulSoup only to add ``alt`` text to images
    and ``tabindex`` to cells; that is two thirds of the rendering time, so it is done here with two
    regular expressions on the template's known markup instead.
    """
    with _EXPORTER_LOCK:
        return _EXPORTER if _EXPORTER is not None else _make_exporter()


def _make_exporter() -> Any:
    global _EXPORTER
    if _EXPORTER is None:
        quiet_imports()
        from jinja2 import DictLoader
        from nbconvert import HTMLExporter
        from nbconvert.exporters.templateexporter import TemplateExporter
        from nbconvert.filters.highlight import Highlight2HTML
        from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
        from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

        class Exporter(HTMLExporter):  # type: ignore[misc]
            alt_text = "Figur"

            def from_notebook_node(self, nb: Any, resources: Any = None, **kw: Any) -> tuple[str, Any]:
                info = nb.metadata.get("language_info", {})
                lexer = info.get("pygments_lexer", info.get("name", None))
                self.register_filter("highlight_code", self.filters.get(
                    "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
                resources = self._init_resources(resources)
                self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                    notebook_metadata=self._nb_metadata, parent=self, resources=resources))
                html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
                html = _IMG_NO_ALT.sub(f'<img alt="{self.alt_text}"', html)
                html = _FOCUSABLE.sub(r'<div tabindex="0" class="\1', html)
                return html, resources

            def default_filters(self) -> Any:
                yield from super().default_filters()
                yield ("markdown_output2html", self.markdown_output2html)

            def markdown_output2html(self, source: str) -> str:
                """A markdown output as HTML: raw HTML escaped, no harmful link schemes."""
                renderer = IPythonRenderer(escape=True, allow_harmful_protocols=False,
                                           anchor_link_text=self.anchor_link_text,
                                           exclude_anchor_links=self.exclude_anchor_links)
                return MarkdownWithMath(renderer=renderer).render(source)

        _EXPORTER = Exporter(template_name="lab", template_file="gl.html.j2",
                             extra_loaders=[DictLoader({"gl.html.j2": _HTML_TEMPLATE})])
    return _EXPORTER


def _has_math(nb: Any) -> bool:
    return any(c.cell_type == "markdown" and ("$" in c.source or "\\(" in c.source) for c in nb.cells)


def render_html(nb: Any, out_dir: Path, notebook: str, title: str, lang: str = "sv") -> tuple[Path, Path]:
    """Write ``NN_name.html`` (with code) and ``NN_name_utan_kod.html`` (no code, no stderr)."""
    with _RENDER_LOCK:
        return _render_html(_exporter(), nb, out_dir, notebook, title, lang)


def _render_html(exporter: Any, nb: Any, out_dir: Path, notebook: str, title: str,
                 lang: str) -> tuple[Path, Path]:
    import copy

    en = lang == "en"
    _, with_code, no_code = output_names(notebook)
    written = []
    for name, hide in ((with_code, False), (no_code, True)):
        doc = nb
        if hide:
            doc = copy.deepcopy(nb)
            for c in doc.cells:
                if c.cell_type == "code":
                    c.outputs = [o for o in c.outputs if not (o.get("output_type") == "stream"
                                                              and o.get("name") == "stderr")]
        exporter.exclude_input = exporter.exclude_input_prompt = exporter.exclude_output_prompt = hide
        exporter.language_code = "en" if en else "sv"
        exporter.alt_text = "Figure" if en else "Figur"
        other = with_code if hide else no_code
        other_text = ("with code" if hide else "without code") if en else ("med kod" if hide else "utan kod")
        resources = {"metadata": {"name": title}, "gl_math": _has_math(nb), "gl_alt": exporter.alt_text,
                     "gl_demo": DEMO_BANNER["en" if en else "sv"] if f"({DEMO_MARK})" in title else "",
                     "gl_back": "Overview" if en else "Översikt",
                     "gl_other": f'<a href="{other}">{"Same report" if en else "Samma rapport"} '
                                 f"{other_text}</a>"}
        body, _ = exporter.from_notebook_node(doc, resources=resources)
        path = out_dir / name
        path.write_text(body, encoding="utf-8")
        written.append(path)
    return written[0], written[1]


def _fallback_notebook(task: Task, message: str) -> Any:
    import nbformat

    nb = nbformat.read(task.source, as_version=4)
    note = nbformat.v4.new_markdown_cell(
        f"**Körningen avbröts innan notebooken kunde sparas:** `{message}`\n\n"
        "Cellerna nedan har därför inga resultat.")
    nb.cells.insert(0, note)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    return nb


def execute_task(kernel: WarmKernel, task: Task, timeout: int | None = CELL_TIMEOUT) -> tuple[Status, str]:
    """Execute one notebook in ``kernel``, finalize it and render both HTML files; return status."""
    import nbformat

    out_dir = Path(task.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = output_names(task.notebook)
    for name in names:
        (out_dir / name).unlink(missing_ok=True)
    out_nb = out_dir / names[0]
    status: Status = OK
    message = ""
    try:
        kernel.execute(task.source, out_nb, task.parameters, timeout)
    except Exception as exc:
        status, message = FAILED, _describe(exc)
    try:
        nb = nbformat.read(out_nb, as_version=4) if out_nb.is_file() else _fallback_notebook(task, message)
        nb = finalize_notebook(nb, task.provenance_md, Path(task.out_dir).parents[1])
        nbformat.write(nb, out_nb)
        render_html(nb, out_dir, task.notebook, task.title, task.lang)
    except Exception as exc:
        prefix = message + "; " if message else ""
        status, message = FAILED, prefix + "writing the report: " + _describe(exc)
    return status, message


def _up_to_date(root: str, state: Mapping[str, Any], task: Task) -> bool:
    """Same key, succeeded last time, and every file it wrote still as the run left it."""
    entry = state.get("notebooks", {}).get(task.notebook)
    if not entry or entry.get("key") != task.key or entry.get("status") != OK or not entry.get("wrote"):
        return False
    files = state.get("files", {})
    wrote = entry["wrote"]
    return all(f in files for f in wrote) and provenance.outputs_intact(root, {f: files[f] for f in wrote})


def _worker_env(root: str) -> dict[str, str]:
    from genomlysning.handrun import RUNNER_ENV

    return {"GENOMLYSNING_ROOT": root, RUNNER_ENV: "1"}


def _stages(tasks: Sequence[Task]) -> list[list[Task]]:
    """Tasks grouped by depth in their ``after`` graph (a stage's tasks may run side by side)."""
    depth: dict[str, int] = {}
    for t in tasks:
        depth[t.notebook] = 1 + max((depth[d] for d in t.after if d in depth), default=-1)
    return [[t for t in tasks if depth[t.notebook] == d] for d in range(max(depth.values(), default=-1) + 1)]


def job_kernels(job: Job) -> list[WarmKernel]:
    """The calling thread's warm kernels for ``job`` (kept between jobs by pool and Dask workers)."""
    cwd, env = str(Path(job.root) / "notebooks"), _worker_env(job.root)
    return [kernel_for(cwd, env, job.prewarm, job.reuse, slot=i) for i in range(max(1, job.kernels))]


def run_job(job: Job, kernels: Sequence[WarmKernel] | None = None,
            emit: Emit | None = None) -> list[NotebookResult]:
    """Run a job's tasks (skipping up-to-date ones, side by side where ``after`` allows and there
    are several kernels); record the state; return the outcomes in task order.

    A task whose prerequisite failed or was skipped is skipped (and its old report removed, so
    that no stale report is left to mislead a reader).
    """
    root = job.root
    kernels = list(kernels) if kernels is not None else job_kernels(job)
    state = provenance.load_state(job.state_dir)
    notebooks: dict[str, Any] = dict(state.get("notebooks", {}))
    outcome: dict[str, NotebookResult] = {}

    def emit_(*event: Any) -> None:
        if emit:
            emit(*event)

    def execute(kernel: WarmKernel, task: Task) -> tuple[Status, str, float]:
        emit_("start", task.label, task.notebook)
        t0 = time.perf_counter()
        status, message = execute_task(kernel, task, job.timeout)
        seconds = time.perf_counter() - t0
        emit_("end", task.label, task.notebook, status, seconds)
        return status, message, seconds

    for stage in _stages(job.tasks):
        runnable = []
        for task in stage:
            blocked = [d for d in task.after if outcome[d].status in (FAILED, SKIPPED)]
            if blocked:
                reason = f"{blocked[0]} {outcome[blocked[0]].status}"
                notebooks[task.notebook] = {"status": SKIPPED, "reason": reason}
                for name in output_names(task.notebook):
                    (Path(task.out_dir) / name).unlink(missing_ok=True)
                outcome[task.notebook] = NotebookResult(task.label, task.notebook, SKIPPED, 0.0, reason)
                emit_("end", task.label, task.notebook, SKIPPED, 0.0)
            elif not job.force and _up_to_date(root, state, task):
                outcome[task.notebook] = NotebookResult(task.label, task.notebook, UP_TO_DATE)
                emit_("end", task.label, task.notebook, UP_TO_DATE, 0.0)
            else:
                runnable.append(task)
        if not runnable:
            continue
        if len(runnable) == 1 or len(kernels) == 1:
            for task in runnable:  # one at a time: every file is attributed to its writer
                before = provenance.snapshot(root, job.watch)
                status, message, seconds = execute(kernels[0], task)
                wrote = provenance.written_between(before, provenance.snapshot(root, job.watch))
                notebooks[task.notebook] = {"key": task.key, "status": status, "wrote": wrote}
                outcome[task.notebook] = NotebookResult(task.label, task.notebook, status, seconds, message)
        else:
            before = provenance.snapshot(root, job.watch)
            done = _side_by_side(kernels, runnable, execute)
            if job.finalize and any(status == OK for status, _, _ in done):
                try:
                    kernels[0].run_code(job.finalize)
                except Exception as exc:  # the workbook stays as the notebooks left it
                    done = [(s, m or f"finalizing the workbook: {_describe(exc)}", t) for s, m, t in done]
            wrote = provenance.written_between(before, provenance.snapshot(root, job.watch))
            for task, (status, message, seconds) in zip(runnable, done, strict=True):
                notebooks[task.notebook] = {"key": task.key, "status": status, "wrote": wrote}
                outcome[task.notebook] = NotebookResult(task.label, task.notebook, status, seconds, message)
        _save_state(job, notebooks)
    _save_state(job, notebooks)
    results = [outcome[t.notebook] for t in job.tasks]
    if not job.audit:
        return results
    emit_("start", job.label, AUDIT_STEP)
    try:
        return audit_and_publish(Project(Path(root)), job.label, results, job.audit_threads)
    finally:
        emit_("end", job.label, AUDIT_STEP)


def _side_by_side(kernels: Sequence[WarmKernel], tasks: Sequence[Task],
                  execute: Callable[[WarmKernel, Task], tuple[Status, str, float]],
                  ) -> list[tuple[Status, str, float]]:
    """Run ``tasks`` concurrently, each on whichever kernel is free; results in task order."""
    free: queue.Queue[WarmKernel] = queue.Queue()
    for k in kernels:
        free.put(k)

    def on_free_kernel(task: Task) -> tuple[Status, str, float]:
        kernel = free.get()
        try:
            return execute(kernel, task)
        finally:
            free.put(kernel)

    with ThreadPoolExecutor(min(len(kernels), len(tasks))) as threads:
        return list(threads.map(on_free_kernel, tasks))


def _save_state(job: Job, notebooks: Mapping[str, Any]) -> None:
    """State file: per notebook its key, status and the files it wrote; per file its current hash."""
    names = sorted({f for e in notebooks.values() for f in e.get("wrote", ())})
    provenance.save_state(job.state_dir, {"notebooks": dict(notebooks),
                                          "files": provenance.hash_files(job.root, names)})


# -- audit before publication ---------------------------------------------------------------

_PATHS_LOCK = threading.Lock()


@contextlib.contextmanager
def library_paths(root: str | os.PathLike[str]) -> Iterator[None]:
    """Point :mod:`genomlysning.paths` at the project ``root`` while the block runs (the audit reads
    ``reports/`` through it; a worker's own ``paths`` may be anchored elsewhere). One at a time."""
    base = Path(root).resolve()
    values = {"PROJECT_ROOT": base, "DATA_RAW": base / "data" / "raw",
              "DATA_PROCESSED": base / "data" / "processed", "PARAMS_DIR": base / "params",
              "NOTEBOOKS_DIR": base / "notebooks", "REPORTS_DIR": base / "reports"}
    with _PATHS_LOCK:
        saved = {name: getattr(paths, name) for name in values}
        try:
            for name, value in values.items():
                setattr(paths, name, value)
            yield
        finally:
            for name, value in saved.items():
                setattr(paths, name, value)


def withheld_dir(project: Project, label: str) -> Path:
    """``data/processed/<label>/tillbakahallet/``: where a withheld unit's reports are kept."""
    return project.processed_dir(label) / WITHHELD_DIR


def is_withheld(project: Project, label: str) -> bool:
    """True when the unit's last audit withheld it (its marker is there)."""
    return (withheld_dir(project, label) / WITHHELD_FILE).is_file()


def _move_folder(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst`` (which must not exist): one rename where possible, so that no part of
    the unit stays readable under reports/; copy-then-delete across file systems."""
    try:
        os.rename(src, dst)
    except OSError:
        shutil.move(str(src), str(dst))


def withhold(project: Project, label: str, reason: str, details: str = "") -> Path:
    """Take ``reports/<label>/`` down: move it to :func:`withheld_dir` (replacing an older copy),
    with :data:`WITHHELD_FILE` (why) and :data:`WITHHELD_REPORT` (the audit's text) beside it."""
    target = withheld_dir(project, label)
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    source = project.report_dir(label)
    if source.exists():
        _move_folder(source, target)
    target.mkdir(parents=True, exist_ok=True)
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    marker = {"enhet": label, "orsak": reason, "filer": files}
    (target / WITHHELD_FILE).write_text(json.dumps(marker, ensure_ascii=False, indent=1) + "\n",
                                        encoding="utf-8")
    (target / WITHHELD_REPORT).write_text(details + "\n", encoding="utf-8")
    return target


def _drop_withheld(project: Project, label: str) -> None:
    """Remove an older withheld copy of a unit that is published now."""
    if withheld_dir(project, label).exists():
        shutil.rmtree(withheld_dir(project, label))


def _listed(text: str, limit: int = MAX_LISTED) -> str:
    """The audit text (:func:`genomlysning.audit.describe`) cut to ``limit`` listed cells."""
    lines = text.splitlines()
    if len(lines) <= limit + 1:
        return text
    return "\n".join([*lines[:limit + 1], f"  ... och {len(lines) - limit - 1} till"])


def audit_and_publish(project: Project, label: str, results: Sequence[NotebookResult],
                      threads: int = 1) -> list[NotebookResult]:
    """Audit the unit ``label`` as published under ``reports/<label>/`` (if it has ledger
    definitions); withhold it when it discloses a small count or the audit fails. The comparison's
    audit covers every compared unit: ``threads`` of them at once (HiGHS solves without the GIL).

    Returns ``results`` followed by the audit's row (:data:`AUDIT_STEP`, its seconds, status ok or
    failed with a Swedish message naming the unit and the disclosed cells); a withheld unit's
    notebooks are marked failed. A unit that is not withheld loses any older withheld copy.
    """
    from genomlysning import audit

    out = list(results)
    t0 = time.perf_counter()
    failure: str | None = None
    with library_paths(project.root):
        members = audit.compared_units() if label == CROSS_LABEL else [label]
        if not any(audit.ledger_files(m) for m in [*members, label]):
            _drop_withheld(project, label)
            return out
        try:
            # a municipality is audited without the comparison's rows about it (04 may be stale
            # until it runs again); the comparison is audited through every municipality it covers
            if label == CROSS_LABEL:
                with ThreadPoolExecutor(max(1, min(threads, len(members)))) as pool:
                    founds = list(pool.map(audit.audit_unit, members))
                founds += [audit.audit_unit(label)] if audit.ledger_files(label) else []
            else:
                founds = [audit.audit_unit(label, exclude=(audit.COMPARISON,))]
            details = "\n".join(audit.describe(f, verbose=True) for f in founds)
            listed = "\n".join(audit.describe(f) for f in founds if not f.ok)
            found = audit.UnitAudit(label, [r for f in founds for r in f.rows], sum(f.hidden for f in founds),
                                    sum(f.seconds for f in founds))
            if not found.ok:
                n = sum(r.disclosed for r in found.rows)
                failure = (f"röjandegranskningen fann {n} {'litet antal' if n == 1 else 'små antal'} "
                           "som kan räknas fram ur det publicerade")
        except Exception as exc:
            failure = f"röjandegranskningen kunde inte genomföras ({_describe(exc)})"
            details = listed = failure
    seconds = time.perf_counter() - t0
    if failure is None:
        _drop_withheld(project, label)
        note = f"{found.hidden} dolda celler, inga röjda"
        return [*out, NotebookResult(label, AUDIT_STEP, OK, seconds, note)]
    target = withhold(project, label, failure, details)
    if label == CROSS_LABEL:  # its rows about each municipality are gone with it
        for m in members:
            (project.report_dir(m) / "ledger" / f"{audit.COMPARISON}.json").unlink(missing_ok=True)
    message = (f"{label}: TILLBAKAHÅLLEN – {failure}. Inget av {label} publiceras; filerna ligger i "
               f"{project.rel(target)}/ (publiceras aldrig; hela granskningen i {WITHHELD_REPORT}).\n"
               f"{_listed(listed)}")
    out = [replace(r, status=FAILED, message=WITHHELD_NOTE) if r.status in (OK, UP_TO_DATE) else r
           for r in out]
    return [*out, NotebookResult(label, AUDIT_STEP, FAILED, seconds, message)]


# -- local process pool ----------------------------------------------------------------------

_EVENTS: Any = None


def _queue_emit(*event: Any) -> None:
    if _EVENTS is not None:
        _EVENTS.put(event)


def _pool_init(events: Any, root: str, prewarm: tuple[str, ...], reuse: bool, kernels: int) -> None:
    """Pool worker start: remember the event queue and start this worker's kernels right away."""
    global _EVENTS
    _EVENTS = events
    quiet_imports()
    multiprocessing.util.Finalize(None, shutdown_kernels, exitpriority=10)
    for slot in range(kernels):
        kernel_for(str(Path(root) / "notebooks"), _worker_env(root), prewarm, reuse, slot=slot)
    threading.Thread(target=_exporter, daemon=True).start()  # import nbconvert while the kernel starts


def _pool_run(job: Job) -> list[NotebookResult]:
    return run_job(job, emit=_queue_emit)


def _dask_plugin() -> Any:
    from distributed import WorkerPlugin

    class GenomlysningKernels(WorkerPlugin):
        """Shut the warm kernels down when a Dask worker closes."""

        name = "genomlysning-kernels"

        def teardown(self, worker: Any) -> None:
            shutdown_kernels()

    return GenomlysningKernels()


# ---------------------------------------------------------------------------------------------
# Progress


class _Progress:
    """tqdm bar over notebooks; the description shows what is running."""

    def __init__(self, total: int, enabled: bool | None) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, unit="nb", desc="genomlysning", dynamic_ncols=True,
                        disable=None if enabled is None else not enabled)
        self.running: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, kind: str, label: str, notebook: str, status: str | None = None,
                 seconds: float | None = None) -> None:
        name = f"{label}/{notebook}"
        with self.lock:
            if kind == "start":
                self.running.append(name)
            else:
                if name in self.running:
                    self.running.remove(name)
                if notebook != AUDIT_STEP:  # the bar counts notebooks
                    self.bar.update(1)
            self.bar.set_postfix_str(("kör " + ", ".join(self.running)) if self.running else "", refresh=True)

    def close(self) -> None:
        self.bar.close()


def _drain(events: Any, progress: _Progress, stop: threading.Event) -> None:
    while not stop.is_set() or not events.empty():
        try:
            event = events.get(timeout=0.2)
        except queue.Empty:
            continue
        progress(*event)


# ---------------------------------------------------------------------------------------------
# The run


def prewarm_modules(notebooks: Sequence[NotebookSpec]) -> tuple[str, ...]:
    """Modules a warm kernel imports up front: the whole library (hence every third-party module it
    uses) and every module the notebooks import."""
    import ast

    import nbformat

    names = {"genomlysning"} | {f"genomlysning.{p.stem}" for p in provenance.package_dir().glob("*.py")
                                if p.stem not in ("__init__", "__main__", "cli")}
    names.add("matplotlib.pyplot")
    for spec in notebooks:
        nb = nbformat.read(spec.path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            source = "\n".join(line for line in cell.source.splitlines()
                               if not line.lstrip().startswith(("%", "!")))
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names.update(a.name for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module)
    return tuple(sorted(names))


def _resolve_workers(jobs: int | None, n: int) -> int:
    cores = os.cpu_count() or 1
    return max(1, min(jobs or cores, n))


def run(kommuner: Sequence[str] | None = None, jobs: int | None = None, scheduler: str | None = None,
        force: bool = False, *, root: str | os.PathLike[str] | None = None, progress: bool | None = None,
        prewarm: bool = True, reuse_kernels: bool = True, timeout: int | None = CELL_TIMEOUT,
        only: Sequence[str] | None = None, overrides: Mapping[str, Any] | None = None,
        cross: bool = True, index: bool = True, audit: bool = True) -> RunSummary:
    """Run the notebooks for ``kommuner`` (default: every params file), then the cross notebooks.

    ``jobs``: local worker processes (default: cores; never more than municipalities with work);
    ``scheduler``: a Dask scheduler address instead; ``force``: ignore up-to-date state;
    ``root``: project root (default ``genomlysning.paths.PROJECT_ROOT``); ``progress``: tqdm bar
    (None: only on a terminal); ``prewarm``/``reuse_kernels``: kernel reuse (see
    :mod:`genomlysning.kernel`); ``only``/``overrides``: run only these notebooks with these extra
    parameters (``genomlysning clean``); ``cross``/``index``: run the cross notebooks / write
    ``reports/index.html``; ``audit``: audit each unit after its notebooks and withhold it when
    it discloses (:func:`audit_and_publish`). Raises :class:`ParamsError` (bad params) or
    :class:`RunnerError` before anything runs. No kernel or worker is started when everything is
    up to date (an up-to-date unit passed its audit when it was written).
    """
    project = Project(Path(root).resolve() if root is not None else paths.PROJECT_ROOT)
    notebooks = discover_notebooks(project)
    if not notebooks:
        raise RunnerError(f"no notebooks ({NOTEBOOK_GLOB}) in {project.rel(project.notebooks_dir)}")
    names = list(dict.fromkeys(kommuner)) if kommuner else project.kommuner()
    if not names:
        raise RunnerError(f"no params files in {project.rel(project.params_dir)}; run "
                          "`genomlysning demo-data` or write params/<kommun>.yaml")
    loaded = check_params(project, names, notebooks)
    warm = prewarm_modules(notebooks) if prewarm and reuse_kernels else ()
    env = provenance.environment()
    planned = [plan_kommun(project, notebooks, k, loaded[k], env, force=force, only=only,
                           overrides=overrides, prewarm=warm, reuse=reuse_kernels, timeout=timeout)
               for k in names]
    kommun_jobs = [replace(job, audit=audit) for job, _ in planned]
    chains = {job.label: chain for job, chain in planned}
    n_cross = sum(nb.role.scope == "alla" for nb in notebooks) if cross and only is None else 0
    summary = RunSummary()
    bar = _Progress(sum(len(j.tasks) for j in kommun_jobs) + n_cross, progress)
    executor = _Executor(project, jobs, scheduler, warm, reuse_kernels, bar)
    try:
        by_kommun = executor.run(kommun_jobs)
        for k in names:
            summary.results.extend(by_kommun.get(k, []))
        if n_cross:
            ready = [k for k in names if by_kommun.get(k) and
                     all(r.status in (OK, UP_TO_DATE) for r in by_kommun[k])]
            cross_job, skipped = plan_cross(project, notebooks, loaded, chains, ready, env, force=force,
                                            prewarm=warm, reuse=reuse_kernels, timeout=timeout)
            # it runs alone, after every municipality: its audit may use every slot
            threads = max(1, jobs or os.cpu_count() or 1) if scheduler is None else 1
            if cross_job is not None:
                cross_job = replace(cross_job, audit=audit, audit_threads=threads)
            for r in skipped:
                bar("end", r.kommun, r.notebook, r.status, 0.0)
            cross_results = executor.run([cross_job]) if cross_job is not None else {}
            order = [nb.name for nb in notebooks]
            merged = cross_results.get(CROSS_LABEL, []) + skipped
            summary.results.extend(sorted(merged, key=lambda r: order.index(r.notebook)
                                          if r.notebook in order else len(order)))
    finally:
        bar.close()
        summary.kernels_started = executor.close()
    if index:
        from genomlysning import index as index_mod

        summary.index = index_mod.write_index(project.root)
    return summary


def _pending(job: Job) -> bool:
    """True when some task of ``job`` has to run (forced, changed, or its outputs changed)."""
    if job.force:
        return bool(job.tasks)
    state = provenance.load_state(job.state_dir)
    return any(not _up_to_date(job.root, state, t) for t in job.tasks)


class _Executor:
    """Where jobs run: kernels in this process, a local process pool, or a Dask cluster.

    Chosen and started on the first job that has work: ``jobs`` (default: cores) notebooks at a
    time, as one worker per pending municipality up to that many, and the spare capacity as extra
    kernels per worker for notebooks that may run side by side (one municipality on two cores runs
    02, 03 and 05 in two kernels). Jobs that are entirely up to date are answered here without
    starting anything.
    """

    def __init__(self, project: Project, jobs: int | None, scheduler: str | None, warm: tuple[str, ...],
                 reuse: bool, bar: _Progress) -> None:
        self.project, self.jobs, self.scheduler, self.warm, self.reuse, self.bar = (
            project, jobs, scheduler, warm, reuse, bar)
        self.kernels: list[WarmKernel] = []
        self.pool: ProcessPoolExecutor | None = None
        self.events: Any = None
        self.per_job = 1
        self.started = False

    def _start(self, pending: Sequence[Job]) -> None:
        if self.started:
            return
        self.started = True
        if self.scheduler is not None:
            return
        slots = max(1, self.jobs or os.cpu_count() or 1)
        workers = _resolve_workers(slots, len(pending))
        width = max((len(stage) for job in pending for stage in _stages(job.tasks)), default=1)
        self.per_job = max(1, min(slots // workers, width)) if self.reuse else 1
        root = str(self.project.root)
        if workers == 1:
            self.kernels = [WarmKernel(self.project.notebooks_dir, _worker_env(root), self.warm, self.reuse)
                            for _ in range(self.per_job)]
            for kernel in self.kernels:
                kernel.start()
            threading.Thread(target=_exporter, daemon=True).start()  # import nbconvert meanwhile
            return
        ctx = multiprocessing.get_context("spawn")
        self.events = ctx.Queue()
        self.pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_pool_init,
                                        initargs=(self.events, root, self.warm, self.reuse, self.per_job))

    def run(self, jobs: Sequence[Job]) -> dict[str, list[NotebookResult]]:
        """Run ``jobs``; return results by label."""
        out: dict[str, list[NotebookResult]] = {}
        pending = []
        for job in jobs:
            if _pending(job):
                pending.append(job)
                continue
            out[job.label] = [NotebookResult(t.label, t.notebook, UP_TO_DATE) for t in job.tasks]
            for t in job.tasks:
                self.bar("end", t.label, t.notebook, UP_TO_DATE, 0.0)
        if not pending:
            return out
        self._start(pending)
        pending = sorted((replace(j, kernels=self.per_job) for j in pending),
                         key=lambda j: -j.cost)  # biggest first: better load balance
        if self.scheduler is not None:
            out.update(_execute_dask(pending, self.scheduler, self.bar))
        elif self.kernels:
            for job in pending:
                out[job.label] = run_job(job, kernels=self.kernels, emit=self.bar)
        else:
            out.update(self._run_pool(pending))
        return out

    def _run_pool(self, jobs: Sequence[Job]) -> dict[str, list[NotebookResult]]:
        assert self.pool is not None
        out: dict[str, list[NotebookResult]] = {}
        stop = threading.Event()
        drainer = threading.Thread(target=_drain, args=(self.events, self.bar, stop), daemon=True)
        drainer.start()
        try:
            futures = {self.pool.submit(_pool_run, job): job for job in jobs}
            for fut in as_completed(futures):
                job = futures[fut]
                try:
                    out[job.label] = fut.result()
                except Exception as exc:  # the worker process itself died
                    out[job.label] = [NotebookResult(job.label, t.notebook, FAILED, 0.0, _describe(exc))
                                      for t in job.tasks]
        finally:
            stop.set()
            drainer.join()
        return out

    def close(self) -> int:
        """Stop the kernels or pool; return the number of kernels started in this process."""
        started = sum(k.kernels_started for k in self.kernels)
        for kernel in self.kernels:
            kernel.close()
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        return started


def _execute_dask(jobs: Sequence[Job], scheduler: str, bar: _Progress) -> dict[str, list[NotebookResult]]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    out: dict[str, list[NotebookResult]] = {}
    with Client(scheduler) as client:
        client.register_plugin(_dask_plugin(), name="genomlysning-kernels")
        run_id = uuid.uuid4().hex[:8]  # task names in the dashboard; unique per run
        futures = {client.submit(run_job, job, pure=False, key=f"genomlysning-{job.label}-{run_id}"): job
                   for job in jobs}
        for fut in dask_completed(list(futures)):
            job = futures[fut]
            try:
                results = fut.result()
            except Exception as exc:
                results = [NotebookResult(job.label, t.notebook, FAILED, 0.0, _describe(exc))
                           for t in job.tasks]
            for r in results:
                bar("end", r.kommun, r.notebook, r.status, r.seconds)
            out[job.label] = results
    return out


# ---------------------------------------------------------------------------------------------
# Command line


def cli_run(args: Any) -> int:
    """``genomlysning run``: run everything, print the summary table, exit 1 if anything failed."""
    try:
        summary = run(kommuner=args.kommun, jobs=args.jobs, scheduler=args.scheduler, force=args.force)
    except (params_mod.ParamsError, RunnerError) as exc:
        print(f"genomlysning run: {exc}", flush=True)
        return 2
    print(summary.table())
    if summary.index is not None:
        print(f"översikt: {paths.relative(summary.index)}")
    return summary.exit_code


#: The cleaning notebook run by ``genomlysning clean``.
CLEANING_NOTEBOOK = "01_cleaning"


def cli_clean(args: Any) -> int:
    """``genomlysning clean --kommun K [--input FILE]``: run the cleaning notebook, print the accounting."""
    project = Project(paths.PROJECT_ROOT)
    overrides: dict[str, Any] = {}
    if args.input:
        from genomlysning.ingest import IngestError, check_file_name

        src = Path(args.input).expanduser().resolve()
        try:  # before the name reaches the report's provenance cell
            check_file_name(os.path.relpath(src, project.root))
        except IngestError as exc:
            print(f"genomlysning clean: {exc}")
            return 2
        if not src.is_file():
            print(f"genomlysning clean: {args.input}: no such file")
            return 2
        overrides["input_path"] = os.path.relpath(src, project.root)
    try:
        # only the cleaning notebook runs: the published (audited) tables of 02 are unchanged
        summary = run(kommuner=[args.kommun], jobs=1, force=True, only=[CLEANING_NOTEBOOK],
                      overrides=overrides, cross=False, index=False, audit=False)
    except (params_mod.ParamsError, RunnerError) as exc:
        print(f"genomlysning clean: {exc}")
        return 2
    report = project.report_dir(args.kommun) / f"{CLEANING_NOTEBOOK}.ipynb"
    if summary.exit_code:
        print(summary.table())
        print(f"see {project.rel(report)} (and its .html) for the error")
        return summary.exit_code
    print(accounting_text(project, args.kommun))
    print(f"rapport: {project.rel(report)}")
    return 0


def accounting_text(project: Project, kommun: str) -> str:
    """One line: rows in = clean + quarantined, from data/processed/<kommun>/redovisning.json."""
    path = project.processed_dir(kommun) / "redovisning.json"
    try:
        acc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"{kommun}: {project.rel(path)} was not written by the cleaning notebook"
    rows_in, clean, quarantined = (acc.get(k) for k in ("rows_in", "rows_clean", "rows_quarantined"))
    check = "" if None in (rows_in, clean, quarantined) or rows_in == clean + quarantined \
        else "  (STÄMMER INTE: summan skiljer sig)"
    return (f"{kommun}: {rows_in} rader in = {clean} rena + {quarantined} i karantän{check} "
            f"({project.rel(path.parent)})")
