"""Helpers for the waiting tests: make a job in the emulator and run a trigger to its one event."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from dag_files import dags_folder, load_dag

from airflow_batchstream.triggers.batch import BatchStreamJobTrigger

PARENT = "projects/demo-project/locations/us-central1"
IMAGE = "us-central1-docker.pkg.dev/demo-project/containers/debian:12"
#: A one-task DAG file: the submit operator with a short poll interval and the test's arguments.
DAG_SOURCE = """
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    BatchStreamSubmitJobOperator(
        task_id="job", region="us-central1", image_uri={image!r}, poll_interval=0.1, {kwargs}
    )
"""
#: Run a test once with a synchronous wait and once deferred.
MODES = pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])


def write_dag(dag_id: str, kwargs: str):
    """Write a one-task DAG whose operator gets ``kwargs`` (Python source) and return it loaded.

    :param dag_id: the DAG's id (and file name).
    :param kwargs: more operator arguments, as Python source (``datetime`` and ``timedelta`` are imported).
    """
    (dags_folder() / f"{dag_id}.py").write_text(DAG_SOURCE.format(dag_id=dag_id, image=IMAGE, kwargs=kwargs))
    return load_dag(dag_id)


def create_job(
    emulator: Any,
    job_id: str,
    labels: dict[str, str] | None = None,
    task_count: int = 1,
    max_retry_count: int = 0,
) -> str:
    """Create a one-container job through the real client; return its full name.

    :param emulator: the running :class:`BatchEmulator`.
    :param job_id: the job's id.
    :param labels: the job's labels.
    :param task_count: how many tasks run the container.
    :param max_retry_count: how many times a failed task runs again.
    """
    from google.cloud import batch_v1alpha as batch

    job = batch.Job(
        task_groups=[
            batch.TaskGroup(
                task_count=task_count,
                task_spec=batch.TaskSpec(
                    runnables=[batch.Runnable(container=batch.Runnable.Container(image_uri=IMAGE))],
                    max_retry_count=max_retry_count,
                ),
            )
        ],
        labels=labels or {},
    )
    return emulator.client().create_job(parent=PARENT, job_id=job_id, job=job).name


def job_state(emulator: Any, name: str) -> str:
    """Return a job's state name as the emulator reports it now.

    :param emulator: the running :class:`BatchEmulator`.
    :param name: the job's full resource name.
    """
    return emulator.client().get_job(name=name).status.state.name


def wait_until_ended(emulator: Any, name: str, timeout: float = 30.0) -> str:
    """Wait (at most ``timeout`` seconds) until a job is SUCCEEDED, FAILED or CANCELLED; return its state.

    :param emulator: the running :class:`BatchEmulator`.
    :param name: the job's full resource name.
    :param timeout: seconds to wait at most.
    """
    deadline = time.monotonic() + timeout
    while (state := job_state(emulator, name)) not in ("SUCCEEDED", "FAILED", "CANCELLED"):
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} is still {state} after {timeout} s")
        time.sleep(0.05)
    return state


def run_trigger(trigger: BatchStreamJobTrigger) -> dict[str, Any]:
    """Run a trigger in a fresh event loop, as ``dag.test()`` does, and return its one event's payload.

    :param trigger: the trigger.
    """

    async def first_event() -> dict[str, Any]:
        events = [event.payload async for event in trigger.run()]
        assert len(events) == 1
        return events[0]

    return asyncio.run(first_event())
