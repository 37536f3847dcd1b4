"""The disclosure ledger: every published count with its definition, protected across all tables.

Why a ledger. Protecting each table on its own (``disclose.mask_table``) leaves three channels
open: the same quantity published in two tables (a hidden cell in one is visible in another),
relations *between* tables (a Kaplan-Meier table's "still open at day 14" is the timeliness
table's "late"; a breakdown's categories add up to the funnel's stage count) and differences of
visible counts (reached utredning 10, reached insats 8: "2 not offered"). The ledger closes them
by knowing what every published count *means*.

Design (after the linked-table protection of tau-ARGUS and sdcTable, adapted to cell
definitions instead of a cover table):

* **Dimensions** (:class:`Dim`) are data-free: a name and its codes, e.g. ``steg`` (the furthest
  funnel stage an aktualisering reached), ``arendetyp``, ``fb_tid`` (days to the
  förhandsbedömning decision, in bins, decided or still open). A dimension may be defined only
  inside a population of a *parent* dimension (``barnsamtal`` exists only for closed own
  utredningar): the attacker knows such structural zeros, so the model does too.
* **Cells** (:class:`Cell`) are data-free definitions: a unit (``akt`` = aktualiseringar,
  ``barn`` = children) and, per dimension, the set of codes counted (a conjunction). "Reached
  utredning" is ``steg`` in the stages from utredning on; "n_bas" of a share is ``barnsamtal`` in
  {ja, nej}. Two cells with the same definition are the same quantity: published in two tables,
  it is hidden in both or in neither.
* **Records**: during a run the ledger holds, per unit, each record's code on every dimension
  (never written). Every registered count is recomputed from its definition and must equal the
  table's value, so a wrong definition fails loudly instead of protecting the wrong thing.
* **The attacker's model.** Dimensions used together in a cell are linked; the graph is
  triangulated and every maximal clique becomes a cross-classified table of unknown non-negative
  integer counts, glued to its neighbours in a junction tree by equal margins (for a
  triangulated graph this is exactly the full cross-classification: integer tables with equal
  margins on a separator can always be joined). Every visible published cell is an equation,
  logical relations between units (a child is counted at most as often as its aktualiseringar)
  are inequalities, and everything a reader cannot see is free.
* **What is protected.** Every primary cell (1..k-1, ``..``) and every *atom* of every table -
  the disjoint cells of its cross-classification, such as "reached förhandsbedömning but not
  utredning" for each category of a funnel - whose true count is 1..k-1: its feasible range
  given everything published must cover the whole [1, k-1] (a zero is shown; a range that
  includes 0 is fine). Ranges come from linear programs solved with HiGHS; the LP bound is
  confirmed by an integer program whenever its optimum is fractional.
* **Secondary suppression.** Targets are taken in a fixed order; while a target's range is too
  narrow, the visible cell whose equation the optimum leans on (non-zero dual) and that costs
  least is hidden: a non-zero count before a zero, the smallest first, a unit's grand total last,
  ties by registration order. Hiding more only widens ranges, so one pass suffices; the result
  is deterministic. Rates, intervals and figure points computed from a hidden count are hidden
  with it (``linked`` columns).
* **The audit** (:func:`audit_ranges`) rebuilds the same model from the published values and
  the cell definitions alone (``ledger.json``, which holds no data) and reports the feasible
  range of every hidden cell and atom; a range inside [1, k-1] that is narrower than it means
  that a small count is disclosed.

Not modelled (documented in the README): relations that are not linear in counts (a Kaplan-Meier
share is treated through the counts published beside it), and the "none of the reasons" link
between the fourteen reason indicators (only inequalities follow from it).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd

from genomlysning import disclose

#: Counting units of the ledger (aktualiseringar, children).
UNITS: tuple[str, ...] = ("akt", "barn")
#: Largest cross-classified clique the model accepts (variables).
MAX_CLIQUE = 250_000
#: Format version of ledger.json.
VERSION = 1


#: Solutions of this process by digest of definitions and counts (the same unit is not solved twice).
_SOLVED: dict[str, Protection] = {}


class LedgerError(ValueError):
    """A registered count does not match its definition, or the model cannot be built."""


@dataclass(frozen=True)
class Dim:
    """A data-free dimension of one unit: its codes and, optionally, the parent population it
    lives in (``allowed`` maps a code to the parent codes it can occur with)."""

    unit: str
    name: str
    codes: tuple[str, ...]
    parent: str | None = None
    allowed: Mapping[str, frozenset[str]] | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (for ledger.json)."""
        out: dict[str, Any] = {"unit": self.unit, "name": self.name, "codes": list(self.codes)}
        if self.parent is not None and self.allowed is not None:
            out["parent"] = self.parent
            out["allowed"] = {c: sorted(v) for c, v in sorted(self.allowed.items())}
        return out

    @staticmethod
    def from_json(obj: Mapping[str, Any]) -> Dim:
        """Inverse of :meth:`to_json`."""
        allowed = obj.get("allowed")
        return Dim(obj["unit"], obj["name"], tuple(obj["codes"]), obj.get("parent"),
                   {c: frozenset(v) for c, v in allowed.items()} if allowed is not None else None)


@dataclass(frozen=True)
class Cell:
    """A count: records of ``unit`` whose code on each named dimension is in the given set;
    ``more`` adds further disjoint conjunctions (a count that is a union, e.g. "insats offered"
    = reached the stage, or offered while an earlier stage was skipped)."""

    unit: str
    where: tuple[tuple[str, frozenset[str]], ...]
    more: tuple[tuple[tuple[str, frozenset[str]], ...], ...] = ()

    @staticmethod
    def of(unit: str, **conditions: str | Iterable[str]) -> Cell:
        """Build a cell: ``Cell.of("akt", steg=[...], kon="flicka")``."""
        where = []
        for dim, codes in conditions.items():
            where.append((dim, frozenset([codes] if isinstance(codes, str) else codes)))
        return Cell(unit, tuple(sorted(where, key=lambda w: w[0])))

    @staticmethod
    def union(*cells: Cell) -> Cell:
        """The sum of disjoint cells of one unit as one count (checked disjoint when counted)."""
        parts = [p for c in cells for p in c.parts()]
        if not parts or len({p.unit for p in parts}) != 1:
            raise LedgerError("a union needs cells of one unit")
        return Cell(parts[0].unit, parts[0].where, tuple(p.where for p in parts[1:]))

    def parts(self) -> list[Cell]:
        """The conjunctions this count adds up (one for a plain cell)."""
        return [Cell(self.unit, w) for w in (self.where, *self.more)]

    def also(self, **conditions: str | Iterable[str]) -> Cell:
        """This cell further restricted (a condition on a dimension already used intersects)."""
        if self.more:
            return Cell.union(*(p.also(**conditions) for p in self.parts()))
        current = dict(self.where)
        for dim, codes in conditions.items():
            new = frozenset([codes] if isinstance(codes, str) else codes)
            current[dim] = current[dim] & new if dim in current else new
        return Cell(self.unit, tuple(sorted(current.items(), key=lambda w: w[0])))

    def dims(self) -> tuple[str, ...]:
        """The dimensions the cell conditions on (of every part)."""
        out: list[str] = []
        for w in (self.where, *self.more):
            out += [d for d, _ in w if d not in out]
        return tuple(out)

    def key(self) -> str:
        """Canonical text form, e.g. ``akt|kon=flicka|steg=s2e,s2p``; a union's parts joined by
        ``+`` (codes are %-quoted, so ``+`` never occurs inside a part)."""
        out = []
        for w in (self.where, *self.more):
            parts = [_q(self.unit)] + [f"{_q(d)}={','.join(_q(x) for x in sorted(c))}" for d, c in w]
            out.append("|".join(parts))
        return "+".join(out)

    @staticmethod
    def from_key(key: str) -> Cell:
        """Inverse of :meth:`key`."""
        cells = []
        for text in key.split("+"):
            unit, *parts = text.split("|")
            where = []
            for p in parts:
                d, _, codes = p.partition("=")
                values = frozenset(unquote(x) for x in codes.split(",")) if codes else frozenset()
                where.append((unquote(d), values))
            cells.append(Cell(unquote(unit), tuple(where)))
        return cells[0] if len(cells) == 1 else Cell.union(*cells)


def _q(text: str) -> str:
    return quote(text, safe="")


@dataclass
class Table:
    """One published table: the frame, the cell behind each count and the columns derived."""

    name: str
    frame: pd.DataFrame
    cells: dict[str, list[Cell | None]]
    linked: dict[str, list[str]]
    protect: list[Cell] = field(default_factory=list)
    prior: bool = False  # already published by an earlier notebook of the unit (cannot change)


@dataclass(frozen=True)
class Relation:
    """A logical inequality between counts: sum(coef * cell) <= 0."""

    terms: tuple[tuple[float, Cell], ...]
    prior: bool = False  # registered by an earlier notebook of the unit


@dataclass
class Protection:
    """The outcome of :meth:`Ledger.protect`: the hidden cell keys and per-target ranges."""

    hidden: frozenset[str]
    primary: frozenset[str]
    ranges: dict[str, tuple[float, float]]
    targets: int
    solves: int


# ---------------------------------------------------------------------------------------------
# The attacker's model
# ---------------------------------------------------------------------------------------------

def _triangulate(nodes: Sequence[str], edges: set[frozenset[str]],
                 size: Mapping[str, int]) -> list[tuple[str, ...]]:
    """Maximal cliques of a min-fill triangulation (ties: smallest state space, then name)."""
    adj = {n: {m for e in edges if n in e for m in e if m != n} for n in nodes}
    left = set(nodes)
    cliques: list[set[str]] = []
    while left:
        def fill(n: str) -> int:
            nb = adj[n] & left
            return sum(1 for a, b in itertools.combinations(sorted(nb), 2) if b not in adj[a])

        def weight(n: str) -> int:
            return int(np.prod([size[m] for m in (adj[n] & left) | {n}], dtype=float))

        v = min(sorted(left), key=lambda n: (fill(n), weight(n)))
        nb = adj[v] & left
        for a, b in itertools.combinations(sorted(nb), 2):
            adj[a].add(b)
            adj[b].add(a)
        cliques.append(nb | {v})
        left.remove(v)
    maximal = [c for c in cliques if not any(c < o for o in cliques)]
    out: list[tuple[str, ...]] = []
    for c in maximal:
        t = tuple(sorted(c))
        if t not in out:
            out.append(t)
    return out


@dataclass
class _Clique:
    unit: str
    dims: tuple[str, ...]
    codes: np.ndarray  # (n_vars, n_dims) of code indices
    offset: int


class Model:
    """The attacker's linear model over the cross-classified cliques of both units."""

    def __init__(self, dims: Mapping[str, Mapping[str, Dim]], cells: Iterable[Cell]) -> None:
        self.dims = dims
        self.cliques: list[_Clique] = []
        self.n = 0
        cells = list(cells)
        for unit in sorted({c.unit for c in cells}):
            self._build_unit(unit, [c for c in cells if c.unit == unit])
        self._consistency()

    def _build_unit(self, unit: str, cells: list[Cell]) -> None:
        dims = self.dims[unit]
        used: set[str] = set()
        edges: set[frozenset[str]] = set()
        for c in (p for cell in cells for p in cell.parts()):
            ds = c.dims()
            for d in ds:
                if d not in dims:
                    raise LedgerError(f"cell {c.key()}: unknown dimension {d!r} of unit {unit!r}")
            used.update(ds)
            edges.update(frozenset(p) for p in itertools.combinations(ds, 2))
        for d in sorted(used):
            parent = dims[d].parent
            if parent is not None:
                used.add(parent)
                edges.add(frozenset((d, parent)))
        if not used:
            used = {"__alle__"}
        size = {d: len(dims[d].codes) if d in dims else 1 for d in used}
        for clique in _triangulate(sorted(used), edges, size):
            self._add_clique(unit, clique)

    def _add_clique(self, unit: str, clique: tuple[str, ...]) -> None:
        dims = self.dims[unit]
        real = [d for d in clique if d in dims]
        total = int(np.prod([len(dims[d].codes) for d in real], dtype=float)) if real else 1
        if total > MAX_CLIQUE:
            raise LedgerError(f"disclosure model: the cross-classification of {real} has {total} cells "
                              f"(more than {MAX_CLIQUE}); publish fewer dimensions together")
        grids = (np.array(list(itertools.product(*[range(len(dims[d].codes)) for d in real])),
                          dtype=np.int32).reshape(-1, len(real)) if real
                 else np.zeros((1, 0), dtype=np.int32))  # a unit counted by its total only
        keep = np.ones(len(grids), dtype=bool)
        for j, d in enumerate(real):
            dim = dims[d]
            if dim.parent is None or dim.allowed is None or dim.parent not in real:
                continue
            p = real.index(dim.parent)
            pcodes = dims[dim.parent].codes
            ok = np.array([[pcodes[q] in dim.allowed.get(code, frozenset(pcodes)) for q in range(len(pcodes))]
                           for code in dim.codes])
            keep &= ok[grids[:, j], grids[:, p]]
        grids = grids[keep]
        self.cliques.append(_Clique(unit, tuple(real), grids, self.n))
        self.n += len(grids)

    def _consistency(self) -> None:
        """Junction-tree margins (per unit) as equations A_con x = 0."""
        rows: list[tuple[np.ndarray, np.ndarray]] = []
        for unit in sorted({c.unit for c in self.cliques}):
            idx = [i for i, c in enumerate(self.cliques) if c.unit == unit]
            pairs = sorted(((len(set(self.cliques[a].dims) & set(self.cliques[b].dims)), a, b)
                            for a, b in itertools.combinations(idx, 2)), key=lambda t: (-t[0], t[1], t[2]))
            comp = {i: i for i in idx}

            for _, a, b in pairs:
                ra, rb = _find(comp, a), _find(comp, b)
                if ra == rb:
                    continue
                comp[rb] = ra
                rows.extend(self._margin_rows(a, b))
        self.consistency = _stack(rows, self.n)

    def _margin_rows(self, a: int, b: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """One equation per code combination of the separator: (variable indices, coefficients)."""
        ca, cb = self.cliques[a], self.cliques[b]
        sep = [d for d in ca.dims if d in cb.dims]
        radix = [len(self.dims[ca.unit][d].codes) for d in sep]
        ka = _row_keys(ca.codes[:, [ca.dims.index(d) for d in sep]], radix)
        kb = _row_keys(cb.codes[:, [cb.dims.index(d) for d in sep]], radix)
        out = []
        for s in np.union1d(ka, kb):
            ia, ib = ca.offset + np.flatnonzero(ka == s), cb.offset + np.flatnonzero(kb == s)
            out.append((np.concatenate([ia, ib]), np.concatenate([np.ones(len(ia)), -np.ones(len(ib))])))
        return out

    def expression(self, cell: Cell) -> np.ndarray:
        """The model variables the cell adds up (first clique holding its dimensions; a union:
        those of its parts)."""
        if cell.more:
            return np.unique(np.concatenate([self.expression(p) for p in cell.parts()]))
        ds = set(cell.dims())
        for c in self.cliques:
            if c.unit == cell.unit and ds <= set(c.dims):
                match = np.ones(len(c.codes), dtype=bool)
                for d, allowed in cell.where:
                    j = c.dims.index(d)
                    codes = self.dims[cell.unit][d].codes
                    ok = np.array([code in allowed for code in codes])
                    match &= ok[c.codes[:, j]]
                return c.offset + np.flatnonzero(match)
        raise LedgerError(f"cell {cell.key()}: no clique of the model holds its dimensions")

    def truth(self, records: Mapping[str, pd.DataFrame]) -> np.ndarray:
        """The records' own cross-classification (a feasible point: used to check the model)."""
        x = np.zeros(self.n)
        for c in self.cliques:
            frame = records[c.unit]
            if not c.dims:
                x[c.offset] = len(frame)
                continue
            idx = np.column_stack([_code_index(frame[d], self.dims[c.unit][d]) for d in c.dims])
            lookup = {tuple(r): i for i, r in enumerate(c.codes.tolist())}
            for row, n in pd.Series(map(tuple, idx.tolist())).value_counts().items():
                if row not in lookup:
                    combo = dict(zip(c.dims, row, strict=True))
                    raise LedgerError(f"records of unit {c.unit!r} hold {combo}, which the dimensions "
                                      "declare impossible")
                x[c.offset + lookup[row]] = n
        return x


def _find(parent: dict[int, int], i: int) -> int:
    """Union-find root."""
    while parent[i] != i:
        i = parent[i]
    return i


def _code_index(values: pd.Series, dim: Dim) -> np.ndarray:
    pos = {c: i for i, c in enumerate(dim.codes)}
    out = values.map(pos)
    if out.isna().any():
        bad = sorted(set(values[out.isna()].astype(str)))[:5]
        raise LedgerError(f"dimension {dim.name!r}: values {bad} are not among its codes {list(dim.codes)}")
    return out.to_numpy(dtype=np.int64)


def _row_keys(codes: np.ndarray, radix: Sequence[int]) -> np.ndarray:
    """One integer per row of a code matrix: the mixed-radix number of its codes (``radix``: the
    number of codes of each column), so equal rows get equal keys *across* cliques, also when
    structural zeros removed different combinations from each (ranks of the rows present would
    then disagree)."""
    key = np.zeros(len(codes), dtype=np.int64)
    for j, r in enumerate(radix):
        key = key * int(r) + codes[:, j].astype(np.int64)
    return key


def _stack(rows: Sequence[tuple[np.ndarray, np.ndarray]], n: int) -> Any:
    """Sparse matrix of equations given as (indices, coefficients)."""
    from scipy import sparse

    if not rows:
        return sparse.csr_matrix((0, n))
    r = np.concatenate([np.full(len(i), j) for j, (i, _) in enumerate(rows)])
    c = np.concatenate([i for i, _ in rows])
    v = np.concatenate([w for _, w in rows])
    return sparse.csr_matrix((v, (r, c)), shape=(len(rows), n))


def _sparse_rows(exprs: Sequence[np.ndarray], n: int) -> Any:
    """0/1 rows of variable-index expressions."""
    return _stack([(e, np.ones(len(e))) for e in exprs], n)




# ---------------------------------------------------------------------------------------------
# Bounds
# ---------------------------------------------------------------------------------------------

class Bounds:
    """Feasible ranges of cell expressions: one HiGHS model kept warm between solves.

    Rows: the junction-tree margins (= 0), every published cell (= its value while visible,
    free once hidden) and the logical relations (<= 0). A range is an LP optimum, confirmed by
    the integer optimum (HiGHS branch and bound) whenever the LP solution is fractional.
    """

    def __init__(self, model: Model, cells: Any, values: np.ndarray, known: np.ndarray,
                 relations: Any) -> None:
        import highspy
        from scipy import sparse

        self.model = model
        self.n_con = model.consistency.shape[0]
        self.n_cells = cells.shape[0]
        rel = relations if relations is not None else sparse.csr_matrix((0, model.n))
        a = sparse.vstack([model.consistency, cells, rel]).tocsc()
        inf = highspy.kHighsInf
        self.values = np.asarray(values, dtype=float)
        n_rel = rel.shape[0]
        lower = np.concatenate([np.zeros(self.n_con), np.where(known, self.values, -inf),
                                np.full(n_rel, -inf)])
        upper = np.concatenate([np.zeros(self.n_con), np.where(known, self.values, inf), np.zeros(n_rel)])
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = model.n, a.shape[0]
        lp.col_cost_ = np.zeros(model.n)
        lp.col_lower_ = np.zeros(model.n)
        lp.col_upper_ = np.full(model.n, inf)
        lp.row_lower_, lp.row_upper_ = lower, upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data.astype(float)
        self.h = _quiet_highs(highspy)
        self.h.setOptionValue("random_seed", 0)
        self.h.setOptionValue("threads", 1)
        self.h.setOptionValue("simplex_strategy", 4)  # primal: the basis stays feasible between objectives
        self.h.passModel(lp)
        self._lp = lp
        self._mip: Any = None
        self._hs = highspy
        self._cost_idx = np.zeros(0, dtype=np.int32)
        self._pool: list[np.ndarray] = []  # integer solutions found so far (hiding keeps them feasible)
        self.solves = 0
        self.mip_solves = 0

    def add_solution(self, x: np.ndarray) -> None:
        """Remember a non-negative integer solution of the current rows (e.g. the records' own
        cross-classification): :meth:`integer_feasible` tries the remembered ones first."""
        self._pool.append(np.asarray(np.round(x), dtype=np.int64))

    def _pooled(self, idx: np.ndarray, lower: float, upper: float) -> bool:
        for x in self._pool:
            v = float(x[idx].sum())
            if lower - 1e-9 <= v <= upper + 1e-9:
                return True
        return False

    def hide(self, row: int) -> None:
        """Free the equation of published cell ``row`` (it is hidden from now on)."""
        inf = self._hs.kHighsInf
        self.h.changeRowBounds(self.n_con + int(row), -inf, inf)
        if self._mip is not None:
            self._mip.changeRowBounds(self.n_con + int(row), -inf, inf)

    def _objective(self, expr: np.ndarray, sense: int) -> None:
        if len(self._cost_idx):
            self.h.changeColsCost(len(self._cost_idx), self._cost_idx, np.zeros(len(self._cost_idx)))
        idx = np.asarray(expr, dtype=np.int32)
        self.h.changeColsCost(len(idx), idx, np.full(len(idx), float(sense)))
        self._cost_idx = idx

    def point(self, exprs: Sequence[np.ndarray], sense: int) -> np.ndarray | None:
        """An LP optimum of min (sense=+1) or max (sense=-1) of the *sum* of several cell
        expressions: one feasible point that pushes many targets down (or up) at once; None
        when unbounded or not solved."""
        cost = np.zeros(self.model.n)
        for e in exprs:
            np.add.at(cost, np.asarray(e, dtype=np.int64), float(sense))
        idx = np.flatnonzero(cost).astype(np.int32)
        if len(self._cost_idx):
            self.h.changeColsCost(len(self._cost_idx), self._cost_idx, np.zeros(len(self._cost_idx)))
        self.h.changeColsCost(len(idx), idx, cost[idx])
        self._cost_idx = idx
        self.solves += 1
        self.h.run()
        if self.h.getModelStatus() != self._hs.HighsModelStatus.kOptimal:
            return None
        return np.asarray(self.h.getSolution().col_value)

    def bound(self, expr: np.ndarray, sense: int) -> tuple[float, np.ndarray | None, bool]:
        """min (sense=+1) or max (sense=-1) of the sum of the variables ``expr`` over the LP
        relaxation: (value, duals of the published cells' equations, solution integral)."""
        hs = self._hs
        self._objective(expr, sense)
        self.solves += 1
        self.h.run()
        status = self.h.getModelStatus()
        if status == hs.HighsModelStatus.kUnbounded:
            return (np.inf if sense < 0 else -np.inf), None, True
        if status != hs.HighsModelStatus.kOptimal:
            raise LedgerError(f"disclosure model: no solution ({self.h.modelStatusToString(status)}): "
                              "the published values are inconsistent")
        sol = self.h.getSolution()
        x = np.asarray(sol.col_value)
        value = sense * self.h.getInfo().objective_function_value
        duals = np.asarray(sol.row_dual)[self.n_con:self.n_con + self.n_cells]
        integral = bool(np.allclose(x, np.round(x), atol=1e-7))
        if integral:  # an integer solution for free: integer_feasible looks here first
            self.add_solution(x)
        return float(np.round(value, 6)), duals, integral

    def _integer_model(self) -> Any:
        """The branch-and-bound twin of the LP (same rows and current bounds), made once."""
        hs = self._hs
        if self._mip is None:
            self._mip = _quiet_highs(hs)
            self._mip.setOptionValue("random_seed", 0)
            self._mip.setOptionValue("threads", 1)
            self._mip.passModel(self._lp)
            lower_now = np.asarray(self.h.getLp().row_lower_)
            upper_now = np.asarray(self.h.getLp().row_upper_)
            rows = np.arange(len(lower_now), dtype=np.int32)
            self._mip.changeRowsBounds(len(rows), rows, lower_now, upper_now)
            n = self.model.n
            self._mip.changeColsIntegrality(n, np.arange(n, dtype=np.int32),
                                            np.full(n, hs.HighsVarType.kInteger))
        return self._mip

    def integer_point(self, exprs: Sequence[np.ndarray], sense: int) -> np.ndarray | None:
        """A good (not necessarily optimal: 50 % gap) integer solution of min (sense=+1) or max
        (sense=-1) of the summed expressions; it joins the pool. None if none was found."""
        mip = self._integer_model()
        cost = np.zeros(self.model.n)
        for e in exprs:
            np.add.at(cost, np.asarray(e, dtype=np.int64), float(sense))
        idx = np.flatnonzero(cost).astype(np.int32)
        mip.changeColsCost(len(idx), idx, cost[idx])
        mip.setOptionValue("mip_rel_gap", 0.5)
        self.solves += 1
        self.mip_solves += 1
        try:
            mip.run()
            ok = mip.getModelStatus() == self._hs.HighsModelStatus.kOptimal
            x = np.asarray(mip.getSolution().col_value) if ok else None
        finally:
            mip.changeColsCost(len(idx), idx, np.zeros(len(idx)))
            mip.setOptionValue("mip_rel_gap", 1e-4)
        if x is not None:
            self.add_solution(x)
        return x

    def integer_feasible(self, expr: np.ndarray, lower: float, upper: float) -> bool:
        """Is there a non-negative *integer* solution with lower <= sum(expr) <= upper? (The
        pool of solutions found so far first, else HiGHS branch and bound on the same rows, with
        that bound added and no objective.)"""
        hs = self._hs
        idx = np.asarray(expr, dtype=np.int32)
        if self._pooled(idx, lower, upper):
            return True
        self._integer_model()
        inf = hs.kHighsInf
        self._mip.addRow(-inf if not np.isfinite(lower) else lower, inf if not np.isfinite(upper) else upper,
                         len(idx), idx, np.ones(len(idx)))
        self.solves += 1
        self.mip_solves += 1
        self._mip.run()
        status = self._mip.getModelStatus()
        ok = status == hs.HighsModelStatus.kOptimal
        if ok:
            self.add_solution(np.asarray(self._mip.getSolution().col_value))
        self._mip.deleteRows(1, np.array([self._mip.getNumRow() - 1], dtype=np.int32))
        return ok


#: Rounds of :func:`_certify` per direction (each certifies at least one target or stops).
CERTIFY_ROUNDS = 40


def _settles(value: float, sense: int, k: int, tol: float = 0.0) -> bool:
    """A target's value at a feasible point settles its side: <= 1 (sense +1) or >= k-1 (sense -1)."""
    return value <= 1 + tol if sense > 0 else value >= k - 1 - tol


def _certify(b: Bounds, targets: Sequence[str], expr: Mapping[str, np.ndarray], sense: int,
             k: int) -> dict[str, tuple[float, bool]]:
    """Targets whose count can be <= 1 (sense +1) or >= k-1 (sense -1) at one LP optimum of the
    summed objective over the targets not yet certified: key -> (value there, point integral).
    An integral point also joins the pool of integer solutions."""
    out: dict[str, tuple[float, bool]] = {}
    left = list(targets)
    for _ in range(CERTIFY_ROUNDS):
        if not left:
            break
        x = b.point([expr[t] for t in left], sense)
        if x is None:
            break
        integral = bool(np.allclose(x, np.round(x), atol=1e-7))
        if integral:
            b.add_solution(x)
        got = {t: float(np.round(x[expr[t]].sum(), 6)) for t in left}
        new = [t for t in left if _settles(got[t], sense, k, 1e-9)]
        if not new:
            break
        out.update({t: (got[t], integral) for t in new})
        left = [t for t in left if t not in out]
    return out


def _certify_integer(b: Bounds, targets: Sequence[str], expr: Mapping[str, np.ndarray], sense: int,
                     k: int) -> None:
    """Add integer points to the pool, each good for the summed objective over the targets it
    has not settled yet (<= 1 for sense +1, >= k-1 for sense -1), while each settles some."""
    left = list(targets)
    for _ in range(CERTIFY_ROUNDS):
        if not left:
            return
        x = b.integer_point([expr[t] for t in left], sense)
        if x is None:
            return
        got = {t: float(np.round(x[expr[t]].sum())) for t in left}
        kept = [t for t in left if not _settles(got[t], sense, k)]
        if len(kept) == len(left):
            return
        left = kept


#: File descriptor 1 is the process's: audits in threads (the runner's comparison audit) take
#: turns to point it at /dev/null, or one would restore another's /dev/null as stdout.
_STDOUT_LOCK = threading.Lock()


def _quiet_highs(highspy: Any) -> Any:
    """A silent HiGHS instance (its banner goes to file descriptor 1, not to Python)."""
    import os
    import sys

    with _STDOUT_LOCK:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
                h.silent()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
    return h


def _relation_matrix(model: Model, relations: Sequence[Relation]) -> Any:
    rows = []
    for r in relations:
        idx = [model.expression(c) for _, c in r.terms]
        rows.append((np.concatenate(idx), np.concatenate([np.full(len(i), coef) for (coef, _), i
                                                           in zip(r.terms, idx, strict=True)])))
    return _stack(rows, model.n)


def protected_enough(lo: float, hi: float, k: int) -> bool:
    """A range of a count 1..k-1 is wide enough when it covers the whole [1, k-1]."""
    return lo <= 1 + 1e-9 and hi >= k - 1 - 1e-9


def discloses(lo: float, hi: float, k: int) -> bool:
    """The audit's test, blind to true values: a range inside [1, k-1] that is narrower than it
    tells a reader that a small count is, or is at least/at most, some value."""
    return lo >= 1 - 1e-9 and hi <= k - 1 + 1e-9 and not protected_enough(lo, hi, k)


# ---------------------------------------------------------------------------------------------
# The ledger
# ---------------------------------------------------------------------------------------------

class Ledger:
    """Every count a publication unit publishes, with its definition; see the module docstring."""

    def __init__(self, k: int, scope: Mapping[str, Mapping[str, Iterable[str]]] | None = None) -> None:
        """``scope``: per unit, the conditions (dimension -> codes) that pick this ledger's
        records out of the unit's universe, e.g. ``{"akt": {"ar": ["2025"]}}`` for the year's
        aktualiseringar; a ledger that declares the dimension itself can combine them (see
        :func:`merge`)."""
        self.k = int(k)
        self.scope: dict[str, dict[str, tuple[str, ...]]] = {
            u: {d: tuple(sorted(c)) for d, c in conds.items()} for u, conds in (scope or {}).items()}
        self.dims: dict[str, dict[str, Dim]] = {u: {} for u in UNITS}
        self.records: dict[str, pd.DataFrame] = {}
        self.tables: list[Table] = []
        self.relations: list[Relation] = []
        self.result: Protection | None = None
        self._values: dict[str, int] = {}

    # -- declarations ------------------------------------------------------------------------

    def dimension(self, unit: str, name: str, values: pd.Series, codes: Sequence[str], *,
                  parent: str | None = None, allowed: Mapping[str, Iterable[str]] | None = None) -> None:
        """Declare a dimension and give each record of ``unit`` its code (``values``)."""
        dim = Dim(unit, name, tuple(codes), parent,
                  {c: frozenset(v) for c, v in allowed.items()} if allowed is not None else None)
        frame = self.records.get(unit)
        if frame is not None and len(frame) != len(values):
            raise LedgerError(f"dimension {name!r}: {len(values)} values for {len(frame)} records")
        _code_index(pd.Series(values, dtype=object).reset_index(drop=True), dim)
        self.dims[unit][name] = dim
        col = pd.Series(values, dtype=object).reset_index(drop=True)
        self._values.clear()  # a new dimension can change which conditions are trivial
        self.records[unit] = (pd.DataFrame({name: col}) if frame is None
                              else frame.assign(**{name: col.to_numpy()}))

    def canonical(self, cell: Cell) -> Cell:
        """The cell without conditions that admit every code of their dimension."""
        return canonical(cell, self.dims)

    def value(self, cell: Cell) -> int:
        """The count of ``cell`` in the records (computed once per quantity)."""
        key = self.canonical(cell).key()
        if key not in self._values:
            self._values[key] = self._count(cell)
        return self._values[key]

    def _count(self, cell: Cell) -> int:
        frame = self.records[cell.unit]
        total = np.zeros(len(frame), dtype=bool)
        n = 0
        for part in cell.parts():
            m = np.ones(len(frame), dtype=bool)
            for d, codes in part.where:
                m &= frame[d].isin(codes).to_numpy()
            total |= m
            n += int(m.sum())
        if n != int(total.sum()):
            raise LedgerError(f"cell {cell.key()}: the parts of a union overlap")
        return n

    def add(self, name: str, frame: pd.DataFrame, cells: Mapping[str, Sequence[Cell | None]], *,
            linked: Mapping[str, Sequence[str]] | None = None, protect: Sequence[Cell] = ()) -> None:
        """Register a table: ``cells`` gives the definition of each row of each count column
        (None: not a count of this ledger, e.g. a "totalt" placeholder); ``linked`` maps derived
        columns (rates, bounds) to the count columns they were computed from; ``protect`` adds
        quantities a reader could compute without their being published (e.g. a difference)."""
        frame = frame.reset_index(drop=True)
        for c in [*(c for defs in cells.values() for c in defs if c is not None), *protect]:
            self.canonical(c)  # unknown dimensions or codes fail here
        for col, defs in cells.items():
            if len(defs) != len(frame):
                raise LedgerError(f"table {name}: {len(defs)} definitions for {len(frame)} rows of {col!r}")
            for i, cell in enumerate(defs):
                if cell is None:
                    continue
                got, want = self.value(cell), frame[col].iloc[i]
                if pd.isna(want) or int(want) != got:
                    raise LedgerError(f"table {name}, row {i}, column {col!r}: published {want}, but the "
                                      f"definition {cell.key()} counts {got}")
        self.tables.append(Table(name, frame, {c: list(v) for c, v in cells.items()},
                                 {c: list(v) for c, v in (linked or {}).items()}, list(protect)))

    def at_most(self, smaller: Cell, larger: Cell, factor: float = 1.0) -> None:
        """Record the logical relation ``smaller <= factor * larger`` (e.g. children <= rows)."""
        self.relations.append(Relation(((1.0, self.canonical(smaller)), (-factor, self.canonical(larger)))))

    def at_most_sum(self, total: Cell, parts: Sequence[tuple[float, Cell]]) -> None:
        """Record ``total <= sum(coef * part)``."""
        self.relations.append(Relation(((1.0, self.canonical(total)),
                                        *((-c, self.canonical(p)) for c, p in parts))))

    def at_least_sum(self, total: Cell, parts: Sequence[tuple[float, Cell]]) -> None:
        """Record ``total >= sum(coef * part)``."""
        self.relations.append(Relation(((-1.0, self.canonical(total)),
                                        *((c, self.canonical(p)) for c, p in parts))))

    def add_published(self, definitions: Sequence[Mapping[str, Any]],
                      published: Mapping[str, pd.DataFrame]) -> None:
        """Register what earlier notebooks of the unit already published (their ``ledger.json``
        definitions and the tables as read back): their visible counts are fixed equations,
        their hidden cells and atoms stay protected, and nothing of them can be hidden now.
        Call after declaring the dimensions and before adding this notebook's tables; every
        visible count is checked against the records (stale reports fail here)."""
        merged = merge(list(definitions), into=self)
        if int(merged["k"]) != self.k:
            raise LedgerError(f"the unit was published with k = {merged['k']}, this ledger has k = {self.k}")
        for t in merged["tables"]:
            frame = published.get(t["name"])
            if frame is None:
                raise LedgerError(f"table {t['name']} is in an earlier ledger but was not published; "
                                  "run the unit's earlier notebooks again")
            frame = frame.reset_index(drop=True)
            cells: dict[str, list[Cell | None]] = {}
            for col, keys in t["cells"].items():
                defs = [Cell.from_key(kk) if kk else None for kk in keys]
                for i, cell in enumerate(defs):
                    if cell is None:
                        continue
                    v = frame[col].iloc[i] if col in frame.columns else None
                    if v is None or disclose.is_suppressed(v) or (isinstance(v, float) and np.isnan(v)):
                        continue
                    if int(v) != self.value(cell):
                        raise LedgerError(f"published table {t['name']}, row {i}, column {col!r} shows {v}, "
                                          f"but the data count {self.value(cell)}: the reports are stale; "
                                          "run the unit's earlier notebooks again")
                cells[col] = defs
            self.tables.append(Table(t["name"], frame, cells, {c: list(v) for c, v in t["linked"].items()},
                                     [Cell.from_key(kk) for kk in t.get("protect", [])], prior=True))
        for r in merged["relations"]:
            self.relations.append(Relation(tuple((float(coef), self.canonical(Cell.from_key(kk)))
                                                 for coef, kk in r), prior=True))

    def _prior_state(self) -> tuple[set[str], set[str]]:
        """Keys of cells earlier notebooks published visibly, and those they hid."""
        visible: set[str] = set()
        hidden: set[str] = set()
        for t in self.tables:
            if not t.prior:
                continue
            for col, defs in t.cells.items():
                for i, cell in enumerate(defs):
                    if cell is None:
                        continue
                    kk = self.canonical(cell).key()
                    v = t.frame[col].iloc[i] if col in t.frame.columns else None
                    (hidden if v is not None and disclose.is_suppressed(v) else visible).add(kk)
        return visible, hidden - visible

    # -- protection --------------------------------------------------------------------------

    def published_cells(self) -> dict[str, Cell]:
        """Every published cell by key, in registration order."""
        out: dict[str, Cell] = {}
        for t in self.tables:
            for defs in t.cells.values():
                for cell in defs:
                    if cell is not None:
                        c = self.canonical(cell)
                        out.setdefault(c.key(), c)
        return out

    def atoms(self) -> dict[str, Cell]:
        """The disjoint cells of every table (see :func:`table_atoms`) and declared extras."""
        out: dict[str, Cell] = {}
        for t in self.tables:
            for cell in table_atoms(t.cells, self.dims) + list(t.protect):
                c = self.canonical(cell)
                out.setdefault(c.key(), c)
        return out

    def protect(self, cache: Path | None = None) -> Protection:
        """Primary and secondary suppression across every registered table (module docstring).

        ``cache``: a local folder (never published) where the result is kept under a hash of
        the definitions and counts, so an unchanged unit is not solved twice."""
        cells = self.published_cells()
        atoms = self.atoms()
        values = np.array([self.value(c) for c in cells.values()], dtype=float)
        atom_values = {key: self.value(c) for key, c in atoms.items()}
        visible, hidden = self._prior_state()
        digest = hashlib.sha256("\n".join([
            self.definitions_json(), json.dumps(values.tolist()), json.dumps(list(atom_values.values())),
            json.dumps([[t.name, {c: [x.key() if x else None for x in d] for c, d in t.cells.items()}]
                        for t in self.tables if t.prior], sort_keys=True),
            json.dumps([sorted(visible), sorted(hidden)]),
        ]).encode()).hexdigest()[:24]
        path = cache / f"skydd-{digest}.json" if cache is not None else None
        if digest in _SOLVED:
            self.result = _SOLVED[digest]
            return self.result
        if path is not None and path.is_file():
            obj = json.loads(path.read_text(encoding="utf-8"))
            self.result = Protection(frozenset(obj["hidden"]), frozenset(obj["primary"]),
                                     {kk: (lo, hi) for kk, lo, hi in obj["ranges"]}, obj["targets"], 0)
            return self.result
        self.result = self._solve(cells, atoms, values, atom_values)
        _SOLVED[digest] = self.result
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            obj = {"hidden": sorted(self.result.hidden), "primary": sorted(self.result.primary),
                   "ranges": [[kk, lo, hi] for kk, (lo, hi) in sorted(self.result.ranges.items())],
                   "targets": self.result.targets}
            path.write_text(json.dumps(obj, sort_keys=True) + "\n", encoding="utf-8")
        return self.result

    def _solve(self, cells: dict[str, Cell], atoms: dict[str, Cell], values: np.ndarray,
               atom_values: dict[str, int]) -> Protection:
        k = self.k
        order = list(cells)
        model = Model(self.dims, [*cells.values(), *atoms.values(),
                                  *(c for r in self.relations for _, c in r.terms)])
        truth = model.truth(self.records)
        expr = {key: model.expression(c) for key, c in {**atoms, **cells}.items()}
        matrix = _sparse_rows([expr[kk] for kk in order], model.n)
        if np.abs(matrix @ truth - values).max(initial=0) > 1e-6:
            raise LedgerError("disclosure model disagrees with the records on a published cell")
        if model.consistency.shape[0] and np.abs(model.consistency @ truth).max() > 1e-6:
            raise LedgerError("disclosure model: junction-tree margins disagree with the records")
        relations = _relation_matrix(model, self.relations)
        if relations.shape[0] and (relations @ truth).max() > 1e-6:
            raise LedgerError("disclosure model: a logical relation does not hold in the records")
        pos = {kk: i for i, kk in enumerate(order)}
        primary = {kk for kk, v in zip(order, values, strict=True) if 1 <= v < k}
        prior_visible, prior_hidden = self._prior_state()
        shown_small = sorted(primary & prior_visible)
        if shown_small:
            raise LedgerError(f"an earlier notebook published the small count {shown_small[0]}: "
                              "run the unit's notebooks again with the same k")
        known = np.array([kk not in primary and kk not in prior_hidden for kk in order], dtype=bool)
        fixed = np.array([kk in prior_visible or kk in prior_hidden for kk in order], dtype=bool)
        totals = _unit_totals(cells)
        targets = [kk for kk in order if kk in primary]
        targets += [kk for kk, v in atom_values.items() if 1 <= v < k and kk not in primary]
        ranges: dict[str, tuple[float, float]] = {}
        solves = 0
        b = Bounds(model, matrix, values, known, relations)
        b.add_solution(truth)

        def hide(pick: str | None, key: str) -> None:
            if pick is None:
                raise LedgerError(f"cannot protect {key}: no published cell left to hide")
            known[pos[pick]] = False
            b.hide(pos[pick])

        exact: dict[str, bool] = {}
        # pass 0: feasible points that push many targets to <= 1 (>= k-1) at once certify those
        # sides before any cell is hidden (hiding only widens ranges): the same result as the
        # target-by-target bounds below, with far fewer solves
        cert = {+1: _certify(b, targets, expr, +1, k), -1: _certify(b, targets, expr, -1, k)}
        for key in targets:  # pass 1: LP ranges, suppressions chosen by the duals
            while True:
                if key in cert[+1]:
                    (lo, int_lo), duals = cert[+1][key], None
                else:
                    lo, duals, int_lo = b.bound(expr[key], +1)
                hi, int_hi = np.inf, True
                if protected_enough(lo, np.inf, k):
                    if key in cert[-1]:
                        hi, int_hi = cert[-1][key]
                    else:
                        hi, duals, int_hi = b.bound(expr[key], -1)
                if protected_enough(lo, hi, k):
                    ranges[key] = (lo, hi)
                    exact[key] = int_lo and int_hi
                    break
                hide(_cheapest(order, known & ~fixed, duals, values, totals, matrix, expr[key]), key)
        fractional = [kk for kk in targets if not exact[kk]]
        for sense in (+1, -1):  # integer points that settle many of them at once join the pool
            _certify_integer(b, fractional, expr, sense, k)
        for key in targets:  # pass 2: the integer program where the LP optimum was fractional
            if exact[key]:
                continue
            while not (b.integer_feasible(expr[key], -np.inf, 1)
                       and b.integer_feasible(expr[key], k - 1, np.inf)):
                hide(_cheapest(order, known & ~fixed, None, values, totals, matrix, expr[key]), key)
        solves = b.solves
        hidden = frozenset(kk for kk, vis in zip(order, known, strict=True) if not vis)
        return Protection(hidden, frozenset(primary), ranges, len(targets), solves)

    def masked(self, name: str) -> pd.DataFrame:
        """The registered table ``name`` with hidden counts and their linked columns as ``..``."""
        if self.result is None:
            self.protect()
        assert self.result is not None
        table = next(t for t in self.tables if t.name == name)
        out = table.frame.copy()
        hide: dict[str, np.ndarray] = {}
        for col, defs in table.cells.items():
            hide[col] = np.array([c is not None and self.canonical(c).key() in self.result.hidden
                                  for c in defs], dtype=bool)
        return hide_linked(out, hide, table.linked)

    def definitions(self, names: Mapping[str, str] | None = None) -> dict[str, Any]:
        """ledger.json: k, the dimensions, and per table (renamed by ``names``, e.g. to the
        published file names) the cell definition of every count column and row - no values,
        no records."""
        dims = [d.to_json() for u in UNITS for d in self.dims[u].values()]
        tables = []
        for t in self.tables:
            if t.prior:
                continue
            tables.append({
                "name": (names or {}).get(t.name, t.name),
                "cells": {col: [c.key() if c is not None else None for c in defs]
                          for col, defs in t.cells.items()},
                "linked": t.linked,
                "protect": [c.key() for c in t.protect],
            })
        relations = [[[coef, c.key()] for coef, c in r.terms] for r in self.relations if not r.prior]
        scope = {u: {d: list(c) for d, c in conds.items()} for u, conds in self.scope.items() if conds}
        return {"version": VERSION, "k": self.k, "scope": scope, "dimensions": dims, "tables": tables,
                "relations": relations}

    def definitions_json(self, names: Mapping[str, str] | None = None) -> str:
        """:meth:`definitions` as deterministic JSON text."""
        return json.dumps(self.definitions(names), ensure_ascii=False, sort_keys=True, indent=1) + "\n"


def hide_linked(frame: pd.DataFrame, hide: dict[str, np.ndarray],
                linked: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """``frame`` with the cells ``hide`` marks (column -> row mask) and every column computed
    from them (``linked``: derived column -> its count columns) shown as ``..``."""
    out = frame.copy()
    none = np.zeros(len(out), dtype=bool)
    for col, srcs in linked.items():
        if col in out.columns:
            m = none.copy()
            for s in srcs:
                m |= hide.get(s, none)
            hide[col] = m | hide.get(col, none)
    for col, m in hide.items():
        if m.any():
            values = out[col].astype(object).to_numpy(copy=True)
            values[m] = disclose.SUPPRESSED
            out[col] = pd.Series(values, index=out.index, dtype=object)
    return out


def canonical(cell: Cell, dims: Mapping[str, Mapping[str, Dim]]) -> Cell:
    """``cell`` without conditions that admit every code of their dimension (one quantity, one
    key; a union's parts in key order). Tables keep their cells as written: a condition on every
    stage still marks the stage dimension of the table, so its disjoint cells are found
    (:func:`table_atoms`)."""
    if cell.more:
        parts = sorted((canonical(p, dims) for p in cell.parts()), key=Cell.key)
        return Cell.union(*parts)
    known = dims.get(cell.unit, {})
    where = []
    for d, codes in cell.where:
        if d not in known:
            raise LedgerError(f"cell {cell.key()}: unknown dimension {d!r}")
        unknown = codes - set(known[d].codes)
        if unknown:
            raise LedgerError(f"cell {cell.key()}: codes {sorted(unknown)} are not codes of {d!r}")
        if codes != set(known[d].codes):
            where.append((d, codes))
    return Cell(cell.unit, tuple(where))


def _unit_totals(cells: Mapping[str, Cell]) -> set[str]:
    """Canonical cells that condition on nothing: a unit's grand total (hidden last)."""
    return {key for key, c in cells.items() if not c.where and not c.more}


def _cheapest(order: Sequence[str], known: np.ndarray, duals: np.ndarray | None, values: np.ndarray,
              totals: set[str], matrix: Any, target: np.ndarray) -> str | None:
    """The visible cell to hide next: among those whose equation the bound leans on (non-zero
    dual), else those overlapping the target, the cheapest (non-zero before zero, grand totals
    last, smallest, first registered)."""
    vis = np.flatnonzero(known)
    lean: list[int] = []
    if duals is not None:
        lean = [int(i) for i in vis if abs(duals[i]) > 1e-9]
    if not lean:
        overlap = np.asarray(matrix[:, target].sum(axis=1)).ravel() > 0
        lean = [int(i) for i in vis if overlap[i]]
    if not lean:
        return None
    best = min(lean, key=lambda i: (order[i] in totals, values[i] == 0, values[i], i))
    return order[best]


def table_atoms(cells: Mapping[str, Sequence[Cell | None]],
                dims: Mapping[str, Mapping[str, Dim]]) -> list[Cell]:
    """The disjoint cells of a table: per group of its cells on the same dimensions, the product
    of the blocks each dimension's code sets cut its codes into, kept where the block lies inside
    one of the group's cells (e.g. "category c, reached stage s but not s+1")."""
    groups: dict[tuple[str, tuple[str, ...]], list[Cell]] = {}
    for defs in cells.values():
        for c in defs:
            if c is not None and not c.more:  # a union's parts are not published one by one
                groups.setdefault((c.unit, c.dims()), []).append(c)
    out: list[Cell] = []
    for (unit, ds), members in groups.items():
        blocks = []
        for j, d in enumerate(ds):
            codes = dims[unit][d].codes
            sig = {code: tuple(code in m.where[j][1] for m in members) for code in codes}
            parts: dict[tuple[bool, ...], list[str]] = {}
            for code in codes:
                parts.setdefault(sig[code], []).append(code)
            blocks.append([frozenset(p) for s, p in parts.items() if any(s)])
        for combo in itertools.product(*blocks):
            if not any(all(combo[j] <= m.where[j][1] for j in range(len(ds))) for m in members):
                continue
            out.append(Cell(unit, tuple(zip(ds, combo, strict=True))))
    return out


# ---------------------------------------------------------------------------------------------
# Several ledgers of one unit
# ---------------------------------------------------------------------------------------------

def _merge_dims(files: Sequence[Mapping[str, Any]], into: Ledger | None) -> dict[str, dict[str, Dim]]:
    """The dimensions of all files together. With ``into`` (a live ledger) its declarations are
    the frame: every dimension a file uses must be declared there, with at least its codes.
    Without, same-named dimensions are joined (codes in order of first appearance)."""
    if into is not None:
        out = {u: dict(into.dims[u]) for u in UNITS}
        for f in files:
            for obj in f["dimensions"]:
                d = Dim.from_json(obj)
                have = out[d.unit].get(d.name)
                if have is None:
                    raise LedgerError(f"dimension {d.unit}/{d.name} of an earlier notebook is not declared")
                if set(d.codes) - set(have.codes) or d.parent != have.parent:
                    raise LedgerError(f"dimension {d.unit}/{d.name}: an earlier notebook declared "
                                      "other codes")
        return out
    out = {u: {} for u in UNITS}
    for f in files:
        for obj in f["dimensions"]:
            d = Dim.from_json(obj)
            have = out[d.unit].get(d.name)
            if have is None:
                out[d.unit][d.name] = d
                continue
            if d.parent != have.parent:
                raise LedgerError(f"dimension {d.unit}/{d.name} is declared with two parents")
            allowed = None
            if have.allowed is not None or d.allowed is not None:
                allowed = dict(have.allowed or {})
                for c, v in (d.allowed or {}).items():
                    if c in allowed and allowed[c] != v:
                        raise LedgerError(f"dimension {d.unit}/{d.name}: code {c} has two structural rules")
                    allowed[c] = v
            codes = (*have.codes, *(c for c in d.codes if c not in have.codes))
            out[d.unit][d.name] = Dim(d.unit, d.name, codes, have.parent, allowed)
    return out


def merge(files: Sequence[Mapping[str, Any]], into: Ledger | None = None) -> dict[str, Any]:
    """The ledger definitions of several notebooks of one publication unit as one.

    Each file's ``scope`` (conditions that pick its records out of the unit's universe, e.g. the
    year) is added to its cells where the dimension is declared (by another file, or by the live
    ledger ``into``); otherwise every file must have the same scope on it (or ``into`` has it).
    Codes a file did not declare occur nowhere in its scope: a relation says so."""
    if not files:
        return {"version": VERSION, "k": into.k if into else 0, "scope": {}, "dimensions": [],
                "tables": [], "relations": []}
    ks = {int(f["k"]) for f in files}
    if len(ks) != 1:
        raise LedgerError(f"the unit's notebooks were published with different k: {sorted(ks)}")
    dims = _merge_dims(files, into)
    target = into.scope if into is not None else None
    common: dict[str, dict[str, tuple[str, ...]]] = {}
    tables: list[dict[str, Any]] = []
    relations: list[list[list[Any]]] = []
    for f in files:
        extra: dict[str, dict[str, tuple[str, ...]]] = {}
        for u, conds in (f.get("scope") or {}).items():
            for d, codes in conds.items():
                codes = tuple(sorted(codes))
                if d in dims[u]:
                    extra.setdefault(u, {})[d] = codes
                    continue
                if target is not None:
                    want = tuple(target.get(u, {}).get(d, ()))
                else:
                    want = common.setdefault(u, {}).setdefault(d, codes)
                if want != codes:
                    raise LedgerError(f"the notebooks' records differ ({u}: {d} = {codes} and {want}), "
                                      f"and no ledger declares {d!r} to tell them apart")
        if target is not None:
            for u, conds in target.items():
                for d, codes in conds.items():
                    got = tuple(sorted((f.get("scope") or {}).get(u, {}).get(d, ())))
                    if got != codes and any(Cell.from_key(kk).unit == u for t in f["tables"]
                                            for keys in t["cells"].values() for kk in keys if kk):
                        raise LedgerError(f"an earlier notebook counts other {u} records than this one ({d})")

        def tr(key: str, extra: dict[str, dict[str, tuple[str, ...]]] = extra) -> str:
            c = Cell.from_key(key)
            return c.also(**extra[c.unit]).key() if c.unit in extra else key

        for t in f["tables"]:
            tables.append({**t, "cells": {col: [tr(kk) if kk else None for kk in keys]
                                          for col, keys in t["cells"].items()},
                           "protect": [tr(kk) for kk in t.get("protect", [])]})
        relations += [[[coef, tr(kk)] for coef, kk in r] for r in f.get("relations", [])]
        for obj in f["dimensions"]:  # codes this file never saw cannot occur in its scope
            d = Dim.from_json(obj)
            missing = [c for c in dims[d.unit][d.name].codes if c not in d.codes]
            if missing:
                relations.append([[1.0, tr(Cell.of(d.unit, **{d.name: missing}).key())]])
    return {"version": VERSION, "k": ks.pop(), "scope": common,
            "dimensions": [d.to_json() for u in UNITS for d in dims[u].values()],
            "tables": tables, "relations": relations}


# ---------------------------------------------------------------------------------------------
# The audit: from published values and definitions only
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditRow:
    """One hidden cell or atom and its feasible range given everything published."""

    table: str
    cell: str
    kind: str  # "dold" (a published ..), "atom" (a disjoint cell a reader could derive) or
    # "synlig" (a count 1..k-1 printed as it is)
    lo: float
    hi: float
    disclosed: bool
    #: False for a cell settled safe at once, by a feasible point where it exceeds k-1
    #: (:func:`_settle_large`) or an integer one where it is 0 (:func:`_settle_zero`): it can then
    #: take at least every value in [lo, hi]; its exact range was not computed
    exact: bool = True


def _settle_large(b: Bounds, expr: Mapping[str, np.ndarray], k: int) -> dict[str, tuple[float, float]]:
    """Targets that are not small for certain: :func:`_certify`'s LP optima of the summed maximum
    where a target reaches k shows that its LP range reaches beyond k-1, the audit's own test of a
    safe cell (:func:`audit_ranges`). Key -> (the smallest, the largest value seen at a feasible
    point; the smallest from one point of the summed minimum, 0 exact). One LP settles many."""
    high = _certify(b, list(expr), expr, -1, k + 1)
    seen = {t: [v, v] for t, (v, _) in high.items()}
    if seen:
        x = b.point([expr[t] for t in seen], +1)
        if x is not None:
            for t, v in seen.items():
                v[0] = min(v[0], float(np.round(x[expr[t]].sum(), 6)))
    return {t: (v[0], v[1]) for t, v in seen.items()}


#: :func:`_settle_zero` seeks integer points while at least this many cells are open (a last few
#: hard ones are faster one by one through the exact ranges).
SETTLE_ZERO_AT_LEAST = 16


def _settle_zero(b: Bounds, expr: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Targets that can be 0 at an integer solution, so not a small count for certain: integer
    points (:meth:`Bounds.integer_point`, which keeps them in the pool) of the summed minimum over
    the targets not yet settled, while each settles at least half of those left (the first
    settles most, in seconds; a last few hard ones are faster one by one through the exact
    ranges). Key -> the largest value seen at them."""
    seen: dict[str, float] = {}
    points: list[np.ndarray] = []
    left = list(expr)
    while len(left) >= SETTLE_ZERO_AT_LEAST:
        x = b.integer_point([expr[t] for t in left], +1)
        if x is None:
            break
        points.append(x)
        new = [t for t in left if x[expr[t]].sum() < 0.5]
        seen.update({t: 0.0 for t in new})
        if 2 * len(new) < len(left):
            break
        left = [t for t in left if t not in seen]
    return {t: max(float(np.round(p[expr[t]].sum())) for p in points) for t in seen}


def audit_ranges(definitions: Mapping[str, Any], published: Mapping[str, pd.DataFrame],
                 only: Container[str] | None = None) -> list[AuditRow]:
    """Rebuild the attacker's model from ``ledger.json`` (``definitions``) and the published
    tables (``published``: name -> the table as read back, ``..`` kept as text) and return the
    feasible range of every hidden cell and of every table atom that is not visible.

    ``only``: range just these hidden cells and atoms (canonical keys; a count printed small is
    always reported). Whoever knows the true counts may ask only about those of 1..k-1: a range
    that discloses lies inside [1, k-1], so it holds the true count, and the disclosed rows are
    the same as the full audit's."""
    k = int(definitions["k"])
    dims: dict[str, dict[str, Dim]] = {u: {} for u in UNITS}
    for obj in definitions["dimensions"]:
        d = Dim.from_json(obj)
        dims[d.unit][d.name] = d
    known: dict[str, float] = {}
    visible_in: dict[str, str] = {}
    hidden: dict[str, str] = {}
    cell_tables: dict[str, Cell] = {}
    atoms: dict[str, tuple[str, Cell]] = {}
    for t in definitions["tables"]:
        frame = published.get(t["name"])
        if frame is None:
            raise LedgerError(f"audit: table {t['name']} is in ledger.json but was not published")
        defs: dict[str, list[Cell | None]] = {}
        for col, keys in t["cells"].items():
            if col not in frame.columns:
                raise LedgerError(f"audit: column {col} of {t['name']} is missing in the published table")
            defs[col] = [Cell.from_key(kk) if kk else None for kk in keys]
            for i, raw in enumerate(keys):
                if raw is None:
                    continue
                cell = canonical(Cell.from_key(raw), dims)
                kk = cell.key()
                cell_tables.setdefault(kk, cell)
                v = frame[col].iloc[i]
                if disclose.is_suppressed(v):
                    hidden.setdefault(kk, t["name"])
                elif v is not None and not (isinstance(v, float) and np.isnan(v)):
                    if kk in known and known[kk] != float(v):
                        raise LedgerError(f"audit: {kk} is published as {known[kk]} and {v}")
                    known[kk] = float(v)
                    visible_in.setdefault(kk, t["name"])
        for a in table_atoms(defs, dims) + [Cell.from_key(kk) for kk in t.get("protect", [])]:
            a = canonical(a, dims)
            atoms.setdefault(a.key(), (t["name"], a))
    shown_small = {kk: table for kk, table in visible_in.items() if 1 <= known[kk] < k}
    hidden = {kk: v for kk, v in hidden.items() if kk not in known}
    relations_def = [Relation(tuple((float(coef), canonical(Cell.from_key(kk), dims)) for coef, kk in r))
                     for r in definitions.get("relations", [])]
    model = Model(dims, [*cell_tables.values(), *(a for _, a in atoms.values()),
                         *(c for r in relations_def for _, c in r.terms)])
    order = list(known)
    matrix = _sparse_rows([model.expression(cell_tables[kk]) for kk in order], model.n)
    b = Bounds(model, matrix, np.array([known[kk] for kk in order], dtype=float),
               np.ones(len(order), dtype=bool), _relation_matrix(model, relations_def))
    # a small count shown anywhere (also one hidden in another table) is disclosed outright
    rows: list[AuditRow] = [AuditRow(table, kk, "synlig", known[kk], known[kk], True)
                            for kk, table in shown_small.items()]

    def lp_range(e: np.ndarray) -> tuple[float, float, bool] | None:
        """The LP range and whether it needs the integer tightening; None: certainly not small."""
        lo, _, int_lo = b.bound(e, +1)
        if lo > k - 1 + 1e-9:
            return None
        hi, _, int_hi = b.bound(e, -1)
        return lo, hi, not (int_lo and int_hi) and lo >= -1e-9 and hi <= k - 1 + 1e-9

    def integer_range(e: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
        """The LP range ``[lo, hi]`` inside [0, k-1] tightened to the integer range (exact where it
        decides; with an integer 0 feasible the cell is safe and hi stays floor(LP hi))."""
        vals = range(int(np.ceil(lo - 1e-9)), int(np.floor(hi + 1e-9)) + 1)
        low = next((v for v in vals if b.integer_feasible(e, v, v)), None)
        if low is None:
            return lo, hi
        if low < 1:
            return float(low), float(vals[-1])
        high = next(v for v in reversed(vals) if v == low or b.integer_feasible(e, v, v))
        return float(low), float(high)

    targets: dict[str, tuple[str, str, np.ndarray]] = {
        kk: (table, "dold", model.expression(cell_tables[kk])) for kk, table in hidden.items()}
    for kk, (table, a) in atoms.items():
        if kk not in known and kk not in hidden:
            targets[kk] = (table, "atom", model.expression(a))
    if only is not None:
        targets = {kk: t for kk, t in targets.items() if kk in only}
    # a cell whose LP range reaches beyond k-1 is safe by the test below: many are settled at once
    large = _settle_large(b, {kk: e for kk, (_, _, e) in targets.items()}, k)
    # a cell that can be 0 is safe by the test below: integer points of the summed minimum over
    # the cells left show many at once (and join the pool that integer_range reads first)
    zero = _settle_zero(b, {kk: e for kk, (_, _, e) in targets.items() if kk not in large})
    ranges = {kk: lp_range(e) for kk, (_, _, e) in targets.items() if kk not in large and kk not in zero}
    for kk, (table, kind, e) in targets.items():
        if kk in large:  # listed when its range reaches below k (its LP minimum, if no point showed it)
            lo = large[kk][0] if large[kk][0] <= k - 1 + 1e-9 else b.bound(e, +1)[0]
            if lo <= k - 1 + 1e-9:
                rows.append(AuditRow(table, kk, kind, lo, large[kk][1], False, exact=False))
            continue
        if kk in zero:
            rows.append(AuditRow(table, kk, kind, 0.0, zero[kk], False, exact=False))
            continue
        r = ranges[kk]
        if r is None:
            continue  # certainly not small
        lo, hi = integer_range(e, r[0], r[1]) if r[2] else (r[0], r[1])
        rows.append(AuditRow(table, kk, kind, lo, hi, discloses(lo, hi, k)))
    return rows
