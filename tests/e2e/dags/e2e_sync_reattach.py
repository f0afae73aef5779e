"""One synchronous Batch task (it waits in its worker) with a retry; its job waits until released."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

with DAG("e2e_sync_reattach", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e"]):
    BatchStreamSubmitJobOperator(
        task_id="job",
        region="us-central1",
        image_uri="us-central1-docker.pkg.dev/demo-project/containers/debian:12",
        commands=["true"],
        labels={"emulator-hold": "true"},
        deferrable=False,
        poll_interval=1,
        retries=1,
        retry_delay=timedelta(seconds=1),
    )
