"""Execute notebooks in place at their default parameters and strip volatile metadata.

This is how the committed notebook outputs (compared by nbval) are refreshed::

    .venv/bin/python scripts/execute_notebook.py notebooks/01_cleaning.ipynb [...]

The notebook runs with its own folder as working directory, exactly as nbval and the runner run it.
Execution timestamps, papermill metadata and kernel-specific ids are removed so that a re-run on the
same inputs gives a byte-identical file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from genomlysning.runner import strip_volatile


def execute(path: Path, timeout: int = 600) -> None:
    """Execute ``path`` in place with its folder as working directory."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(strip_volatile(nb), path)


def main(argv: list[str]) -> int:
    """Execute every notebook named on the command line."""
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend, so figures are in the outputs
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    for name in argv:
        execute(Path(name).resolve())
        print(f"executed {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
