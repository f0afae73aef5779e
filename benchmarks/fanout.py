"""Triggerer fan-out: N jobs watched at once by one event loop, ours beside the Google provider's.

The emulator runs in this process; each watcher process (:mod:`benchmarks.fanout_worker`) is a
fresh interpreter, the way a triggerer runs triggers. Jobs are created straight in the emulator's
engine (the harness's work, not counted as API calls) and end at random times within a window;
10 % fail. Time is scaled: the poll interval and the window are a fraction of real ones, so the
*per job* and *per round* figures carry over while the run stays short.

Measured per run: API calls per job (the emulator's RPC counts), detection lag (the job's terminal
time in the emulator to the event in the watcher) p50/p99, peak RSS of the watcher process, CPU
seconds it spent watching, and jobs whose final event never came before the deadline or named
another state than the job ended in (the other side reports any API error as its final event).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from typing import Any

from benchmarks.common import Row, emulator_env, median, percentile, runqueue_wait

PROJECT, REGION = "demo-project", "us-central1"
REAL_INTERVAL = 10.0
#: Time scaling: the poll interval standing for the real 10 s default of both providers, per size.
#: Larger fan-outs get a longer one so the other side's one GetJob per job per interval stays
#: within what one machine serves (about 400 to 2,000 calls a second here); other sizes: 0.25 s.
SCALED_INTERVALS = {100: 0.25, 1000: 1.0, 5000: 2.5, 10_000: 2.5}
#: Each job runs between these many poll intervals (40 s to 2 minutes at a real 10 s interval).
#: Short jobs favour the other side: per-job polling costs one call per interval a job lives.
RUN_INTERVALS = (4.0, 12.0)


def _create_jobs(engine: Any, count: int, tag: str, interval: float, topic: str | None = None) -> list[str]:
    from google.cloud import batch_v1alpha

    from airflow_batchstream.emulator.model import LABEL_EXIT_CODE, LABEL_RUN_SECONDS

    runnable = batch_v1alpha.Runnable(container=batch_v1alpha.Runnable.Container(image_uri="debian:12"))
    job = batch_v1alpha.Job(
        task_groups=[batch_v1alpha.TaskGroup(task_spec=batch_v1alpha.TaskSpec(runnables=[runnable]))],
    )
    request = batch_v1alpha.CreateJobRequest.pb(
        batch_v1alpha.CreateJobRequest(parent=f"projects/{PROJECT}/locations/{REGION}", job=job)
    )
    if topic is not None:
        notification = request.job.notifications.add(pubsub_topic=topic)
        notification.message.type_ = batch_v1alpha.JobNotification.Type.JOB_STATE_CHANGED
    rng = random.Random(f"{tag}-{count}")
    names = []
    for i in range(count):
        request.job_id = f"{tag}-{i}"
        request.job.labels.clear()
        request.job.labels.update(
            {
                "managed-by": "airflow-batchstream",
                LABEL_RUN_SECONDS: f"{rng.uniform(*RUN_INTERVALS) * interval:.2f}".replace(".", "_"),
                LABEL_EXIT_CODE: "1" if rng.random() < 0.1 else "0",
            }
        )
        engine.create_job(request)
        names.append(f"{request.parent}/jobs/{request.job_id}")
    return names


def _push_subscription(emulator: Any) -> str:
    """Create the push run's topic and subscription in the emulator (the harness's work); return the topic."""
    from benchmarks.fanout_worker import SUBSCRIPTION, TOPIC

    if not emulator.pubsub.exists(SUBSCRIPTION):
        emulator.pubsub.create_topic(_pb("Topic", name=TOPIC))
        emulator.pubsub.create_subscription(_pb("Subscription", name=SUBSCRIPTION, topic=TOPIC))
    return TOPIC


def _pb(kind: str, **fields: Any) -> Any:
    from google.pubsub_v1 import types

    return getattr(types, kind).pb()(**fields)


def _result(stdout: Any) -> dict[str, Any]:
    """Read the watcher's RESULT line; pass anything else it printed (e.g. logs) to stderr."""
    for line in stdout:
        if line.startswith("RESULT "):
            return dict(json.loads(line[len("RESULT ") :]))
        sys.stderr.write(line)
    raise RuntimeError("the watcher ended without a result")


def _ending(engine: Any, name: str) -> tuple[str, float]:
    """The job's final state and when it reached it, as the emulator knows them."""
    from airflow_batchstream.emulator.model import JobPb, JobState

    job = JobPb.FromString(engine.get_job(name))
    return JobState(job.status.state).name, float(job.update_time.ToNanoseconds()) / 1e9


def run_once(emulator: Any, impl: str, count: int, tag: str) -> dict[str, float]:
    """Watch ``count`` fresh jobs with one implementation in a new watcher process.

    :param emulator: the running :class:`~airflow_batchstream.emulator.server.BatchEmulator`.
    :param impl: ``"ours"`` (shared poller), ``"push"`` (notifications) or ``"theirs"``.
    :param count: jobs watched at once.
    :param tag: a prefix making this run's job ids unique.
    """
    interval = SCALED_INTERVALS.get(count, 0.25)
    deadline = (RUN_INTERVALS[1] + 6) * interval + 10
    command = [sys.executable, "-m", "benchmarks.fanout_worker", "--impl", impl]
    command += ["--address", emulator.address, "--interval", str(interval), "--deadline", str(deadline)]
    env = {**os.environ, **emulator_env(emulator.address)}
    with (
        subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        ) as worker,
        tempfile.NamedTemporaryFile("w", suffix=".json") as names_file,
    ):
        assert worker.stdin is not None and worker.stdout is not None
        if worker.stdout.readline().strip() != "READY":
            raise RuntimeError(f"the {impl} watcher did not start")
        topic = _push_subscription(emulator) if impl == "push" else None
        names = _create_jobs(emulator.engine, count, tag, interval, topic)
        json.dump(names, names_file)
        names_file.flush()
        emulator.reset_counts()
        emulator_waited = runqueue_wait()
        worker.stdin.write(names_file.name + "\n")
        worker.stdin.flush()
        result = _result(worker.stdout)
        emulator_waited = runqueue_wait() - emulator_waited
        worker.wait(timeout=30)
    counts = emulator.rpc_counts(by_version=True)
    calls = sum(counts.values())
    reads = sum(n for key, n in counts.items() if key.endswith((".GetJob", ".ListJobs")))
    pubsub = sum(n for key, n in counts.items() if key.startswith("pubsub."))
    lags = []
    for name, (event_time, outcome) in result["events"].items():
        state, ended = _ending(emulator.engine, name)
        if outcome == state:  # an error event, or a wrong state, counts as missed
            lags.append(event_time - ended)
    for name in names:
        emulator.engine.vanish_job(name)
    poller = result["poller"] or {}
    return {
        "calls_per_job": calls / count,
        "reads_per_job": reads / count,
        "pubsub_per_job": pubsub / count,
        "lag_p50": percentile(lags, 0.5),
        "lag_p99": percentile(lags, 0.99),
        "peak_rss_mib": result["peak_rss"] / 2**20,
        "cpu_s": result["cpu"],
        "cpu_wait_s": result["runqueue_wait"],
        "emulator_cpu_wait_s": emulator_waited,
        "missed": count - len(lags),
        "busiest_listing": poller.get("busiest_listing", 0),
        "gets_per_job": poller.get("get_calls", 0) / count,
    }


def run(
    sizes: tuple[int, ...] = (100, 1000, 5000),
    runs: int = 3,
    scale_size: int = 10_000,
) -> list[Row]:
    """Run the fan-out for each size and implementation, then ours alone at ``scale_size`` jobs.

    :param sizes: numbers of jobs watched at once.
    :param runs: runs per size and implementation; medians are reported.
    :param scale_size: jobs for the shared poller's call-rate run (0 skips it).
    """
    from airflow_batchstream.emulator.server import BatchEmulator

    rows: list[Row] = []
    with BatchEmulator(queued_seconds=0.2, scheduled_seconds=0.2, max_workers=8) as emulator:
        for size in sizes:
            samples: dict[str, list[dict[str, float]]] = {"ours": [], "theirs": []}
            for index in range(runs):
                for impl in ("ours", "theirs"):
                    samples[impl].append(run_once(emulator, impl, size, f"{impl}-{size}-{index}"))

            def both(key: str, samples: dict[str, list[dict[str, float]]] = samples) -> tuple[float, float]:
                return median([s[key] for s in samples["ours"]]), median([s[key] for s in samples["theirs"]])

            interval = SCALED_INTERVALS.get(size, 0.25)
            note = f"{size:,} jobs, poll {interval:g} s (real: {REAL_INTERVAL:g} s); median of {runs}"
            area = f"Fan-out {size:,}"
            rows += [
                Row(area, "API calls per job", *both("calls_per_job"), note),
                Row(area, "detection lag p50 (s)", *both("lag_p50"), note),
                Row(area, "detection lag p99 (s)", *both("lag_p99"), note),
                Row(area, "peak RSS of the loop's process (MiB)", *both("peak_rss_mib"), note),
                Row(area, "CPU seconds", *both("cpu_s"), note),
                Row(area, "final events missed or wrong", *both("missed"), note),
            ]
        if scale_size:
            rows += _scale_rows(run_once(emulator, "ours", scale_size, f"scale-{scale_size}"), scale_size)
    return rows


def _scale_rows(sample: dict[str, float], size: int) -> list[Row]:
    """What one shared poller costs at ``size`` watched jobs, in a region's read quota."""
    listing = sample["busiest_listing"] * 60 / REAL_INTERVAL
    gets = sample["gets_per_job"] * size / 30  # jobs of 30 minutes on average: size / 30 end a minute
    note = f"{size:,} jobs, ours only (one run)"
    area = f"Scale {size:,}"
    interval = SCALED_INTERVALS.get(size, 0.25)
    return [
        Row(area, "ListJobs pages in the busiest round", sample["busiest_listing"], None, note),
        Row(area, "GetJob per job", sample["gets_per_job"], None, "ends the ended lists did not hold"),
        Row(area, "reads/min, real 10 s, 30-min jobs", listing + gets, None, "busiest round x 6 + GetJobs"),
        Row(area, "that, as % of 15,000 reads/min", (listing + gets) / 150, None, "Batch read quota"),
        Row(area, "theirs on paper: reads/min", None, size * 60 / REAL_INTERVAL, "GetJob per job per 10 s"),
        Row(area, "detection lag p99 (s)", sample["lag_p99"], None, f"{note}, poll {interval:g} s"),
        Row(area, "final events missed or wrong", sample["missed"], None, note),
    ]


if __name__ == "__main__":
    from benchmarks.common import table

    sizes = tuple(int(arg) for arg in sys.argv[1:]) or (100, 1000, 5000)
    print(table(run(sizes)))
