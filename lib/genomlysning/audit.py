"""``genomlysning audit``: attack what was published, as a reader with only ``reports/`` would.

For each publication unit (``reports/<kommun>/``) the audit reads the published tables and the
ledger's cell definitions (``reports/<kommun>/ledger/*.json``: dimensions and definitions, no
data; 04_compare's ``04.json`` names the unit's rows in ``reports/jamforelse/``), rebuilds the
attacker's integer program (:func:`genomlysning.ledger.audit_ranges`) and prints, per table,
every hidden cell and every derivable disjoint cell that could be small, with its feasible range.
A range inside [1, k-1] that is narrower than [1, k-1] discloses a small count: the audit then
exits 1.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from genomlysning import ledger, paths, report


@dataclass(frozen=True)
class UnitAudit:
    """The audit of one publication unit."""

    kommun: str
    rows: list[ledger.AuditRow]
    hidden: int
    seconds: float

    @property
    def ok(self) -> bool:
        """No small count disclosed."""
        return not any(r.disclosed for r in self.rows)


def ledger_files(kommun: str) -> list[Path]:
    """The ledger definition files of a unit (one per notebook that registered tables)."""
    folder = report.ledger_dir(kommun)
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def published(kommun: str, before: str | None = None,
              exclude: Sequence[str] = ()) -> tuple[list[dict], dict[str, pd.DataFrame]]:
    """The unit's ledger definitions (those of notebooks numbered before ``before``, e.g.
    ``"03"``, if given; none of the notebooks ``exclude``) and the published tables they name, as
    read back from reports/. A table name ``<unit>/<table>`` is a table another unit published
    with rows about this one (04_compare's ``jamforelse/04_nyckeltal``)."""
    files: list[dict] = []
    tables: dict[str, pd.DataFrame] = {}
    for path in ledger_files(kommun):
        if (before is not None and path.stem >= before) or path.stem in exclude:
            continue
        definitions = json.loads(path.read_text(encoding="utf-8"))
        files.append(definitions)
        for t in definitions["tables"]:
            frame, _ = report.read_table(kommun, t["name"])
            tables[t["name"]] = frame
    return files, tables


def audit_unit(kommun: str, exclude: Sequence[str] = ()) -> UnitAudit:
    """Audit ``reports/<kommun>/`` from its published tables and all its ledger definitions
    (but those of the notebooks ``exclude``), merged into one attacker's model (a channel between
    notebooks is found too)."""
    start = time.perf_counter()
    files, tables = published(kommun, exclude=exclude)
    rows = ledger.audit_ranges(ledger.merge(files), tables) if files else []
    hidden = sum(r.kind == "dold" for r in rows)
    return UnitAudit(kommun, rows, hidden, time.perf_counter() - start)


#: The comparison notebook: its ledger files sit in each municipality's ledger folder.
COMPARISON = "04"


def compared_units() -> list[str]:
    """Municipalities with rows in the comparison (a ``ledger/04.json`` of their own)."""
    if not paths.REPORTS_DIR.is_dir():
        return []
    return sorted(p.parents[1].name for p in paths.REPORTS_DIR.glob(f"*/ledger/{COMPARISON}.json"))


def units() -> list[str]:
    """Publication units under reports/ that carry ledger definitions."""
    if not paths.REPORTS_DIR.is_dir():
        return []
    return sorted(p.name for p in paths.REPORTS_DIR.iterdir() if p.is_dir() and ledger_files(p.name))


def _fmt(x: float) -> str:
    return "inf" if x == float("inf") else f"{x:g}"


def describe(result: UnitAudit, verbose: bool = False) -> str:
    """Text report: per table the hidden cells and their ranges; disclosures first."""
    lines = [f"{result.kommun}: {result.hidden} dolda celler, "
             f"{sum(r.kind == 'atom' for r in result.rows)} härledbara delceller granskade, "
             f"{sum(r.disclosed for r in result.rows)} röjda ({result.seconds:.1f} s)"]
    for r in sorted(result.rows, key=lambda r: (not r.disclosed, r.table, r.cell)):
        if r.disclosed or verbose:
            flag = "RÖJD" if r.disclosed else "ok"
            # a cell settled at once (a point where it is 0 or exceeds k-1): it can take every
            # value shown, perhaps more
            lo, hi = _fmt(r.lo), _fmt(r.hi)
            if not r.exact:
                lo, hi = (f"≤{lo}" if r.lo else lo), f"≥{hi}"
            lines.append(f"  {flag:4} {r.table} [{r.kind}] {r.cell}: [{lo}, {hi}]")
    return "\n".join(lines)


def cli_audit(args: argparse.Namespace) -> int:
    """``genomlysning audit [--kommun K] [--verbose]``: exit 1 if any unit discloses."""
    names = args.kommun or units()
    if not names:
        print("Inget att granska: reports/ har inga publicerade tabeller med röjandeliggare "
              "(kör `genomlysning run` först).")
        return 1
    status = 0
    for name in names:
        if not ledger_files(name):
            print(f"{name}: inga röjandeliggare under reports/{name}/ledger/ (kör `genomlysning run`).")
            status = 1
            continue
        result = audit_unit(name)
        print(describe(result, verbose=args.verbose))
        if not result.ok:
            status = 1
    return status
