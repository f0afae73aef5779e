"""Google's published Python samples for Cloud Batch, run unmodified against the emulator.

The samples (GoogleCloudPlatform/python-docs-samples, folder ``batch/``) are third-party code and
are not kept in this repository: :func:`samples.google_sample` imports each from its file as
published, from ``BATCHSTREAM_GOOGLE_SAMPLES`` or ``../shared/samples/python-docs-samples/batch``,
and the tests skip, saying where to put them, when they are absent. Each sample function is called
with the arguments it documents (project id, region, job name, ...) inside
``batch_emulator.redirect_google_clients(transport)``: the ``batch_v1.BatchServiceClient()`` and
``logging.Client(project=...)`` the samples build themselves reach the emulator, over gRPC or REST.
Nothing else changes. The checks are those of the samples' own test (``batch/tests/test_basics.py``)
plus what the real service answers: the lines the logs sample prints, the labels and service
account the create samples set, the custom status events, deletion as an operation.

Run against these upstream file versions (python-docs-samples commits, abbreviated):

- create/: ``create_with_container_no_mounting`` and ``create_with_script_no_mounting`` 15738176b3b6,
  ``create_with_custom_status_events`` 339059a32786, ``create_with_job_labels`` 4f17be5b6b19,
  ``create_with_runnables_labels`` a6faced63ed7, ``create_with_allocation_policy_labels``
  12f73d20f299, ``create_with_service_account`` 095af0f7437e, ``create_with_notifications`` 06d5b39a29e6;
- ``get/get_job`` 15738176b3b6, ``get/get_task`` 9a733bbac7cd, ``list/list_jobs`` 195f1374e2b1,
  ``list/list_tasks`` 6b182106a36a, ``delete/delete_job`` 260943bed6c5, ``logs/read_job_logs`` 0b0a91ec93e0.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from google.api_core.operation import Operation
from google.cloud import batch_v1
from samples import google_sample

from airflow_batchstream.emulator import BatchEmulator

PROJECT = "demo-project"
REGION = "europe-north1"  # the region of the samples' own test
WAIT_STATES = {
    batch_v1.JobStatus.State.STATE_UNSPECIFIED,
    batch_v1.JobStatus.State.QUEUED,
    batch_v1.JobStatus.State.RUNNING,
    batch_v1.JobStatus.State.SCHEDULED,
    batch_v1.JobStatus.State.DELETION_IN_PROGRESS,
}


def sample(relative_path: str, function: str) -> Any:
    """One function of one of Google's samples, e.g. ``sample("get/get_job.py", "get_job")``."""
    return getattr(google_sample(relative_path), function)


@pytest.fixture(scope="module", autouse=True)
def samples_present() -> None:
    """Skip before any emulator starts when the samples are not here."""
    google_sample("get/get_job.py")


@pytest.fixture
def job_name() -> str:
    return f"test-job-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def redirected(batch_emulator: BatchEmulator, transport: str) -> Iterator[BatchEmulator]:
    """The emulator, with the clients the samples build pointed at it over ``transport``."""
    with batch_emulator.redirect_google_clients(transport):
        yield batch_emulator


def run_to_the_end(test_job: batch_v1.Job, additional_test: Any = None) -> batch_v1.Job:
    """``_test_body`` of the samples' test: wait, check SUCCEEDED and the list, delete, check gone.

    Polls every 0.1 s (the samples' test: 5 s) for at most 60 s. Returns the finished job.
    """
    get_job = sample("get/get_job.py", "get_job")
    list_jobs = sample("list/list_jobs.py", "list_jobs")
    delete_job = sample("delete/delete_job.py", "delete_job")
    job_name = test_job.name.rsplit("/", maxsplit=1)[1]
    deadline = time.monotonic() + 60
    try:
        while test_job.status.state in WAIT_STATES:
            assert time.monotonic() < deadline, "Timed out while waiting for job to complete!"
            test_job = get_job(PROJECT, REGION, job_name)
            time.sleep(0.1)
        assert test_job.status.state == batch_v1.JobStatus.State.SUCCEEDED
        assert any(job.uid == test_job.uid for job in list_jobs(PROJECT, REGION))
        if additional_test:
            additional_test()
    finally:
        deletion = delete_job(PROJECT, REGION, job_name)
        assert isinstance(deletion, Operation)
        deletion.result(timeout=30)
        assert deletion.done() and deletion.metadata.verb == "delete"
    assert all(job.uid != test_job.uid for job in list_jobs(PROJECT, REGION))
    return test_job


def test_script_job_and_its_logs(
    redirected: BatchEmulator, job_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """create_with_script_no_mounting, then read_job_logs prints the four tasks' lines."""
    job = sample("create/create_with_script_no_mounting.py", "create_script_job")(PROJECT, REGION, job_name)
    assert job.name == f"projects/{PROJECT}/locations/{REGION}/jobs/{job_name}"
    assert job.labels == {"env": "testing", "type": "script", "batch-job-id": job_name}
    print_job_logs = sample("logs/read_job_logs.py", "print_job_logs")

    def check_logs() -> None:
        capsys.readouterr()
        print_job_logs(PROJECT, job)
        output = [line for line in capsys.readouterr().out.splitlines(keepends=False) if line != ""]
        assert len(output) == 4
        assert all("Hello world!" in log_msg for log_msg in output)
        assert sorted(output) == [
            f"Hello world! This is task {index}. This job has a total of 4 tasks." for index in range(4)
        ]

    finished = run_to_the_end(job, additional_test=check_logs)
    assert finished.task_groups[0].task_count == 4
    assert redirected.rpc_counts()["ListLogEntries"] == 1


def test_container_job_and_its_tasks(redirected: BatchEmulator, job_name: str) -> None:
    """create_with_container_no_mounting, then list_tasks and get_task see the four tasks."""
    job = sample("create/create_with_container_no_mounting.py", "create_container_job")(
        PROJECT, REGION, job_name
    )
    assert job.task_groups[0].task_spec.runnables[0].container.image_uri == "gcr.io/google-containers/busybox"
    list_tasks = sample("list/list_tasks.py", "list_tasks")
    get_task = sample("get/get_task.py", "get_task")

    def check_tasks() -> None:
        tasks = list_tasks(PROJECT, REGION, job_name, "group0")
        assert len(list(tasks)) == 4
        for i in range(4):
            task = get_task(PROJECT, REGION, job_name, "group0", i)
            assert task is not None
            assert task.name == f"{job.name}/taskGroups/group0/tasks/{i}"
            assert task.status.state == batch_v1.TaskStatus.State.SUCCEEDED

    run_to_the_end(job, additional_test=check_tasks)


def test_labels_samples(redirected: BatchEmulator, job_name: str) -> None:
    """The three label samples: on the job, on a runnable, on the allocation policy."""
    labels = {"label_key1": "label_value2", "label_key2": "label_value2"}  # the samples' own example
    on_job = sample("create/create_with_job_labels.py", "create_job_with_custom_job_labels")(
        PROJECT, REGION, f"{job_name}-a", labels
    )
    assert on_job.labels == {**labels, "batch-job-id": f"{job_name}-a"}
    on_runnable = sample("create/create_with_runnables_labels.py", "create_job_with_custom_runnables_labels")(
        PROJECT, REGION, f"{job_name}-b", {"label1": "value1"}
    )
    assert dict(on_runnable.task_groups[0].task_spec.runnables[0].labels) == {"label1": "value1"}
    on_policy = sample(
        "create/create_with_allocation_policy_labels.py", "create_job_with_custom_allocation_policy_labels"
    )(PROJECT, REGION, f"{job_name}-c", "label1", "value1", "label2", "value2")
    assert dict(on_policy.allocation_policy.labels) == {"label1": "value1", "label2": "value2"}
    for job in (on_job, on_runnable, on_policy):
        run_to_the_end(job)


def test_service_account_sample(redirected: BatchEmulator, job_name: str) -> None:
    """create_with_service_account: the VMs' service account is the one given, not the default."""
    email = f"test-account-name@{PROJECT}.iam.gserviceaccount.com"  # the form the sample's main uses
    create = sample("create/create_with_service_account.py", "create_with_custom_service_account_job")
    job = create(PROJECT, REGION, job_name, email)
    assert job.allocation_policy.service_account.email == email
    assert run_to_the_end(job).allocation_policy.service_account.email == email


def test_notifications_sample(redirected: BatchEmulator, job_name: str) -> None:
    """create_with_notifications: the job keeps its two Pub/Sub notifications and runs."""
    create = sample("create/create_with_notifications.py", "create_with_notifications")
    job = create(PROJECT, REGION, job_name, "some-topic")  # the topic name of the sample's main
    topic = f"projects/{PROJECT}/topics/some-topic"
    kinds = batch_v1.JobNotification.Type
    assert [(n.pubsub_topic, n.message.type_, n.message.new_task_state) for n in job.notifications] == [
        (topic, kinds.JOB_STATE_CHANGED, batch_v1.TaskStatus.State.STATE_UNSPECIFIED),
        (topic, kinds.TASK_STATE_CHANGED, batch_v1.TaskStatus.State.FAILED),
    ]
    assert run_to_the_end(job).notifications == job.notifications


def test_custom_status_events_sample(redirected: BatchEmulator, job_name: str) -> None:
    """create_with_custom_status_events: its barrier shows in a task's events; deleted while it runs.

    The sample's last runnable sleeps a minute, so, as the samples' test does, the job is deleted
    once the events are seen rather than waited for.
    """
    job = sample("create/create_with_custom_status_events.py", "create_job_with_status_events")(
        PROJECT, REGION, job_name
    )
    runnables = job.task_groups[0].task_spec.runnables
    assert [r.display_name for r in runnables if r.display_name] == ["Script 1", "Barrier 1", "Script 2"]
    assert runnables[1].barrier.name == "hello-barrier"
    assert '{"batch/custom/event": "EVENT_DESCRIPTION"}' in runnables[3].script.text
    get_task = sample("get/get_task.py", "get_task")
    wanted = {"Runnable Script 1 started.", "Barrier Barrier 1 reached.", "Runnable Script 2 started."}
    deadline = time.monotonic() + 30
    while not wanted <= {
        e.description for e in get_task(PROJECT, REGION, job_name, "group0", 0).status.status_events
    }:
        assert time.monotonic() < deadline, "task 0 never reached the barrier and Script 2"
        time.sleep(0.1)
    sample("delete/delete_job.py", "delete_job")(PROJECT, REGION, job_name).result(timeout=30)
    assert redirected.job_states() == {}
