"""
Delete the Batch jobs a pipeline DAG left behind once they are older than N days.

Batch keeps an ended job for 60 days. This DAG lists the ended jobs (SUCCEEDED, FAILED,
CANCELLED) of one DAG by the labels the submit operator puts on every job it creates
(``airflow-dag-id`` and ``managed-by=airflow-batchstream``), keeps those created more than
``older_than_days`` days before the run, and deletes each one (a mapped task). With ``dry_run``
(the default) it only lists them and deletes nothing. Trigger it with ``--conf`` or the UI form.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_batchstream.operators.lifecycle import BatchStreamDeleteJobOperator
from airflow_batchstream.operators.listing import BatchStreamListJobsOperator

PROJECT_ID = os.environ.get("BATCHSTREAM_PROJECT_ID", "demo-project")
REGION = os.environ.get("BATCHSTREAM_REGION", "us-central1")
#: The run's start less ``older_than_days``: jobs created before it are old enough.
CUTOFF = "{{ (dag_run.run_after - macros.timedelta(days=params.older_than_days)).isoformat() }}"

with DAG(
    dag_id="example_image_streaming_cleanup",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "batchstream"],
    params={
        "dag_id": Param(
            "example_image_streaming_daily",
            type="string",
            description="The DAG whose jobs to clean up, as its airflow-dag-id label (lowercase, '-', '_').",
        ),
        "older_than_days": Param(30, type="number", minimum=0, description="Only jobs created before this."),
        "dry_run": Param(True, type="boolean", description="List the jobs, delete nothing."),
    },
) as dag:
    old_jobs = BatchStreamListJobsOperator(
        task_id="list_old_jobs",
        project_id=PROJECT_ID,
        region=REGION,
        labels={"airflow-dag-id": "{{ params.dag_id }}", "managed-by": "airflow-batchstream"},
        states=["SUCCEEDED", "FAILED", "CANCELLED"],
        created_before=CUTOFF,
        limit=None,
    )

    @task
    def choose(jobs: list[dict[str, Any]], params: dict[str, Any] | None = None) -> list[str]:
        """Return the names of the jobs to delete: none on a dry run."""
        dry_run = bool((params or {})["dry_run"])
        for job in jobs:
            verb = "Would delete" if dry_run else "Deleting"
            print(f"{verb} {job['job_name']} ({job['state']}, created {job['create_time']}).")
        return [] if dry_run else [job["job_name"] for job in jobs]

    BatchStreamDeleteJobOperator.partial(task_id="delete_old_job").expand(job_name=choose(old_jobs.output))


if __name__ == "__main__":
    dag.test()
