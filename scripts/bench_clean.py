"""Benchmark of the cleaning stage: import + clean of one file, rows per second and peak memory.

``bench_clean(path)`` is what ``scripts/bench.py`` (``make bench``) calls; run it directly for one
file, e.g. the national-size benchmark CSV written by ``genomlysning demo-data --national 420000``::

    .venv/bin/python scripts/bench_clean.py data/raw/nationell/aktualiseringar.csv [--repeat 3]

Each repeat runs in a fresh process so that the peak resident memory (``ru_maxrss``) belongs to that
run alone; the medians over the repeats are reported. Nothing is written to data/processed.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

#: The params of a benchmark run: synthetic data (demo key), the demo period end, default window.
BENCH_PARAMS: dict[str, Any] = {"kommun": "nationell", "synthetic": True, "period_slut": "2025-12-31",
                                "ateraktualisering_manader": 12}


def bench_clean(path: str | Path, write: bool = False) -> dict[str, Any]:
    """Import and clean ``path`` once in this process; return rows, seconds, rows/s and peak RSS (MB).

    ``cpu_seconds`` (process CPU time) is reported beside the wall-clock ``seconds``: on a shared
    machine it shows the cost of the code itself.

    ``seconds_import`` and ``seconds_clean`` split the time; with ``write`` the processed files are
    also written (to data/processed/nationell/) and timed as ``seconds_write``.
    """
    from genomlysning import clean, ingest

    c0, t0 = time.process_time(), time.perf_counter()
    raw = ingest.read_raw(path, BENCH_PARAMS)
    t1 = time.perf_counter()
    result = clean.clean(raw, BENCH_PARAMS)
    t2 = time.perf_counter()
    if write:
        clean.write_processed(result, BENCH_PARAMS["kommun"])
    t3, c3 = time.perf_counter(), time.process_time()
    acc = result.accounting
    seconds = t3 - t0
    return {
        "rows": acc["rows_in"],
        "rows_clean": acc["rows_clean"],
        "rows_quarantined": acc["rows_quarantined"],
        "seconds": round(seconds, 3),
        "cpu_seconds": round(c3 - c0, 3),
        "seconds_import": round(t1 - t0, 3),
        "seconds_clean": round(t2 - t1, 3),
        "seconds_write": round(t3 - t2, 3),
        "rows_per_second": round(acc["rows_in"] / seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def bench_clean_repeated(path: str | Path, repeat: int = 3) -> dict[str, Any]:
    """Run :func:`bench_clean` ``repeat`` times, each in a fresh process; return the medians and runs."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, __file__, str(path), "--once"], check=True,
                             capture_output=True, text=True)
        runs.append(json.loads(out.stdout))
    keys = ("seconds", "cpu_seconds", "seconds_import", "seconds_clean", "rows_per_second", "peak_rss_mb")
    return {"rows": runs[0]["rows"], **{f"median_{k}": statistics.median(r[k] for r in runs) for k in keys},
            "runs": runs}


def main(argv: list[str] | None = None) -> int:
    """Command line: one file, ``--repeat N`` fresh-process runs (``--once``: a single in-process run)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="raw CSV/xlsx to import and clean")
    parser.add_argument("--repeat", type=int, default=3, help="fresh-process runs (default: %(default)s)")
    parser.add_argument("--once", action="store_true", help="one run in this process, JSON on stdout")
    args = parser.parse_args(argv)
    result = bench_clean(args.path) if args.once else bench_clean_repeated(args.path, args.repeat)
    print(json.dumps(result, indent=None if args.once else 2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
