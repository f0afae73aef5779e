"""
A daily pipeline: each run processes the partition of its logical date (``{{ ds }}``), then publishes it.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

PROJECT_ID = os.environ.get("BATCHSTREAM_PROJECT_ID", "demo-project")
REGION = os.environ.get("BATCHSTREAM_REGION", "us-central1")
REPOSITORY = os.environ.get("BATCHSTREAM_REPOSITORY", "containers")
IMAGE = f"{REGION}-docker.pkg.dev/{PROJECT_ID}/{REPOSITORY}/debian:12"

with DAG(
    dag_id="example_image_streaming_daily",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "batchstream"],
) as dag:
    process = BatchStreamSubmitJobOperator(
        task_id="process_partition",
        project_id=PROJECT_ID,
        region=REGION,
        image_uri=IMAGE,
        entrypoint="/bin/sh",
        commands=["-c", "echo processing partition dt={{ ds }} task $BATCH_TASK_INDEX"],
        task_count=4,
        parallelism=2,
        environment={"PARTITION": "{{ ds_nodash }}"},
        labels={"partition": "{{ ds_nodash }}"},
    )
    publish = BatchStreamSubmitJobOperator(
        task_id="publish_partition",
        project_id=PROJECT_ID,
        region=REGION,
        image_uri=IMAGE,
        entrypoint="/bin/sh",
        commands=["-c", "echo publishing dt={{ ds }}"],
    )
    process >> publish


if __name__ == "__main__":
    dag.test()
