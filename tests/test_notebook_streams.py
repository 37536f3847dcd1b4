"""Saved notebooks do not depend on how the kernel split a print into stream messages."""

from __future__ import annotations

import nbformat

from genomlysning import runner


def _nb(outputs: list[dict]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('a'); print('b')")
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    nb.cells = [cell]
    return nb


def test_consecutive_streams_of_one_name_are_merged() -> None:
    one = _nb([{"output_type": "stream", "name": "stdout", "text": "norrvik: 10 rader in\nklart\n"}])
    split = _nb([{"output_type": "stream", "name": "stdout", "text": "norrvik: 10 rader"},
                 {"output_type": "stream", "name": "stdout", "text": " in\n"},
                 {"output_type": "stream", "name": "stdout", "text": "klart\n"}])
    assert nbformat.writes(runner.strip_volatile(split)) == nbformat.writes(runner.strip_volatile(one))


def test_other_outputs_and_other_streams_keep_their_order() -> None:
    outputs = [{"output_type": "stream", "name": "stdout", "text": "a\n"},
               {"output_type": "stream", "name": "stderr", "text": "varning\n"},
               {"output_type": "stream", "name": "stdout", "text": "b\n"},
               {"output_type": "display_data", "data": {"text/plain": "x"}, "metadata": {}},
               {"output_type": "stream", "name": "stdout", "text": ["c\n", "d\n"]},
               {"output_type": "stream", "name": "stdout", "text": "e\n"}]
    out = runner.strip_volatile(_nb(outputs)).cells[0].outputs
    assert [(o["output_type"], o.get("name"), o.get("text")) for o in out] == [
        ("stream", "stdout", "a\n"), ("stream", "stderr", "varning\n"), ("stream", "stdout", "b\n"),
        ("display_data", None, None), ("stream", "stdout", "c\nd\ne\n")]
