"""The ``genomlysning`` command.

Each sub-command is a thin wrapper: it parses arguments and hands them to ``cli_<name>(args)`` in the
module that owns the stage, imported lazily so that ``genomlysning --help`` is fast.

No traceback reaches a user: an error that a stage did not report itself is printed by
:func:`main` as one or two lines (personnummer masked) with exit code 1 (130 when interrupted);
``GENOMLYSNING_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

#: Set to 1 to let an unexpected error raise with its traceback (for developers).
DEBUG_ENV = "GENOMLYSNING_DEBUG"
#: Errors whose message is written for a user (it names the file, key or row): printed as they are.
USER_ERRORS: tuple[str, ...] = ("ParamsError", "IngestError", "PathError", "KeyMissingError",
                                "SyntheticDataError", "RunnerError", "FileNotFoundError")


def _add_template(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("template", help="write the Excel data-entry template (from the schema)")
    p.add_argument("path", help="where to write the .xlsx file")
    p.add_argument("--lang", choices=("sv", "en"), default="sv", help="language of the doc sheet")
    p.set_defaults(_module="genomlysning.template", _func="cli_template")


def _add_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a data file and print the validation report "
                       "(writes nothing; exit 1 on fatal problems)")
    p.add_argument("file", help="the template .xlsx or a .csv export")
    p.add_argument("--params", help="params/<kommun>.yaml with a column/value mapping")
    p.set_defaults(_module="genomlysning.clean", _func="cli_validate")


def _add_map(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("map", help="describe every column of an export (distinct values, shown safely) "
                       "and print a draft params mapping: block, a comment on every guess")
    p.add_argument("file", help="a .csv or .xlsx export")
    p.add_argument("--params", help="params file (only its encoding, separator, sheet and k are used)")
    p.set_defaults(_module="genomlysning.suggest", _func="cli_map")


def _add_example(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("example-export", help="write the worked example of a case-system export "
                       "(synthetic rows; Windows-1252, semicolons, the system's own wording)")
    p.add_argument("path", help="where to write the .csv (e.g. data/raw/exempelby/export.csv)")
    p.add_argument("--rows", type=int, default=2000, help="about this many rows (default: %(default)s)")
    p.add_argument("--seed", type=int, default=20261122, help="random seed (default: %(default)s)")
    p.set_defaults(_module="genomlysning.worked_example", _func="cli_example_export")


def _add_clean(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clean", help="run the cleaning notebook for one municipality (papermill) "
                       "and print the accounting")
    p.add_argument("--kommun", required=True, help="municipality (params/<kommun>.yaml)")
    p.add_argument("--input", help="override the input file named in the params file")
    p.set_defaults(_module="genomlysning.runner", _func="cli_clean")


def _add_prepare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="clean raw data into data/processed with library calls "
                       "only (no notebook); default: every municipality in params/")
    p.add_argument("--kommun", action="append", help="municipality (repeatable)")
    p.set_defaults(_module="genomlysning.clean", _func="cli_prepare")


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo-data", help="write synthetic demo municipalities into data/raw and "
                       "params/")
    p.add_argument("--seed", type=int, default=20261122, help="random seed (default: %(default)s)")
    p.add_argument("--dirty", type=float, default=None,
                   help="share of rows with injected entry errors (default: each demo municipality's "
                   "own share: norrvik 0.01, the others 0)")
    p.add_argument("--national", type=int, default=0, metavar="N",
                   help="also write one national-size CSV of about N rows (benchmarks)")
    p.add_argument("--only", action="append", help="only this demo municipality (repeatable; also "
                   "the tiny test municipality pyttby, which is not written by default)")
    p.add_argument("--force", action="store_true", help="write the demo municipalities even when params/ "
                   "holds own (non-synthetic) data; by default they are then not written")
    p.set_defaults(_module="genomlysning.synth", _func="cli_demo_data")


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run every notebook for every (or the named) municipality")
    p.add_argument("--kommun", action="append", help="municipality (repeatable; default: all)")
    p.add_argument("--jobs", type=int, help="parallel workers (default: number of cores)")
    p.add_argument("--scheduler", help="address of a Dask distributed scheduler")
    p.add_argument("--force", action="store_true", help="rerun even if outputs are up to date")
    p.set_defaults(_module="genomlysning.runner", _func="cli_run")


def _add_audit(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="attack the published reports: feasible range of every hidden "
                       "cell from the published tables and the ledger's definitions (exit 1 if a "
                       "small count is disclosed)")
    p.add_argument("--kommun", action="append", help="publication unit under reports/ (repeatable; "
                   "default: all)")
    p.add_argument("--verbose", action="store_true", help="print every hidden cell, not only disclosures")
    p.set_defaults(_module="genomlysning.audit", _func="cli_audit")


def _add_test(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("test", help="run every test of the source checkout, as `make test` does: demo "
                       "data, ruff, pytest tests/, nbval of the notebooks in a throw-away project .nbval/")
    p.add_argument("--no-demo-data", action="store_true",
                   help="use the demo data already in data/ (do not write and clean it first)")
    p.add_argument("--only", action="append", choices=("demo-data", "prepare", "ruff", "pytest", "nbval"),
                   help="run only this step (repeatable; default: every step)")
    p.set_defaults(_module="genomlysning.selftest", _func="cli_test")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``genomlysning`` command."""
    parser = argparse.ArgumentParser(
        prog="genomlysning",
        description="Reproducible genomlysning of social services for children and young people.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_template, _add_validate, _add_map, _add_example, _add_clean, _add_prepare, _add_demo,
                _add_run, _add_audit, _add_test):
        add(sub)
    return parser


def error_message(command: str, exc: BaseException) -> str:
    """The lines printed for an error that reached :func:`main` (personnummer masked)."""
    from genomlysning import personnummer

    text = personnummer.mask(str(exc).strip()) or type(exc).__name__
    if type(exc).__name__ in USER_ERRORS:
        return f"genomlysning {command}: {text}"
    if isinstance(exc, MemoryError):
        return (f"genomlysning {command}: minnet tog slut; dela upp filen eller spara den som CSV, eller "
                "sänk max_cells / max_xlsx_mb i params-filen")
    first = text.splitlines()[0][:300]
    return (f"genomlysning {command}: oväntat fel ({type(exc).__name__}): {first}\n"
            f"  Kör igen med {DEBUG_ENV}=1 för hela felspårningen och rapportera den.")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse ``argv`` and dispatch to the owning module; an unexpected error becomes
    a short message and exit code 1 (see the module docstring)."""
    args = build_parser().parse_args(argv)
    try:
        func = getattr(importlib.import_module(args._module), args._func)
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print(f"genomlysning {args.command}: avbrutet", flush=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        print(error_message(args.command, exc), flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
