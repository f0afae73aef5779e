"""``make bench``: every benchmark, one table of ours beside the Google provider's.

Figures are medians of several runs (see each row's note); ``ours/theirs`` below 1 means ours
costs less (for jobs per second, higher is better). Nothing here asserts: benchmarks print.
``--quick`` runs each benchmark once at a tiny size (a smoke run, as the test suite does).
"""

from __future__ import annotations

import argparse
import time

from benchmarks import fanout, parse_cost, push, submission
from benchmarks.common import Row, table


def main() -> None:
    """Run the benchmarks and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one tiny run of each benchmark")
    args = parser.parse_args()
    started = time.monotonic()
    rows: list[Row] = []
    if args.quick:
        rows += parse_cost.run(runs=1)
        rows += submission.run(tasks=5, runs=1)
        rows += fanout.run(sizes=(20,), runs=1, scale_size=0)
        rows += push.run(sizes=(20,))
    else:
        rows += parse_cost.run()
        rows += submission.run()
        rows += fanout.run()
        rows += push.run()  # 1,000 jobs; `python -m benchmarks.push 1000 5000 10000` for the README's
    print(table(rows))
    print(f"\n(all benchmarks took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
