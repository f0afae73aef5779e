"""Submission: operator ``execute`` until CreateJob has answered, for many sequential tasks.

Both operators run against the same in-process emulator with one client built up front and reused
(the harness hands it to both hooks), so the figure is the per-task work of each operator:
building the job, labels and ids, and the CreateJob round trip. The harness stops each ``execute``
right after CreateJob returns (it would otherwise go on waiting for the job).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from unittest import mock

from benchmarks.common import Row, emulator_env, median

PROJECT, REGION = "demo-project", "us-central1"
IMAGE = "us-central1-docker.pkg.dev/demo-project/repo/image:1"


class _Created(Exception):
    """Raised by the harness's client right after CreateJob returned: stop ``execute`` there."""


class _StopAfterCreate:
    """Wrap a client: CreateJob is real, then the harness records the time and stops the task."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.created_at = 0.0

    def create_job(self, *args: Any, **kwargs: Any) -> Any:
        self._client.create_job(*args, **kwargs)
        self.created_at = time.perf_counter()
        raise _Created

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _time_tasks(count: int, make: Callable[[int], Any], client: _StopAfterCreate, run_id: str) -> list[float]:
    from airflow.sdk.bases.operator import ExecutorSafeguard

    latencies = []
    for i in range(count):
        operator = make(i)
        context = {
            "ti": SimpleNamespace(
                dag_id="bench", task_id=operator.task_id, run_id=run_id, map_index=-1, try_number=1
            )
        }
        # Called the way the task runner calls it (with the safeguard's sentinel), so no warning per call.
        sentinel = {f"{type(operator).__name__}__sentinel": ExecutorSafeguard.sentinel_value}
        start = time.perf_counter()
        try:
            operator.execute(context, **sentinel)
        except _Created:
            latencies.append(client.created_at - start)
        else:
            raise RuntimeError("execute returned without creating a job")
    return latencies


def _ours(count: int, client: _StopAfterCreate, run: int) -> list[float]:
    from airflow_batchstream.hooks.batch import BatchStreamHook
    from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

    hook = BatchStreamHook()
    hook.__dict__["_client"] = client  # the harness's one client, reused by every task

    def make(i: int) -> Any:
        operator = BatchStreamSubmitJobOperator(
            task_id=f"ours_{i}",
            region=REGION,
            project_id=PROJECT,
            image_uri=IMAGE,
            commands=["python", "-c", f"print({i})"],
        )
        operator.__dict__["hook"] = hook
        return operator

    return _time_tasks(count, make, client, f"ours-{run}")


def _theirs(count: int, client: _StopAfterCreate, run: int) -> list[float]:
    from airflow.providers.google.cloud.hooks.cloud_batch import CloudBatchHook
    from airflow.providers.google.cloud.operators.cloud_batch import CloudBatchSubmitJobOperator

    def make(i: int) -> Any:
        return CloudBatchSubmitJobOperator(
            task_id=f"theirs_{i}",
            region=REGION,
            project_id=PROJECT,
            job_name=f"theirs-{run}-{i}",
            job={
                "task_groups": [
                    {
                        "task_spec": {
                            "runnables": [
                                {
                                    "container": {
                                        "image_uri": IMAGE,
                                        "commands": ["python", "-c", f"print({i})"],
                                        "enable_image_streaming": True,
                                    }
                                }
                            ]
                        }
                    }
                ]
            },
        )

    # Their operator builds a new hook per execute; the harness gives every one the same client.
    with mock.patch.object(CloudBatchHook, "get_conn", return_value=client):
        return _time_tasks(count, make, client, f"theirs-{run}")


def run(tasks: int = 200, runs: int = 3) -> list[Row]:
    """Submit ``tasks`` jobs one after another with each operator, ``runs`` times.

    :param tasks: sequential tasks per run.
    :param runs: runs per operator; medians are reported.
    """
    from airflow_batchstream.emulator.server import BatchEmulator

    with (
        BatchEmulator(queued_seconds=3600) as emulator,
        mock.patch.dict(os.environ, emulator_env(emulator.address)),
    ):
        ours_client = _StopAfterCreate(emulator.client("v1"))  # the hook's default API version
        theirs_client = _StopAfterCreate(emulator.client("v1"))
        _ours(3, ours_client, -1)  # warm both paths (first imports, channel connect)
        _theirs(3, theirs_client, -1)
        results: dict[str, list[tuple[float, float]]] = {"ours": [], "theirs": []}
        for run_index in range(runs):
            for name, fn, client in (("ours", _ours, ours_client), ("theirs", _theirs, theirs_client)):
                started = time.perf_counter()
                latencies = fn(tasks, client, run_index)
                elapsed = time.perf_counter() - started
                results[name].append((median(latencies), tasks / elapsed))
    note = f"{tasks} sequential tasks, one reused client; median of {runs} runs"
    return [
        Row(
            "Submission",
            "execute -> job created, median (ms)",
            median([r[0] for r in results["ours"]]) * 1e3,
            median([r[0] for r in results["theirs"]]) * 1e3,
            note,
        ),
        Row(
            "Submission",
            "jobs per second",
            median([r[1] for r in results["ours"]]),
            median([r[1] for r in results["theirs"]]),
            note + "; higher is better",
        ),
    ]


if __name__ == "__main__":
    from benchmarks.common import table

    print(table(run()))
