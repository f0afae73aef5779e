"""Many Batch tasks per run, half synchronous and half deferrable; the trigger form's conf sets the shape.

``conf``: ``count`` (mapped task instances in the run) and ``failing`` (their indices whose job
fails: the ``emulator-exit-code`` label makes the emulator's container exit 3).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, task

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

with DAG(
    "e2e_soak",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_tasks=64,
    params={"count": 50, "failing": []},
    tags=["e2e"],
):

    @task
    def job_arguments(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """One set of operator arguments per mapped task instance."""
        assert params is not None
        failing = set(params["failing"])
        return [
            {
                "labels": {"soak-index": str(i), **({"emulator-exit-code": "3"} if i in failing else {})},
                "deferrable": i % 2 == 1,
            }
            for i in range(params["count"])
        ]

    BatchStreamSubmitJobOperator.partial(
        task_id="job",
        region="us-central1",
        image_uri="us-central1-docker.pkg.dev/demo-project/containers/debian:12",
        commands=["true"],
        poll_interval=2,
        retries=2,
        retry_delay=timedelta(seconds=1),
    ).expand_kwargs(job_arguments())
