"""Push beside polling: N jobs waited on through job-state notifications (Pub/Sub), through the
shared poller, and through the Google provider's trigger, each in a fresh triggerer-like process.

Same harness as :mod:`benchmarks.fanout` (jobs end at random times within a window, 10 % fail;
time scaled so a real 10 s poll interval is :data:`benchmarks.fanout.SCALED_INTERVALS`). Push
jobs carry a ``JOB_STATE_CHANGED`` notification; the emulator publishes it when the state
changes, and the push triggers' safety-net poll is 30 intervals (the real 300 s), longer than any
job here. Batch reads per job count GetJob and ListJobs; Pub/Sub calls (Pull, Acknowledge,
ModifyAckDeadline) are another service's quota and are reported apart. The seconds the triggerer
and the emulator spent runnable but waiting for a CPU (Linux schedstat) tell a slow machine from
slow code.
"""

from __future__ import annotations

import sys

from benchmarks.common import Row
from benchmarks.fanout import REAL_INTERVAL, SCALED_INTERVALS, run_once

#: The implementations compared, in column order: push and shared poller are ours.
IMPLS = ("push", "ours", "theirs")


def run(sizes: tuple[int, ...] = (1000,), theirs_up_to: int = 5000) -> list[Row]:
    """Run push, the shared poller and the Google provider's trigger once per size.

    :param sizes: numbers of jobs watched at once.
    :param theirs_up_to: the largest size the Google provider's trigger runs at (one GetJob per job
        per interval: 10,000 jobs would need 4,000 calls a second of this machine).
    """
    from airflow_batchstream.emulator.server import BatchEmulator

    rows: list[Row] = []
    with BatchEmulator(queued_seconds=0.2, scheduled_seconds=0.2, max_workers=8) as emulator:
        for size in sizes:
            impls = [impl for impl in IMPLS if impl != "theirs" or size <= theirs_up_to]
            sample = {impl: run_once(emulator, impl, size, f"push-bench-{impl}-{size}") for impl in impls}
            theirs = sample.get("theirs", {})
            interval = SCALED_INTERVALS.get(size, 0.25)
            note = f"{size:,} jobs, poll {interval:g} s (real: {REAL_INTERVAL:g} s); one run"
            area = f"Push {size:,}"
            for key, metric in (
                ("reads_per_job", "Batch reads per job"),
                ("lag_p50", "detection lag p50 (s)"),
                ("lag_p99", "detection lag p99 (s)"),
                ("cpu_s", "triggerer CPU seconds"),
                # Runnable but not running: seconds other processes of the machine took from these two.
                ("cpu_wait_s", "triggerer seconds waiting for a CPU"),
                ("emulator_cpu_wait_s", "emulator seconds waiting for a CPU"),
                ("peak_rss_mib", "triggerer peak RSS (MiB)"),
                ("missed", "final events missed or wrong"),
            ):
                rows.append(Row(area, f"{metric}: push", sample["push"][key], theirs.get(key), note))
                rows.append(Row(area, f"{metric}: shared poller", sample["ours"][key], theirs.get(key), note))
            rows.append(
                Row(
                    area,
                    "Pub/Sub calls per job: push",
                    sample["push"]["pubsub_per_job"],
                    None,
                    "Pull, Ack, ModAck",
                )
            )
    return rows


if __name__ == "__main__":
    from benchmarks.common import table

    print(table(run(tuple(int(arg) for arg in sys.argv[1:]) or (1000,))))
