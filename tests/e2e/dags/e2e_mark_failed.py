"""One deferrable Batch task whose job stays QUEUED until someone acts: the test marks it failed."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

with DAG("e2e_mark_failed", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e"]):
    BatchStreamSubmitJobOperator(
        task_id="job",
        region="us-central1",
        image_uri="us-central1-docker.pkg.dev/demo-project/containers/debian:12",
        commands=["true"],
        labels={"emulator-hold": "true"},
        deferrable=True,
        poll_interval=2,
        retries=0,
    )
