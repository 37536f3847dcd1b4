"""Monte Carlo bias and coverage of the published shares (``make simulate``).

Runs :func:`genomlysning.simulation.run` (default 1 000 replicates of the synthetic generator,
about five minutes on one core) and prints, per quantity and estimator, the mean bias in
percentage points and the coverage of the 95 % intervals with their Monte Carlo standard errors.
``--save FILE`` also writes the table as CSV. Nothing is asserted here: ``tests/test_simulation.py``
(marker ``simulation``, left out of ``make test``) asserts the same numbers.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from genomlysning import simulation


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=simulation.REPLICATES)
    ap.add_argument("--seed", type=int, default=simulation.SEED)
    ap.add_argument("--save", type=Path, default=None, help="write the summary as CSV")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    table = simulation.run(args.replicates, seed=args.seed)
    print(simulation.format_summary(table))
    print(f"\n{args.replicates} replicates, seed {args.seed}, {time.perf_counter() - t0:.0f} s")
    if args.save is not None:
        table.to_csv(args.save, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
