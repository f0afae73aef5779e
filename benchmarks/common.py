"""Helpers every benchmark shares: medians, ratios, one result row, the table."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One line of the table: a figure measured for both providers.

    :param area: the benchmark, e.g. ``"DAG parse"``.
    :param metric: what is measured, with its unit.
    :param ours: our figure (a median of runs); ``None`` when not measured.
    :param theirs: the Google provider's figure; ``None`` when not measured.
    :param note: anything a reader needs to read the figure right.
    """

    area: str
    metric: str
    ours: float | None
    theirs: float | None
    note: str = ""

    @property
    def ratio(self) -> str:
        """``ours / theirs`` as text; below 1 means ours costs less."""
        if self.ours is None or self.theirs is None:
            return "-"
        if self.theirs == 0:
            return "-" if self.ours == 0 else "inf"
        return f"{self.ours / self.theirs:.3f}"


def median(values: Sequence[float]) -> float:
    """The median of some runs' figures.

    :param values: one figure per run.
    """
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of some values.

    :param values: the sample.
    :param fraction: 0.5 for the median, 0.99 for p99.
    """
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def table(rows: Sequence[Row]) -> str:
    """Render rows as one aligned text table.

    :param rows: the rows, in print order.
    """
    header = ("area", "metric", "ours", "google provider", "ours/theirs", "note")
    cells = [header] + [(r.area, r.metric, _fmt(r.ours), _fmt(r.theirs), r.ratio, r.note) for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def emulator_env(address: str) -> dict[str, str]:
    """Environment that points both providers' hooks at an emulator with an anonymous connection.

    :param address: the emulator's ``host:port``.
    """
    from airflow_batchstream.emulator.pytest_plugin import DEFAULT_CONNECTION_ENV, EMULATOR_CONNECTION

    return {
        "BATCH_EMULATOR_HOST": address,
        "PUBSUB_EMULATOR_HOST": address,
        DEFAULT_CONNECTION_ENV: EMULATOR_CONNECTION,
    }


def runqueue_wait(pid: int | str = "self") -> float:
    """Seconds the threads of a process alive now have spent runnable but waiting for a CPU (Linux
    ``/proc/PID/task/*/schedstat``, second field); 0 where the kernel does not say.

    A wait measured on a loaded machine is this minus the same figure taken before: time lost to
    other work, not to the code measured.

    :param pid: the process (``"self"`` for this one).
    """
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the thread ended meanwhile
    return total / 1e9
