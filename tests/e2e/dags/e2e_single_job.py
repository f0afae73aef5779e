"""Two one-task DAGs whose Batch job stays QUEUED until the test releases it (label ``emulator-hold``).

``e2e_sync_reattach``: the task waits in its worker and has a retry (the test kills its process).
``e2e_mark_failed``: the task defers to the triggerer (the test marks it failed).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

for dag_id, deferrable, retries in (("e2e_sync_reattach", False, 1), ("e2e_mark_failed", True, 0)):
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e"]):
        BatchStreamSubmitJobOperator(
            task_id="job",
            region="us-central1",
            image_uri="us-central1-docker.pkg.dev/demo-project/containers/debian:12",
            commands=["true"],
            labels={"emulator-hold": "true"},
            deferrable=deferrable,
            poll_interval=1,
            retries=retries,
            retry_delay=timedelta(seconds=1),
        )
