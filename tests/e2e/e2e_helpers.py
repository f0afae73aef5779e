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
#: The job states a finished wait leaves a job in.
TERMINAL = frozenset(TI_STATE_OF_JOB)


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


def mapped_instances(api: Any, dag_id: str, run_id: str, task_id: str) -> dict[int, dict[str, Any]]:
    """
    Return a mapped task's instances in one DAG run by map index, as the REST API gives them.

    :param api: the deployment's REST client.
    :param dag_id: the DAG's id.
    :param run_id: the run's id.
    :param task_id: the mapped task's id.
    """
    path = f"{api.task_path(dag_id, run_id, task_id)}/listMapped"
    found: dict[int, dict[str, Any]] = {}
    while True:  # the API caps a page at [api] maximum_page_limit (100 by default)
        page = api.request("GET", path, params={"limit": 100, "offset": len(found)}).json()
        found.update((ti["map_index"], ti) for ti in page["task_instances"])
        if not page["task_instances"] or len(found) >= page["total_entries"]:
            return found
