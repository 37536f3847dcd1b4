"""``genomlysning test``: every test of a source checkout, the same steps as ``make test``, without make.

The steps (:func:`steps`) are those of the Makefile's ``test`` target, all in the tests' own project
``.nbval/`` (:func:`demo_project`, untouched by a user's params and data): the demo data (unless
``--no-demo-data``, which reuses the checkout's own demo data: :func:`nbval_project`), ruff, pytest
of ``tests/``, the notebooks' regression tests (nbval) from an empty reports/. Each step runs with
the interpreter that runs this command, so it works the same on Windows, macOS and Linux; the first
step that fails ends the run with its exit code.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: The demo data's seed, as in the Makefile (SEED) and ``genomlysning demo-data``.
DEMO_SEED = 20261122
#: The throw-away project of the notebooks' regression tests (gitignored), as in the Makefile.
NBVAL_ROOT = ".nbval"
#: One BLAS thread per process, as the Makefile exports (see there).
THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Step:
    """One command of the test run: what it is called, its arguments, extra environment."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def source_root() -> Path:
    """The repository this package was installed from (editable install): ``lib/genomlysning/..``."""
    return Path(__file__).resolve().parents[2]


def steps(root: Path, python: str = sys.executable, demo_data: bool = True) -> list[Step]:
    """The commands of ``make test`` for the checkout at ``root``, run with ``python``: every test
    runs in the project ``root/.nbval`` (GENOMLYSNING_ROOT), untouched by the user's params and data."""
    cli = [python, "-m", "genomlysning.cli"]
    own = {"GENOMLYSNING_ROOT": str(root / NBVAL_ROOT)}
    out: list[Step] = []
    if demo_data:
        out += [Step("demo-data", [*cli, "demo-data", "--seed", str(DEMO_SEED)], env=own),
                Step("prepare", [*cli, "prepare"], env=own)]
    out += [
        Step("ruff", [python, "-m", "ruff", "check", "lib", "tests", "scripts", "bootstrap.py"]),
        Step("pytest", [python, "-m", "pytest", "tests", "-p", "no:cacheprovider"], env=own),
        Step("nbval", [python, "-m", "pytest", "notebooks", "--nbval", "--nbval-sanitize-with",
                       str(Path("tests") / "nbval_sanitize.cfg"), "-p", "no:cacheprovider"], env=own),
    ]
    return out


def _link_or_copy(target: Path, link: Path) -> None:
    """A symbolic link ``link`` -> ``target``; a copy where links are not allowed (Windows without
    developer mode)."""
    try:
        link.symlink_to(target, target_is_directory=True)
    except OSError:
        shutil.copytree(target, link)


def _fresh(project: Path) -> None:
    """Remove ``project`` (links are removed, not the data behind them)."""
    if project.is_symlink() or project.is_file():
        project.unlink()
    elif project.exists():
        for link in (project / "data" / "raw", project / "data" / "processed", project / "notebooks"):
            if link.is_symlink():
                link.unlink()
        shutil.rmtree(project)


def demo_project(root: Path) -> Path:
    """Make the tests' own project ``root/.nbval`` anew for the demo data: empty params/, a link to
    the notebooks, no data, no reports (``demo-data`` and ``prepare`` then fill it)."""
    project = root / NBVAL_ROOT
    _fresh(project)
    (project / "params").mkdir(parents=True)
    _link_or_copy((root / "notebooks").resolve(), project / "notebooks")
    return project


def nbval_project(root: Path) -> Path:
    """Make the throw-away project ``root/.nbval`` anew from the checkout's own demo data (for
    ``--no-demo-data``): a copy of params/, links to data/raw and data/processed and the notebooks,
    no reports/. Returns its folder."""
    project = root / NBVAL_ROOT
    _fresh(project)
    (project / "data").mkdir(parents=True)
    shutil.copytree(root / "params", project / "params")
    for name in ("raw", "processed"):
        _link_or_copy((root / "data" / name).resolve(), project / "data" / name)
    _link_or_copy((root / "notebooks").resolve(), project / "notebooks")
    return project


def run_steps(root: Path, todo: list[Step]) -> int:
    """Run ``todo`` in ``root`` one after the other; the exit code of the first that fails, else 0."""
    project = root / NBVAL_ROOT
    for step in todo:
        if step.name == "demo-data":
            demo_project(root)
        elif NBVAL_ROOT in step.env.get("GENOMLYSNING_ROOT", "") and not project.is_dir():
            nbval_project(root)
        if step.name == "nbval":  # the notebooks start from no reports, as on a fresh clone
            shutil.rmtree(project / "reports", ignore_errors=True)
        print(f"genomlysning test: {step.name}: {' '.join(step.argv[1:])}", flush=True)
        env = {**os.environ, **THREAD_ENV, **step.env}
        code = subprocess.run(step.argv, cwd=root, env=env).returncode
        if code != 0:
            print(f"genomlysning test: {step.name} failed (exit {code})", flush=True)
            return code
    print("genomlysning test: all steps passed", flush=True)
    return 0


def cli_test(args: argparse.Namespace) -> int:
    """``genomlysning test [--no-demo-data] [--only STEP ...]``: run every test of the source checkout (or
    only the named steps, e.g. ``--only nbval``)."""
    root = source_root()
    if not (root / "tests").is_dir() or not (root / "notebooks").is_dir():
        print(f"genomlysning test: {root} is not a source checkout (no tests/ or notebooks/); install the "
              "repository with `pip install -e .` to run its tests")
        return 2
    todo = steps(root, demo_data=not args.no_demo_data)
    if args.only:
        todo = [s for s in todo if s.name in args.only]
    return run_steps(root, todo)
