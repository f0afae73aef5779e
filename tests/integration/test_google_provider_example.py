"""The Google provider's own Cloud Batch example DAG, run by real Airflow against the emulator.

The DAG written here has the tasks, arguments and checks of the Google provider's system test
``providers/google/tests/system/google/cloud/cloud_batch/example_cloud_batch.py`` (apache/airflow):
two ``CloudBatchSubmitJobOperator`` (one waiting in the worker, one deferrable), then
``CloudBatchListTasksOperator``, ``CloudBatchListJobsOperator`` with the documented filter
``name:projects/P/locations/L/jobs/batch*``, their assertions, and ``CloudBatchDeleteJobOperator``
for both jobs. It is cited, not copied. The provider's installed hook and operator code run as
they are; the one change is the hooks' ``get_conn``, which returns Google's client on a channel to
the emulator instead of one to ``batch.googleapis.com`` (only the transport is pointed at it).
"""

from __future__ import annotations

import pytest
from dag_files import dags_folder, load_dag

from airflow_batchstream.emulator.clients import async_batch_client, batch_client

pytestmark = pytest.mark.integration

DAG_ID = "google_provider_cloud_batch"

EXAMPLE_DAG = """
from datetime import datetime

from google.cloud import batch_v1

from airflow.providers.google.cloud.operators.cloud_batch import (
    CloudBatchDeleteJobOperator,
    CloudBatchListJobsOperator,
    CloudBatchListTasksOperator,
    CloudBatchSubmitJobOperator,
)
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG
from airflow.utils.trigger_rule import TriggerRule

PROJECT_ID = "demo-project"
DAG_ID = "cloud_batch"
REGION = "us-central1"
job_name_prefix = "batch"
job1_name = f"{job_name_prefix}-{DAG_ID}-default-1".replace("_", "-")
job2_name = f"{job_name_prefix}-{DAG_ID}-default-2".replace("_", "-")
list_jobs_task_name = "list-jobs"
list_tasks_task_name = "list-tasks"


def _assert_jobs(ti):
    job_names = ti.xcom_pull(task_ids=[list_jobs_task_name], key="return_value")
    job_names_str = " ".join(job["name"].split("/")[-1] for job in job_names[0])
    assert job1_name in job_names_str
    assert job2_name in job_names_str


def _assert_tasks(ti):
    tasks_names = ti.xcom_pull(task_ids=[list_tasks_task_name], key="return_value")
    assert len(tasks_names[0]) == 2
    assert "tasks/0" in tasks_names[0][0]["name"]
    assert "tasks/1" in tasks_names[0][1]["name"]


def _create_job():
    runnable = batch_v1.Runnable()
    runnable.container = batch_v1.Runnable.Container()
    runnable.container.image_uri = "gcr.io/google-containers/busybox"
    runnable.container.entrypoint = "/bin/sh"
    runnable.container.commands = [
        "-c",
        "echo Hello world! This is task ${BATCH_TASK_INDEX}."
        " This job has a total of ${BATCH_TASK_COUNT} tasks.",
    ]
    task = batch_v1.TaskSpec()
    task.runnables = [runnable]
    resources = batch_v1.ComputeResource()
    resources.cpu_milli = 2000
    resources.memory_mib = 16
    task.compute_resource = resources
    task.max_retry_count = 2
    group = batch_v1.TaskGroup()
    group.task_count = 2
    group.task_spec = task
    policy = batch_v1.AllocationPolicy.InstancePolicy()
    policy.machine_type = "e2-standard-4"
    instances = batch_v1.AllocationPolicy.InstancePolicyOrTemplate()
    instances.policy = policy
    allocation_policy = batch_v1.AllocationPolicy()
    allocation_policy.instances = [instances]
    job = batch_v1.Job()
    job.task_groups = [group]
    job.allocation_policy = allocation_policy
    job.labels = {"env": "testing", "type": "container"}
    job.logs_policy = batch_v1.LogsPolicy()
    job.logs_policy.destination = batch_v1.LogsPolicy.Destination.CLOUD_LOGGING
    return job


with DAG("google_provider_cloud_batch", schedule="@once", start_date=datetime(2021, 1, 1), catchup=False,
         tags=["example", "batch"]) as dag:
    submit1 = CloudBatchSubmitJobOperator(
        task_id="submit-job1", project_id=PROJECT_ID, region=REGION, job_name=job1_name,
        job=_create_job(), deferrable=False,
    )
    submit2 = CloudBatchSubmitJobOperator(
        task_id="submit-job2", project_id=PROJECT_ID, region=REGION, job_name=job2_name,
        job=batch_v1.Job.to_dict(_create_job()), deferrable=True,
    )
    list_tasks = CloudBatchListTasksOperator(
        task_id=list_tasks_task_name, project_id=PROJECT_ID, region=REGION, job_name=job1_name
    )
    assert_tasks = PythonOperator(task_id="assert-tasks", python_callable=_assert_tasks)
    list_jobs = CloudBatchListJobsOperator(
        task_id=list_jobs_task_name, project_id=PROJECT_ID, region=REGION, limit=10,
        filter=f"name:projects/{PROJECT_ID}/locations/{REGION}/jobs/{job_name_prefix}*",
    )
    get_name = PythonOperator(task_id="assert-jobs", python_callable=_assert_jobs)
    delete_job1 = CloudBatchDeleteJobOperator(
        task_id="delete-job1", project_id=PROJECT_ID, region=REGION, job_name=job1_name,
        trigger_rule=TriggerRule.ALL_DONE,
    )
    delete_job2 = CloudBatchDeleteJobOperator(
        task_id="delete-job2", project_id=PROJECT_ID, region=REGION, job_name=job2_name,
        trigger_rule=TriggerRule.ALL_DONE,
    )
    [submit1, submit2] >> list_tasks >> assert_tasks >> list_jobs >> get_name >> [delete_job1, delete_job2]
"""


def test_google_provider_cloud_batch_example_runs_against_the_emulator(batch_emulator, monkeypatch):
    from airflow.providers.google.cloud.hooks.cloud_batch import CloudBatchAsyncHook, CloudBatchHook

    monkeypatch.setattr(CloudBatchHook, "get_conn", lambda self: batch_client("v1"))
    monkeypatch.setattr(CloudBatchAsyncHook, "get_conn", lambda self: async_batch_client("v1"))
    (dags_folder() / f"{DAG_ID}.py").write_text(EXAMPLE_DAG)
    dag_run = load_dag(DAG_ID).test()

    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        states = {
            ti.task_id: ti.state
            for ti in session.query(TaskInstance).filter_by(dag_id=DAG_ID, run_id=dag_run.run_id)
        }
    assert states == dict.fromkeys(
        [
            "submit-job1",
            "submit-job2",
            "list-tasks",
            "assert-tasks",
            "list-jobs",
            "assert-jobs",
            "delete-job1",
            "delete-job2",
        ],
        "success",
    )
    assert dag_run.state == "success"
    counts = batch_emulator.rpc_counts(by_version=True)
    assert counts["v1.CreateJob"] == 2 and counts["v1.DeleteJob"] == 2 and counts["v1.ListJobs"] == 1
    assert batch_emulator.job_states() == {}  # both jobs deleted
