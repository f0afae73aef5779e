"""Waiting and looking at the emulator's jobs, for the end-to-end scenarios."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from airflow_batchstream.spec import label_value

T = TypeVar("T")
PARENT = "projects/demo-project/locations/us-central1"
#: The task instance state each final job state must lead to.
TI_STATE_OF_JOB = {"SUCCEEDED": "success", "FAILED": "failed", "CANCELLED": "failed"}


def wait_until(check: Callable[[], T], timeout: float, what: str, interval: float = 1.0) -> T:
    """
    Call ``check`` until it returns something truthy; return that, or fail after ``timeout`` seconds.

    :param check: the condition; its truthy result is returned.
    :param timeout: seconds to wait.
    :param what: what is awaited, for the failure message.
    :param interval: seconds between two calls.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(interval)


def jobs_of_run(batch_client: Any, dag_id: str, run_id: str) -> dict[str, list[Any]]:
    """
    Return the emulator's jobs of one DAG run by Airflow task id (from the labels the operator sets).

    :param batch_client: a Batch client of the emulator.
    :param dag_id: the DAG's id.
    :param run_id: the run's id.
    """
    jobs: dict[str, list[Any]] = {}
    for job in batch_client.list_jobs(parent=PARENT):
        if job.labels.get("airflow-dag-id") == label_value(dag_id) and job.labels.get(
            "airflow-run-id"
        ) == label_value(run_id):
            jobs.setdefault(job.labels["airflow-task-id"], []).append(job)
    return jobs
