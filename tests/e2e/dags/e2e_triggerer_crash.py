"""Twenty deferrable Batch tasks whose jobs wait in the queue until the test releases them.

The emulator reads its scenario from each job's labels: ``emulator-hold`` keeps the job QUEUED
until released, ``emulator-exit-code`` makes its container exit with that code (the job FAILS).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

IMAGE = "us-central1-docker.pkg.dev/demo-project/containers/debian:12"
#: Tasks whose job fails (exit code 3); the others succeed.
FAILING = {2, 7, 11, 16}

with DAG(
    "e2e_triggerer_crash",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_tasks=20,
    tags=["e2e"],
) as dag:
    for index in range(20):
        labels = {"emulator-hold": "true", **({"emulator-exit-code": "3"} if index in FAILING else {})}
        BatchStreamSubmitJobOperator(
            task_id=f"job_{index:02d}",
            region="us-central1",
            image_uri=IMAGE,
            commands=["true"],
            labels=labels,
            deferrable=True,
            poll_interval=2,
            retries=0,
        )
