"""Tests of small-cell and secondary suppression (genomlysning.disclose)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from genomlysning import disclose, schema
from genomlysning.disclose import SUPPRESSED, feasible_ranges, mask_table, suppression_mask

K = 5


def _determined_by_margins(values: np.ndarray, hidden: np.ndarray, rows: bool, columns: bool) -> list:
    """Hidden cells the linear system of the margins pins down (rank test, independent of the
    graph code in the module): cell e is determined iff e's unit vector is in the row space."""
    idx = list(zip(*np.nonzero(hidden), strict=True))
    lines = []
    if rows:
        lines += [[n for n, (r, _) in enumerate(idx) if r == i] for i in range(values.shape[0])]
    if columns:
        lines += [[n for n, (_, c) in enumerate(idx) if c == j] for j in range(values.shape[1])]
    a = np.zeros((len(lines), len(idx)))
    for i, members in enumerate(lines):
        a[i, members] = 1
    rank = np.linalg.matrix_rank(a) if len(lines) else 0
    out = []
    for n, cell in enumerate(idx):
        e = np.zeros((1, len(idx)))
        e[0, n] = 1
        if len(lines) and np.linalg.matrix_rank(np.vstack([a, e])) == rank:
            out.append(cell)
    return out


tables = hnp.arrays(np.int64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
                    elements=st.one_of(st.integers(0, 6), st.integers(0, 60)))
series = hnp.arrays(np.int64, st.integers(1, 10), elements=st.one_of(st.integers(0, 6), st.integers(0, 60)))


@settings(max_examples=80, deadline=None)
@given(tables, st.integers(2, 6))
def test_two_way_table_properties(values: np.ndarray, k: int) -> None:
    hidden = suppression_mask(pd.DataFrame(values), k).to_numpy()
    # 1. no visible count in 1..k-1, every primary cell hidden
    assert not ((values >= 1) & (values < k) & ~hidden).any()
    n_rows, n_cols = values.shape
    rows, columns = n_cols > 1, n_rows > 1
    # 2. every row / column with a hidden cell has at least two (or the line is a single cell)
    if rows:
        assert all(hidden[i].sum() != 1 for i in range(n_rows))
    if columns:
        assert all(hidden[:, j].sum() != 1 for j in range(n_cols))
    # 3. no hidden cell is determined by the linear system of the margins
    if rows or columns:
        assert _determined_by_margins(values, hidden, rows, columns) == []
    # 4. exact feasible ranges (with non-negativity): no hidden non-zero cell is pinned to one value
    #    (a zero pinned to 0 reveals only what is published anyway), unless the margins pin it even
    #    when every cell is hidden (then no suppression could protect it).
    #    Only hidden zeros can make non-negativity bite (with every hidden cell >= 1, a null-space
    #    direction through a cell not fixed by step 3 moves it by +-1), so the LPs run only then.
    if (rows or columns) and (hidden & (values == 0)).any():
        lo, hi = feasible_ranges(values, hidden, rows=rows, columns=columns)
        for r, c in zip(*np.nonzero(hidden), strict=True):
            assert lo[r, c] <= values[r, c] <= hi[r, c]
            if hi[r, c] - lo[r, c] < 0.5 and values[r, c] > 0:
                assert hidden.all()
                lo_all, hi_all = feasible_ranges(values, np.ones_like(hidden), rows=rows, columns=columns)
                assert hi_all[r, c] - lo_all[r, c] < 0.5


@settings(max_examples=80, deadline=None)
@given(series, st.integers(2, 6))
def test_series_properties(values: np.ndarray, k: int) -> None:
    hidden = suppression_mask(pd.Series(values), k).to_numpy()
    assert not ((values >= 1) & (values < k) & ~hidden).any()
    if len(values) > 1:
        assert hidden.sum() != 1
        # the total and the visible cells never pin a hidden cell: each ranges over [0, hidden sum]
        lo, hi = feasible_ranges(values[None, :], hidden[None, :], rows=True, columns=False)
        for j in np.flatnonzero(hidden):
            assert (lo[0, j], hi[0, j]) == (0, values[hidden].sum()) and hi[0, j] > 0


@settings(max_examples=100, deadline=None)
@given(tables, st.integers(2, 6))
def test_one_direction_margins_are_one_dimensional(values: np.ndarray, k: int) -> None:
    hidden = suppression_mask(pd.DataFrame(values), k, margins="columns").to_numpy()
    for j in range(values.shape[1]):
        expect = suppression_mask(pd.Series(values[:, j]), k).to_numpy()
        assert (hidden[:, j] == expect).all()
    hidden_r = suppression_mask(pd.DataFrame(values), k, margins="rows").to_numpy()
    for i in range(values.shape[0]):
        assert (hidden_r[i] == suppression_mask(pd.Series(values[i]), k).to_numpy()).all()


@settings(max_examples=100, deadline=None)
@given(tables, st.integers(2, 6))
def test_without_margins_only_primary(values: np.ndarray, k: int) -> None:
    hidden = suppression_mask(pd.DataFrame(values), k, margins=False).to_numpy()
    assert (hidden == ((values >= 1) & (values < k))).all()


def test_zero_is_shown_and_large_counts_untouched() -> None:
    s = pd.Series([0, 5, 12, 40], index=list("abcd"))
    assert not suppression_mask(s, 5).any()
    assert suppression_mask(pd.Series([0, 4]), 5).tolist() == [True, True]  # only a zero to pair with


def test_hand_computed_two_way() -> None:
    # 3 is primary; row 0 takes its smallest other cell (7), column 0 its smallest (10),
    # column 2 then needs a second one (6): a 4-cycle, nothing more.
    df = pd.DataFrame({"a": [3, 10, 20], "b": [12, 8, 30], "c": [7, 6, 40]})
    expected = pd.DataFrame({"a": [True, True, False], "b": [False] * 3, "c": [True, True, False]})
    pd.testing.assert_frame_equal(suppression_mask(df, 5), expected)


def test_series_prefers_smallest_non_zero_complement() -> None:
    s = pd.Series([3, 10, 20, 0, 9])
    assert suppression_mask(s, 5).tolist() == [True, False, False, False, True]


def test_bridge_is_closed() -> None:
    # Two 2x2 blocks of small cells joined only through one row: without the bridge check the
    # degree rule alone is satisfied but the joining cells would be determined by the margins.
    values = np.array([
        [2, 2, 50, 50],
        [2, 2, 50, 50],
        [50, 60, 2, 2],
        [50, 60, 2, 2],
    ])
    hidden = suppression_mask(pd.DataFrame(values), 5).to_numpy()
    assert _determined_by_margins(values, hidden, True, True) == []
    assert hidden.sum() == 8  # two independent 4-cycles already protect each other


def test_zero_complement_pinned_by_non_negativity_gets_more() -> None:
    # Hiding 3 with the zeros beside it would pin 3 (zero row/column totals force the zeros).
    values = np.array([[3, 0, 20], [0, 0, 30], [40, 50, 60]])
    hidden = suppression_mask(pd.DataFrame(values), 5).to_numpy()
    lo, hi = feasible_ranges(values, hidden)
    assert hi[0, 0] - lo[0, 0] >= 1


def test_feasible_ranges_hand_case() -> None:
    values = np.array([[3, 7], [10, 20]])
    lo, hi = feasible_ranges(values, np.ones((2, 2), dtype=bool))
    # x00 = t, x01 = 10 - t, x10 = 13 - t, x11 = 17 + t  ->  0 <= t <= 10
    assert (lo[0, 0], hi[0, 0]) == (0, 10)
    assert (lo[1, 1], hi[1, 1]) == (17, 27)


def test_mask_table_linked_and_by() -> None:
    t = pd.DataFrame({
        "variabel": ["kon", "kon", "kon", "alder", "alder"],
        "kategori": ["f", "p", "o", "a", "b"],
        "n": [30, 28, 2, 40, 20],
        "x": [10, 12, 0, 3, 19],
    })
    t["andel"] = t["x"] / t["n"]
    out = mask_table(t, ["n", "x"], 5, linked={"andel": ["n", "x"]}, by=["variabel"], margins="columns")
    assert out["n"].tolist() == [30, SUPPRESSED, SUPPRESSED, 40, 20]  # 2 + smallest other (28)
    assert out["x"].tolist() == [10, 12, 0, SUPPRESSED, SUPPRESSED]
    assert out["andel"].map(disclose.is_suppressed).tolist() == [False, True, True, True, True]
    assert out["kategori"].tolist() == t["kategori"].tolist()
    assert t["n"].dtype.kind == "i"  # input untouched
    assert disclose.visible(out["n"]).isna().tolist() == [False, True, True, False, False]


def test_mask_table_errors() -> None:
    t = pd.DataFrame({"n": [1, 2]})
    with pytest.raises(KeyError):
        mask_table(t, ["m"], 5)
    with pytest.raises(KeyError):
        mask_table(t.assign(r=0.5), ["n"], 5, linked={"r": "z"})
    with pytest.raises(ValueError):
        suppression_mask(t, 5, margins="diagonal")  # type: ignore[arg-type]


def test_note_uses_schema_text() -> None:
    assert note_k(3) == schema.text("undertryckt", "sv", k=3)
    assert "3" in disclose.note(3, "en") and disclose.note(3, "en") != disclose.note(3, "sv")


def note_k(k: int) -> str:
    return disclose.note(k)


def _determined_linear(hidden: np.ndarray, equations: list[np.ndarray]) -> list[int]:
    """Indices of hidden cells (flattened) fixed by the linear equations (coefficient rows over all
    cells; visible cells are known constants)."""
    cols = np.flatnonzero(hidden.ravel())
    a = np.array([eq.ravel()[cols] for eq in equations]) if equations else np.zeros((0, len(cols)))
    a = a[np.abs(a).sum(axis=1) > 0] if len(a) else a
    if not len(a):
        return []
    rank = np.linalg.matrix_rank(a)
    out = []
    for n in range(len(cols)):
        e = np.zeros((1, len(cols)))
        e[0, n] = 1
        if np.linalg.matrix_rank(np.vstack([a, e])) == rank:
            out.append(int(cols[n]))
    return out


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.int64, st.tuples(st.integers(1, 6), st.just(3)),
                  elements=st.one_of(st.integers(0, 6), st.integers(0, 40))), st.integers(2, 6))
def test_totals_are_protected_with_their_parts(values: np.ndarray, k: int) -> None:
    t = pd.DataFrame({"n_ja": values[:, 0], "n_nej": values[:, 1], "n_saknas": values[:, 2]})
    t["n_bas"] = t["n_ja"] + t["n_nej"]
    t["andel"] = t["n_ja"] / t["n_bas"].where(t["n_bas"] > 0)
    cols = ["n_bas", "n_ja", "n_nej", "n_saknas"]
    out = mask_table(t, cols, k, totals={"n_bas": ["n_ja", "n_nej"]}, margins="columns",
                     linked={"andel": ["n_ja", "n_bas"]})
    hidden = out[cols].map(disclose.is_suppressed).to_numpy()
    v = t[cols].to_numpy()
    assert not ((v >= 1) & (v < k) & ~hidden).any()
    assert (hidden[:, 1] | hidden[:, 2])[hidden[:, 0]].all()  # hidden total -> hidden parts
    assert ((hidden[:, 1].astype(int) + hidden[:, 2]) != 1).all()  # parts: 0 or 2 hidden per row
    if len(t) > 1:
        assert (hidden.sum(axis=0) != 1).all()
    # linear system: rows (bas - ja - nej = 0) and the column totals of all four columns
    eqs = []
    for i in range(len(t)):
        eq = np.zeros(v.shape)
        eq[i, 0], eq[i, 1], eq[i, 2] = 1, -1, -1
        eqs.append(eq)
    if len(t) > 1:
        for j in range(4):
            eq = np.zeros(v.shape)
            eq[:, j] = 1
            eqs.append(eq)
    assert _determined_linear(hidden, eqs) == []
    assert (out["andel"].map(disclose.is_suppressed) == (hidden[:, 0] | hidden[:, 1])).all()


def test_totals_must_add_up() -> None:
    t = pd.DataFrame({"n_bas": [10, 10], "n_ja": [5, 5], "n_nej": [5, 4]})
    with pytest.raises(ValueError, match="row sum"):
        mask_table(t, ["n_bas", "n_ja", "n_nej"], 5, totals={"n_bas": ["n_ja", "n_nej"]})


@settings(max_examples=80, deadline=None)
@given(tables, st.data())
def test_pinned_agrees_with_linear_programming(values: np.ndarray, data: st.DataObject) -> None:
    hidden = data.draw(hnp.arrays(bool, values.shape))
    if not hidden.any():
        return
    lo, hi = feasible_ranges(values, hidden)
    cells = zip(*np.nonzero(hidden), strict=True)
    expected = sorted((int(r), int(c)) for r, c in cells if hi[r, c] - lo[r, c] < 0.5)
    assert sorted(disclose.pinned(values, hidden)) == expected
