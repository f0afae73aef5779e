"""Google's published Python samples for Cloud Batch, against the emulator.

Each test does what a sample in GoogleCloudPlatform/python-docs-samples ``batch/`` does, call for
call and with the same job specs, and checks what the sample's own test (``batch/tests/test_basics.py``)
checks. The one change is the samples' ``batch_v1.BatchServiceClient()`` and
``logging.Client(project=...)``: here they come from :mod:`airflow_batchstream.emulator.clients`,
pointed at the emulator. The samples are cited, not copied.
"""

from __future__ import annotations

import time
import uuid

import pytest
from google.cloud import batch_v1

from airflow_batchstream.emulator import BatchEmulator
from airflow_batchstream.emulator.clients import batch_client, logging_client

PROJECT = "demo-project"
REGION = "europe-north1"  # the region of the samples' test
HELLO = (
    "echo Hello world! This is task ${BATCH_TASK_INDEX}. This job has a total of ${BATCH_TASK_COUNT} tasks."
)
WAIT_STATES = {
    batch_v1.JobStatus.State.STATE_UNSPECIFIED,
    batch_v1.JobStatus.State.QUEUED,
    batch_v1.JobStatus.State.RUNNING,
    batch_v1.JobStatus.State.SCHEDULED,
    batch_v1.JobStatus.State.DELETION_IN_PROGRESS,
}


def _job_around(runnables: list[batch_v1.Runnable], kind: str) -> batch_v1.Job:
    """The job every create_* sample builds around its runnables (4 tasks, 2 CPUs, e2-standard-4)."""
    task = batch_v1.TaskSpec()
    task.runnables = runnables
    resources = batch_v1.ComputeResource()
    resources.cpu_milli = 2000
    resources.memory_mib = 16
    task.compute_resource = resources
    task.max_retry_count = 2
    task.max_run_duration = "3600s"
    group = batch_v1.TaskGroup()
    group.task_count = 4
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
    job.labels = {"env": "testing", "type": kind}
    job.logs_policy = batch_v1.LogsPolicy()
    job.logs_policy.destination = batch_v1.LogsPolicy.Destination.CLOUD_LOGGING
    return job


def _create(client, job: batch_v1.Job, job_name: str) -> batch_v1.Job:
    create_request = batch_v1.CreateJobRequest()
    create_request.job = job
    create_request.job_id = job_name
    create_request.parent = f"projects/{PROJECT}/locations/{REGION}"
    return client.create_job(create_request)


def create_container_job(client, job_name: str) -> batch_v1.Job:
    """batch/create/create_with_container_no_mounting.py"""
    runnable = batch_v1.Runnable()
    runnable.container = batch_v1.Runnable.Container()
    runnable.container.image_uri = "gcr.io/google-containers/busybox"
    runnable.container.entrypoint = "/bin/sh"
    runnable.container.commands = ["-c", HELLO]
    return _create(client, _job_around([runnable], "container"), job_name)


def create_script_job(client, job_name: str) -> batch_v1.Job:
    """batch/create/create_with_script_no_mounting.py"""
    runnable = batch_v1.Runnable()
    runnable.script = batch_v1.Runnable.Script()
    runnable.script.text = HELLO
    return _create(client, _job_around([runnable], "script"), job_name)


def create_job_with_status_events(client, job_name: str) -> batch_v1.Job:
    """batch/create/create_with_custom_status_events.py"""
    runn1 = batch_v1.Runnable()
    runn1.display_name = "Script 1"
    runn1.script.text = "echo Hello world from Script 1 for task ${BATCH_TASK_INDEX}"
    runn2 = batch_v1.Runnable()
    runn2.display_name = "Barrier 1"
    runn2.barrier = batch_v1.Runnable.Barrier({"name": "hello-barrier"})
    runn3 = batch_v1.Runnable()
    runn3.display_name = "Script 2"
    runn3.script.text = "echo Hello world from Script 2 for task ${BATCH_TASK_INDEX}"
    runn4 = batch_v1.Runnable()
    runn4.script.text = 'sleep 30; echo \'{"batch/custom/event": "EVENT_DESCRIPTION"}\'; sleep 30'
    return _create(client, _job_around([runn1, runn2, runn3, runn4], "container"), job_name)


def get_job(client, job_name: str) -> batch_v1.Job:
    """batch/get/get_job.py"""
    return client.get_job(name=f"projects/{PROJECT}/locations/{REGION}/jobs/{job_name}")


def get_task(client, job_name: str, group_name: str, task_number: int) -> batch_v1.Task:
    """batch/get/get_task.py"""
    return client.get_task(
        name=f"projects/{PROJECT}/locations/{REGION}/jobs/{job_name}/taskGroups/{group_name}/tasks/{task_number}"
    )


def list_jobs(client):
    """batch/list/list_jobs.py"""
    return client.list_jobs(parent=f"projects/{PROJECT}/locations/{REGION}")


def list_tasks(client, job_name: str, group_name: str):
    """batch/list/list_tasks.py"""
    return client.list_tasks(
        parent=f"projects/{PROJECT}/locations/{REGION}/jobs/{job_name}/taskGroups/{group_name}"
    )


def delete_job(client, job_name: str):
    """batch/delete/delete_job.py"""
    return client.delete_job(name=f"projects/{PROJECT}/locations/{REGION}/jobs/{job_name}")


def print_job_logs(job: batch_v1.Job) -> None:
    """batch/logs/read_job_logs.py"""
    log_client = logging_client(PROJECT)
    logger = log_client.logger("batch_task_logs")
    for log_entry in logger.list_entries(filter_=f"labels.job_uid={job.uid}"):
        print(log_entry.payload)


def _test_body(client, test_job: batch_v1.Job, additional_test=None) -> None:
    """batch/tests/test_basics.py ``_test_body``, polling every 0.1 s instead of 5 s."""
    deadline = time.monotonic() + 60
    job_name = test_job.name.rsplit("/", maxsplit=1)[1]
    try:
        while test_job.status.state in WAIT_STATES:
            assert time.monotonic() < deadline, "Timed out while waiting for job to complete!"
            test_job = get_job(client, job_name)
            time.sleep(0.1)
        assert test_job.status.state == batch_v1.JobStatus.State.SUCCEEDED
        assert any(job.uid == test_job.uid for job in list_jobs(client))
        if additional_test:
            additional_test()
    finally:
        delete_job(client, job_name).result()
    assert all(job.uid != test_job.uid for job in list_jobs(client))


@pytest.fixture
def job_name() -> str:
    return f"test-job-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_container_job(batch_emulator: BatchEmulator, job_name: str, transport: str) -> None:
    client = batch_client("v1", transport)
    job = create_container_job(client, job_name)

    def check_tasks() -> None:
        tasks = list_tasks(client, job_name, "group0")
        assert len(list(tasks)) == 4
        for i in range(4):
            assert get_task(client, job_name, "group0", i) is not None

    _test_body(client, job, additional_test=check_tasks)


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_script_job(
    batch_emulator: BatchEmulator, job_name: str, transport: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client = batch_client("v1", transport)
    job = create_script_job(client, job_name)

    def check_logs() -> None:
        print_job_logs(job)
        output = [line for line in capsys.readouterr().out.splitlines(keepends=False) if line != ""]
        assert len(output) == 4
        assert all("Hello world!" in log_msg for log_msg in output)

    _test_body(client, job, additional_test=check_logs)


def test_custom_status_events_job(batch_emulator: BatchEmulator, job_name: str) -> None:
    """The sample's test checks the created job (``_check_custom_events``) and deletes it while it runs."""
    client = batch_client("v1")
    job = create_job_with_status_events(client, job_name)
    display_names = ["Script 1", "Barrier 1", "Script 2"]
    runnables = job.task_groups[0].task_spec.runnables
    assert [r.display_name for r in runnables if r.display_name] == display_names
    assert runnables[1].barrier.name == "hello-barrier"
    assert '{"batch/custom/event": "EVENT_DESCRIPTION"}' in runnables[3].script.text
    deadline = time.monotonic() + 30
    while not any(
        e.description == "Barrier Barrier 1 reached."
        for e in get_task(client, job_name, "group0", 0).status.status_events
    ):
        assert time.monotonic() < deadline, "task 0 never reached the barrier"
        time.sleep(0.1)
    delete_job(client, job_name).result()
    assert batch_emulator.job_states() == {}
