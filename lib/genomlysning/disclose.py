"""Statistical disclosure control: small-cell (primary) and secondary suppression.

Convention (Kolada and most Swedish municipal reports):

* **Primary suppression**: every count from 1 to ``k - 1`` is hidden and shown as ``..``.
  A count of **0 is shown**: "nobody in this group" does not single out a child, and hiding zeros
  would hide most of a small municipality's tables. (Zeros can still be chosen as *secondary*
  cells when nothing else is available.)
* **Secondary suppression**: when totals are published (``margins``), a hidden cell must not be
  recomputable from the totals and the visible cells. Every row and column with a hidden cell gets
  at least two hidden cells, then every hidden cell must lie on a cycle of hidden cells (otherwise
  the linear system of the margins pins it down), and finally - when hidden zeros make the
  non-negativity constraints bite - an exact check (:func:`pinned`) makes sure no hidden non-zero
  cell's feasible range is a single value (a hidden zero pinned to 0 reveals only a zero).
  Additional cells are chosen smallest first, non-zero before zero, so that as little as possible
  is hidden. ``mask_table(totals=...)`` also protects a count column that is the row sum of
  others (e.g. a group size next to its yes/no/unknown counts).
* Rates, confidence bounds and estimates computed from a hidden count are hidden too
  (``mask_table(..., linked=...)``).

What is *not* protected: totals themselves (they are published as they are: hide a small total
by not publishing it), differences between visible counts of nested funnel stages (e.g. the
number not reaching the next stage), and links between separate tables (each table is protected
on its own; the same count vector always gets the same mask, so tables sharing a margin agree).
Tables are expected to hold the categories only, not a total row: the totals are the margins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from genomlysning import schema

#: The marker of a suppressed value (as Kolada and SCB use it).
SUPPRESSED = ".."

Margins = bool | Literal["rows", "columns"]


def note(k: int, lang: schema.Lang = "sv") -> str:
    """Return the suppression note for a table footer (threshold ``k``)."""
    return schema.text("undertryckt", lang, k=k)


def primary_mask(values: np.ndarray, k: int) -> np.ndarray:
    """Cells with a count from 1 to ``k - 1`` (NaN counts are never hidden)."""
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        return (v >= 1) & (v < k)


def _pick(values: np.ndarray, hidden: np.ndarray, cells: list[tuple[int, int]],
          crossing: int | None = None) -> tuple[int, int] | None:
    """The cheapest visible candidate: a non-zero count before a zero, then (when ``crossing`` is
    0 = rows or 1 = columns) a cell whose crossing line needs a second hidden cell before one whose
    line is already protected before one that would need a partner of its own, then the smallest
    count; ties by position."""
    best: tuple[int, int, float, int, int] | None = None
    for r, c in cells:
        v = values[r, c]
        if hidden[r, c] or np.isnan(v):
            continue
        cost = 0
        if crossing is not None:
            h = int(hidden[r, :].sum() if crossing == 0 else hidden[:, c].sum())
            cost = 0 if h == 1 else (1 if h >= 2 else 2)
        key = (0 if v > 0 else 1, cost, v if v > 0 else 0.0, r, c)
        if best is None or key < best:
            best = key
    return None if best is None else (best[3], best[4])


def _fix_lines(values: np.ndarray, hidden: np.ndarray, axis: int) -> bool:
    """Give every line (row if axis=1, column if axis=0) with exactly one hidden cell a second one."""
    changed = False
    n_lines = hidden.shape[0] if axis == 1 else hidden.shape[1]
    n_cells = hidden.shape[1] if axis == 1 else hidden.shape[0]
    for i in range(n_lines):
        line = hidden[i, :] if axis == 1 else hidden[:, i]
        if line.sum() != 1:
            continue
        cells = [(i, j) if axis == 1 else (j, i) for j in range(n_cells)]
        pick = _pick(values, hidden, cells, crossing=1 if axis == 1 else 0)
        if pick is not None:
            hidden[pick] = True
            changed = True
    return changed


def _component(hidden: np.ndarray, start: tuple[str, int], skip: tuple[int, int]) -> set[tuple[str, int]]:
    """Rows and columns connected to ``start`` through hidden cells, ignoring the cell ``skip``."""
    seen = {start}
    stack = [start]
    while stack:
        kind, i = stack.pop()
        if kind == "r":
            nbrs = [("c", j) for j in np.flatnonzero(hidden[i, :]) if (i, j) != skip]
        else:
            nbrs = [("r", r) for r in np.flatnonzero(hidden[:, i]) if (r, i) != skip]
        for nb in nbrs:
            if nb not in seen:
                seen.add(nb)
                stack.append(nb)
    return seen


def bridges(hidden: np.ndarray) -> list[tuple[int, int]]:
    """Hidden cells on no cycle of hidden cells: the margins determine them exactly."""
    out = []
    for r, c in zip(*np.nonzero(hidden), strict=True):
        if ("c", int(c)) not in _component(hidden, ("r", int(r)), (int(r), int(c))):
            out.append((int(r), int(c)))
    return out


def _fix_bridge(values: np.ndarray, hidden: np.ndarray, cell: tuple[int, int]) -> bool:
    """Hide a cell that closes a cycle through the bridge ``cell``."""
    r, c = cell
    side = _component(hidden, ("r", r), cell)
    rows_a = [i for kind, i in side if kind == "r"]
    cols_a = [j for kind, j in side if kind == "c"]
    rows_b = [i for i in range(hidden.shape[0]) if i not in rows_a]
    cols_b = [j for j in range(hidden.shape[1]) if j not in cols_a]
    cells = [(i, j) for i in rows_a for j in cols_b] + [(i, j) for i in rows_b for j in cols_a]
    pick = _pick(values, hidden, [x for x in cells if x != cell])
    if pick is None:
        return False
    hidden[pick] = True
    return True


def feasible_ranges(values: np.ndarray, hidden: np.ndarray, *, rows: bool = True,
                    columns: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Exact [min, max] of every hidden cell given the visible cells, the published margins and
    non-negativity (linear programming; the transportation polytope has integer vertices).

    Returns two arrays shaped like ``values`` (NaN where the cell is visible).
    """
    from scipy.optimize import linprog

    v = np.nan_to_num(np.asarray(values, dtype=float))
    idx = list(zip(*np.nonzero(hidden), strict=True))
    lo = np.full(v.shape, np.nan)
    hi = np.full(v.shape, np.nan)
    if not idx:
        return lo, hi
    a_eq, b_eq = [], []
    lines = ([(0, i) for i in range(v.shape[0])] if rows else []) + \
            ([(1, j) for j in range(v.shape[1])] if columns else [])
    for axis, i in lines:
        members = [n for n, (r, c) in enumerate(idx) if (r if axis == 0 else c) == i]
        if not members:
            continue
        row = np.zeros(len(idx))
        row[members] = 1.0
        a_eq.append(row)
        b_eq.append(sum(v[idx[n]] for n in members))
    for n, cell in enumerate(idx):
        bounds = []
        for sign in (1.0, -1.0):
            cost = np.zeros(len(idx))
            cost[n] = sign
            res = linprog(cost, A_eq=np.array(a_eq) if a_eq else None,
                          b_eq=np.array(b_eq) if b_eq else None, bounds=(0, None), method="highs")
            bounds.append(sign * res.fun if res.status == 0 else np.inf * sign)
        lo[cell], hi[cell] = bounds[0], bounds[1]
    return lo, hi


def _reaches(hidden: np.ndarray, positive: np.ndarray, skip: tuple[int, int], start: tuple[str, int],
             goal: tuple[str, int]) -> bool:
    """Directed search: row -> column along any hidden cell (it may grow), column -> row along a
    hidden cell > 0 (it may shrink), never through ``skip``."""
    seen, stack = {start}, [start]
    while stack:
        kind, i = stack.pop()
        if kind == "r":
            nbrs = [("c", int(j)) for j in np.flatnonzero(hidden[i, :]) if (i, j) != skip]
        else:
            nbrs = [("r", int(r)) for r in np.flatnonzero(hidden[:, i] & positive[:, i]) if (r, i) != skip]
        for nb in nbrs:
            if nb == goal:
                return True
            if nb not in seen:
                seen.add(nb)
                stack.append(nb)
    return False


def pinned(values: np.ndarray, hidden: np.ndarray) -> list[tuple[int, int]]:
    """Hidden cells whose value is the only one consistent with the row and column totals, the
    visible cells and non-negativity.

    Exact, without LP: a cell (r, c) can grow iff a cycle of hidden cells alternates it with cells
    that can shrink (value > 0), i.e. a directed path c -> r exists; it can shrink (value > 0) iff a
    path r -> c exists (conformal decomposition of the feasible directions into cycles).
    """
    positive = np.nan_to_num(np.asarray(values, dtype=float)) > 0
    out = []
    for r, c in zip(*np.nonzero(hidden), strict=True):
        cell = (int(r), int(c))
        grow = _reaches(hidden, positive, cell, ("c", cell[1]), ("r", cell[0]))
        shrink = positive[cell] and _reaches(hidden, positive, cell, ("r", cell[0]), ("c", cell[1]))
        if not (grow or shrink):
            out.append(cell)
    return out


def _fix_singletons(values: np.ndarray, hidden: np.ndarray) -> bool:
    """Hide one more cell next to the first hidden non-zero cell whose feasible range is a single
    value (a hidden zero pinned to 0 discloses nothing: zeros are published anyway)."""
    v = np.asarray(values, dtype=float)
    if not (hidden & (np.nan_to_num(v) == 0)).any():
        return False  # all hidden cells >= 1: every cycle can shift by +-1, no range is a point
    for r, c in pinned(v, hidden):
        if not np.nan_to_num(v[r, c]) > 0:
            continue
        line = [(r, j) for j in range(v.shape[1])] + [(i, c) for i in range(v.shape[0])]
        pick = _pick(v, hidden, line) or _pick(v, hidden, list(np.ndindex(v.shape)))
        if pick is not None:
            hidden[pick] = True
            return True
    return False


def _mask_1d(values: np.ndarray, k: int, margins: bool, seed: np.ndarray | None = None) -> np.ndarray:
    """1-D suppression: a line with a published total needs 0 or >= 2 hidden cells."""
    hidden = primary_mask(values, k) if seed is None else primary_mask(values, k) | seed
    if margins and len(values) > 1 and hidden.sum() == 1:
        pick = _pick(values[None, :], hidden[None, :], [(0, j) for j in range(len(values))])
        if pick is not None:
            hidden[pick[1]] = True
    return hidden


def _mask_2d(values: np.ndarray, k: int, rows: bool, columns: bool,
             seed: np.ndarray | None = None) -> np.ndarray:
    """2-D suppression with row totals (``rows``) and/or column totals (``columns``) published;
    ``seed`` marks cells that must be hidden whatever their value."""
    hidden = primary_mask(values, k)
    if seed is not None:
        hidden = hidden | seed
    n_rows, n_cols = values.shape
    rows = rows and n_cols > 1  # a one-cell row: its "total" is the cell itself, not a margin
    columns = columns and n_rows > 1
    if not (rows or columns):
        return hidden
    if rows != columns:  # totals along one direction only: independent 1-D problems
        if rows:
            return np.vstack([_mask_1d(values[i, :], k, True, hidden[i, :]) for i in range(n_rows)])
        return np.column_stack([_mask_1d(values[:, j], k, True, hidden[:, j]) for j in range(n_cols)])
    while True:
        if _fix_lines(values, hidden, axis=1) | _fix_lines(values, hidden, axis=0):
            continue
        found = bridges(hidden)
        if found and _fix_bridge(values, hidden, found[0]):
            continue
        if _fix_singletons(values, hidden):
            continue
        return hidden


def _margin_flags(margins: Margins) -> tuple[bool, bool]:
    if margins is True:
        return True, True
    if margins is False:
        return False, False
    if margins in ("rows", "columns"):
        return margins == "rows", margins == "columns"
    raise ValueError(f"margins must be True, False, 'rows' or 'columns', not {margins!r}")


def suppression_mask(counts: pd.DataFrame | pd.Series, k: int, *, margins: Margins = True,
                     ) -> pd.DataFrame | pd.Series:
    """Return a boolean mask shaped like ``counts``: True = hide.

    ``margins``: which totals are published next to the table - True (row and column totals),
    "rows" (the total of each row), "columns" (the total of each column) or False (none: primary
    suppression only). A Series is one line with its total.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    rows, columns = _margin_flags(margins)
    if isinstance(counts, pd.Series):
        values = pd.to_numeric(counts, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return pd.Series(_mask_1d(values, k, rows or columns), index=counts.index, name=counts.name)
    values = counts.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if values.size == 0:
        return pd.DataFrame(False, index=counts.index, columns=counts.columns)
    hidden = _mask_2d(values, k, rows, columns)
    return pd.DataFrame(hidden, index=counts.index, columns=counts.columns)


def _numeric(frame: pd.DataFrame) -> np.ndarray:
    return frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _mask_group(counts: pd.DataFrame, k: int, margins: Margins,
                totals: Mapping[str, Sequence[str]]) -> np.ndarray:
    """Mask of one sub-table; ``totals`` columns are row sums of their parts (see mask_table)."""
    cols = list(counts.columns)
    parts = {p for ps in totals.values() for p in ps}
    rest = [c for c in cols if c not in parts]
    hidden = np.zeros(counts.shape, dtype=bool)
    if rest:
        h_rest = suppression_mask(counts[rest], k, margins=margins).to_numpy()
        hidden[:, [cols.index(c) for c in rest]] = h_rest
    _, columns = _margin_flags(margins)
    for total, ps in totals.items():
        seed = np.repeat(hidden[:, [cols.index(total)]], len(ps), axis=1)
        h_parts = _mask_2d(_numeric(counts[list(ps)]), k, True, columns, seed=seed)
        hidden[:, [cols.index(p) for p in ps]] = h_parts
    return hidden


def mask_table(table: pd.DataFrame, count_cols: Sequence[str], k: int, *,
               linked: Mapping[str, str | Sequence[str]] | None = None,
               by: Sequence[str] | None = None, margins: Margins = True,
               totals: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Return a copy of a tidy table with hidden counts and everything computed from them as ``..``.

    ``count_cols`` form the count matrix (rows x count columns) that is suppressed; ``linked``
    maps a derived column (rate, CI bound, estimate) to the count column(s) it was computed from -
    it is hidden wherever any of them is (map a rate to its numerator AND denominator). ``by``
    names columns whose values define separate sub-tables (e.g. one breakdown per variable),
    suppressed independently. Columns holding a ``..`` become object dtype; nothing is formatted.

    ``totals`` (optional) declares count columns that are row sums of other count columns, e.g.
    ``{"n_bas": ["n_ja", "n_nej"]}``: the total is suppressed with the other non-part columns
    under ``margins``; its parts as a table whose row totals are published (a hidden part always
    has a hidden partner in its row) and whose column totals follow ``margins``; and wherever the
    total is hidden, all its parts are hidden too (otherwise they would add up to it).
    """
    totals = {t: list(ps) for t, ps in (totals or {}).items()}
    needed = [*count_cols, *(by or []), *(linked or {}), *totals, *(p for ps in totals.values() for p in ps)]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise KeyError(f"mask_table: columns not in the table: {missing}")
    linked = {col: [src] if isinstance(src, str) else list(src) for col, src in (linked or {}).items()}
    for col, srcs in [*linked.items(), *totals.items(), *((t, [t]) for t in totals)]:
        bad = [s for s in srcs if s not in count_cols]
        if bad:
            raise KeyError(f"mask_table: {col!r} refers to {bad}, which are not count columns")
    for total, ps in totals.items():
        v_total, v_parts = _numeric(table[[total]])[:, 0], _numeric(table[ps]).sum(axis=1)
        if not np.allclose(v_total[~np.isnan(v_total)], v_parts[~np.isnan(v_total)]):
            raise ValueError(f"mask_table: {total!r} is not the row sum of {ps}")
    counts = table[list(count_cols)]
    hidden = np.zeros(counts.shape, dtype=bool)
    if by:
        groups = list(table.groupby(list(by), sort=False, dropna=False).indices.values())
    else:
        groups = [np.arange(len(table))]
    for pos in groups:
        hidden[pos] = _mask_group(counts.iloc[pos], k, margins, totals)
    out = table.copy()
    targets = {c: hidden[:, i] for i, c in enumerate(count_cols)}
    for col, srcs in linked.items():
        targets[col] = hidden[:, [list(count_cols).index(s) for s in srcs]].any(axis=1)
    for col, mask in targets.items():
        if mask.any():
            values = out[col].astype(object).to_numpy(copy=True)
            values[mask] = SUPPRESSED
            out[col] = pd.Series(values, index=out.index, dtype=object)
    return out


def is_suppressed(value: object) -> bool:
    """True if ``value`` is the suppression marker."""
    return isinstance(value, str) and value == SUPPRESSED


def visible(series: pd.Series) -> pd.Series:
    """Numeric view of a masked column: ``..`` becomes NaN (for figures, which draw no hidden value)."""
    return pd.to_numeric(series.where(~series.map(is_suppressed)), errors="coerce")
