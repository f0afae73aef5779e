"""Many deferrable Batch tasks whose jobs wait in the queue until the test releases them.

``conf``: ``count`` (mapped task instances) and ``failing`` (their indices whose job fails: the
``emulator-exit-code`` label makes the emulator's container exit 3). ``emulator-hold`` keeps every
job QUEUED until the test releases it, so the test decides when the triggers' jobs end.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, task

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

with DAG(
    "e2e_many_deferred",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_tasks=1000,
    params={"count": 100, "failing": []},
    tags=["e2e"],
):

    @task
    def job_labels(params: dict[str, Any] | None = None) -> list[dict[str, str]]:
        """The labels of each mapped task instance's job."""
        assert params is not None
        failing = set(params["failing"])
        return [
            {
                "emulator-hold": "true",
                "index": str(i),
                **({"emulator-exit-code": "3"} if i in failing else {}),
            }
            for i in range(params["count"])
        ]

    BatchStreamSubmitJobOperator.partial(
        task_id="job",
        region="us-central1",
        image_uri="us-central1-docker.pkg.dev/demo-project/containers/debian:12",
        commands=["true"],
        deferrable=True,
        poll_interval=2,
        retries=0,
    ).expand(labels=job_labels())
