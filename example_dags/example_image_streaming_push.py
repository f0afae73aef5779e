"""
Wait for a job by push, not poll: Batch publishes the job's state changes to a Pub/Sub topic and
the triggerer pulls them from a subscription, reading the job once when it has ended.

The operator adds a ``JOB_STATE_CHANGED`` notification to the job and creates the topic and the
subscription first if they are missing. A sensor waits for the same job through the same
subscription. With ``BATCH_EMULATOR_HOST`` and ``PUBSUB_EMULATOR_HOST`` set (the same address) it
runs against the local emulator; without them, against your project (the job's service account
needs ``roles/pubsub.publisher`` on the topic, the Airflow connection ``roles/pubsub.subscriber``).
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator
from airflow_batchstream.sensors.batch import BatchStreamJobSensor

PROJECT_ID = os.environ.get("BATCHSTREAM_PROJECT_ID", "demo-project")
REGION = os.environ.get("BATCHSTREAM_REGION", "us-central1")
REPOSITORY = os.environ.get("BATCHSTREAM_REPOSITORY", "containers")
TOPIC = os.environ.get("BATCHSTREAM_NOTIFICATION_TOPIC", "batchstream-job-states")
SUBSCRIPTION = os.environ.get("BATCHSTREAM_NOTIFICATION_SUBSCRIPTION", "batchstream-job-states-airflow")

with DAG(
    dag_id="example_image_streaming_push",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "batchstream"],
) as dag:
    # Submit and return at once; the topic and subscription are created first if missing.
    submit = BatchStreamSubmitJobOperator(
        task_id="submit_notified_job",
        project_id=PROJECT_ID,
        region=REGION,
        image_uri=f"{REGION}-docker.pkg.dev/{PROJECT_ID}/{REPOSITORY}/python:3.12-slim",
        entrypoint="python3",
        commands=["-c", "print('told, not asked')"],
        notification_topic=TOPIC,
        notification_subscription=SUBSCRIPTION,
        create_notification_subscription=True,
        wait_for_completion=False,
    )
    # Wait for it in the triggerer, woken by its notifications.
    wait = BatchStreamJobSensor(
        task_id="wait_by_push",
        job_name="{{ ti.xcom_pull('submit_notified_job')['job_name'] }}",
        notification_subscription=SUBSCRIPTION,
        deferrable=True,
        timeout=600,
    )
    # Or submit and wait in one task, the same way.
    run = BatchStreamSubmitJobOperator(
        task_id="run_and_wait_by_push",
        project_id=PROJECT_ID,
        region=REGION,
        image_uri=f"{REGION}-docker.pkg.dev/{PROJECT_ID}/{REPOSITORY}/python:3.12-slim",
        entrypoint="python3",
        commands=["-c", "print('told again')"],
        notification_topic=TOPIC,
        notification_subscription=SUBSCRIPTION,
        deferrable=True,
    )
    submit >> wait >> run

if __name__ == "__main__":
    dag.test()
