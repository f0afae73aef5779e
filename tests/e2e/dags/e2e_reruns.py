"""DAGs of the re-run scenarios: tasks cleared once ended, run on a second date, timed out or chained.

- ``e2e_clear``: ``succeeds`` (deferrable) and ``fails`` (synchronous; the ``emulator-exit-code`` label
  makes its job fail), no retries; the test clears both once the run ended.
- ``e2e_fixed_job_id``: ``fixed`` submits under one literal ``job_id`` on every run, ``templated`` under
  one per logical date; the test runs the DAG on two dates.
- ``e2e_execution_timeout``: a deferrable task with ``execution_timeout=20s`` on a job that would run
  for 10 minutes (``emulator-run-seconds``).
- ``e2e_quick_deferred``: 20 deferrable tasks, one after another, each on a job that ends 6 s after its
  creation: after the worker's look at young jobs (3.5 s), so each task defers, and within 3 s of
  deferring (Airflow 3.3's resume race: README, "Retries, reattach and nothing left running").
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, chain

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

IMAGE = "us-central1-docker.pkg.dev/demo-project/containers/debian:12"
#: Seconds the quick jobs' container runs (the emulator's queued and scheduled phases add 1 s).
QUICK_RUN_SECONDS = "5"
COMMON = {"region": "us-central1", "image_uri": IMAGE, "commands": ["true"], "poll_interval": 2, "retries": 0}

with DAG("e2e_clear", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e"]):
    BatchStreamSubmitJobOperator(task_id="succeeds", deferrable=True, **COMMON)
    BatchStreamSubmitJobOperator(
        task_id="fails", deferrable=False, labels={"emulator-exit-code": "3"}, **COMMON
    )

with DAG("e2e_fixed_job_id", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e"]):
    BatchStreamSubmitJobOperator(task_id="fixed", job_id="e2e-fixed-job-id", **COMMON)
    BatchStreamSubmitJobOperator(task_id="templated", job_id="e2e-daily-{{ ds_nodash }}", **COMMON)

with DAG("e2e_execution_timeout", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    BatchStreamSubmitJobOperator(
        task_id="job",
        deferrable=True,
        execution_timeout=timedelta(seconds=20),
        labels={"emulator-run-seconds": "600"},
        **COMMON,
    )

with DAG("e2e_quick_deferred", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e"]):
    chain(
        *(
            BatchStreamSubmitJobOperator(
                task_id=f"job_{index:02d}",
                deferrable=True,
                labels={"emulator-run-seconds": QUICK_RUN_SECONDS},
                **COMMON,
            )
            for index in range(20)
        )
    )
