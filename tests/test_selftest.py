"""The path without make: ``genomlysning test`` (selftest), bootstrap.py, scripts/check_lock.py."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from genomlysning import cli, selftest

REPO = Path(__file__).resolve().parents[1]


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_steps_are_those_of_make_test() -> None:
    todo = selftest.steps(Path("/x"), python="py")
    assert [s.name for s in todo] == ["demo-data", "prepare", "ruff", "pytest", "nbval"]
    by = {s.name: s for s in todo}
    assert by["demo-data"].argv == ["py", "-m", "genomlysning.cli", "demo-data", "--seed", "20261122"]
    assert by["ruff"].argv[1:5] == ["-m", "ruff", "check", "lib"] and "bootstrap.py" in by["ruff"].argv
    assert by["pytest"].argv[1:4] == ["-m", "pytest", "tests"]
    assert "--nbval" in by["nbval"].argv and by["nbval"].argv[3] == "notebooks"
    own = {"GENOMLYSNING_ROOT": str(Path("/x") / ".nbval")}
    assert by["nbval"].env == by["pytest"].env == by["demo-data"].env == by["prepare"].env == own
    assert by["ruff"].env == {}
    assert [s.name for s in selftest.steps(Path("/x"), demo_data=False)][0] == "ruff"
    # the Makefile's seed and test target are the same as this command's
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert f"SEED ?= {selftest.DEMO_SEED}" in makefile
    assert "\t$(PY) -m genomlysning.cli test\n" in makefile


def test_nbval_project_is_made_anew(tmp_path: Path) -> None:
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "a.yaml").write_text("kommun: a\n", encoding="utf-8")
    for name in ("raw", "processed"):
        (tmp_path / "data" / name).mkdir(parents=True)
        (tmp_path / "data" / name / "f.txt").write_text(name, encoding="utf-8")
    stale = tmp_path / ".nbval" / "reports" / "a"
    stale.mkdir(parents=True)
    (stale / "results.json").write_text("{}", encoding="utf-8")
    (tmp_path / ".nbval" / "params").mkdir()
    (tmp_path / ".nbval" / "params" / "old.yaml").write_text("kommun: old\n", encoding="utf-8")
    project = selftest.nbval_project(tmp_path)
    assert not (project / "reports").exists()
    assert sorted(p.name for p in (project / "params").iterdir()) == ["a.yaml"]
    assert (project / "data" / "raw" / "f.txt").read_text(encoding="utf-8") == "raw"
    assert (project / "data" / "processed" / "f.txt").read_text(encoding="utf-8") == "processed"
    selftest.nbval_project(tmp_path)  # again: the links are removed, not the data behind them
    assert (tmp_path / "data" / "raw" / "f.txt").is_file()


def test_run_steps_stops_at_the_first_failure_with_its_code(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    mark = tmp_path / "ran"
    todo = [selftest.Step("ok", [sys.executable, "-c", "import os; assert os.environ['X'] == '1'"],
                          env={"X": "1"}),
            selftest.Step("bad", [sys.executable, "-c", "raise SystemExit(3)"]),
            selftest.Step("never", [sys.executable, "-c", f"open({str(mark)!r}, 'w')"])]
    assert selftest.run_steps(tmp_path, todo) == 3
    assert not mark.exists()
    assert "bad failed (exit 3)" in capsys.readouterr().out
    assert selftest.run_steps(tmp_path, todo[:1]) == 0


def test_cli_has_the_test_command() -> None:
    args = cli.build_parser().parse_args(["test", "--no-demo-data", "--only", "nbval"])
    assert args._module == "genomlysning.selftest" and args.no_demo_data and args.only == ["nbval"]
    assert {s.name for s in selftest.steps(Path("."))} == set(cli.build_parser()._subparsers._group_actions[0]
                                                              .choices["test"]._option_string_actions["--only"]
                                                              .choices)


def test_bootstrap_venv_and_reinstall_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    boot = _load(REPO / "bootstrap.py")
    monkeypatch.setattr(boot.os, "name", "nt")
    assert boot.venv_python(tmp_path) == tmp_path / "Scripts" / "python.exe"
    monkeypatch.setattr(boot.os, "name", "posix")
    assert boot.venv_python(tmp_path) == tmp_path / "bin" / "python"
    assert boot.needs_install(tmp_path)  # no interpreter, no stamp
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text("", encoding="utf-8")
    assert boot.needs_install(tmp_path)  # no stamp
    stamp = tmp_path / ".installed"
    stamp.touch()
    newest = max((REPO / n).stat().st_mtime for n in ("requirements.lock", "pyproject.toml"))
    os.utime(stamp, (newest + 10, newest + 10))
    assert not boot.needs_install(tmp_path)
    os.utime(stamp, (newest - 10, newest - 10))
    assert boot.needs_install(tmp_path)  # the lock changed after the install
    assert boot.main([]) == 2 and boot.main(["nonsense"]) == 2


def test_check_lock_finds_unpinned_and_other_versions() -> None:
    check = _load(REPO / "scripts" / "check_lock.py")
    pinned = check.pins("# c\nPyYAML==6.0.3\naiohttp==3.14.5 ; python_version == \"3.12\"\n\nx-y.z==1 # c\n")
    assert pinned == {"pyyaml": "6.0.3", "aiohttp": "3.14.5", "x-y-z": "1"}
    report = {"install": [{"metadata": {"name": "pyyaml", "version": "6.0.3"}},
                          {"metadata": {"name": "AioHTTP", "version": "3.15.0"}},
                          {"metadata": {"name": "yarl", "version": "1.0"}}]}
    assert check.unpinned(report, pinned) == ["aiohttp==3.15.0 (lock: 3.14.5)",
                                              "yarl==1.0 (lock: not pinned)"]
    assert check.unpinned({"install": report["install"][:1]}, pinned) == []
    lock = check.pins((REPO / "requirements.lock").read_text(encoding="utf-8"))
    assert {"pandas", "papermill", "aiohttp", "setuptools"} <= set(lock)


def test_a_kernel_closes_after_its_executor_shut_down(tmp_path: Path) -> None:
    """At interpreter exit on Python 3.12+ the executor is shut down before the runner's exit hook
    closes the kernels: closing must not raise (it printed a traceback after every run on 3.13)."""
    from genomlysning import kernel

    warm = kernel.WarmKernel(tmp_path)
    warm._thread.shutdown(wait=True)
    warm.close()
    warm.close()  # idempotent
