"""The Batch emulator through the real google-cloud-batch client over real gRPC."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from emulator_helpers import PARENT, container_job, raised, wait_state
from google.api_core import exceptions
from google.cloud import batch_v1, batch_v1alpha

from airflow_batchstream.emulator import BatchEmulator

MODULES = pytest.mark.parametrize("api_version", ["v1alpha", "v1"])


def _module(api_version: str):
    return batch_v1alpha if api_version == "v1alpha" else batch_v1


@MODULES
def test_create_get_and_lifecycle_to_succeeded(
    batch_emulator: BatchEmulator, transport: str, api_version: str
) -> None:
    module = _module(api_version)
    client = batch_emulator.client(api_version, transport)
    created = client.create_job(parent=PARENT, job_id="hello", job=container_job(module, task_count=2))
    assert created.name == f"{PARENT}/jobs/hello"
    assert created.uid.startswith("j-")
    assert created.status.state.name == "QUEUED"
    assert created.task_groups[0].name == f"{PARENT}/jobs/hello/taskGroups/group0"
    assert created.task_groups[0].task_count == 2
    assert created.task_groups[0].parallelism == 2
    assert created.create_time is not None

    job = wait_state(client, created.name)
    assert job.status.state.name == "SUCCEEDED"
    assert dict(job.status.task_groups["group0"].counts) == {"SUCCEEDED": 2}
    assert job.status.run_duration.total_seconds() > 0
    assert job.update_time > job.create_time
    assert [e.description for e in job.status.status_events] == [
        f"Job state is set from QUEUED to SCHEDULED for job {created.name}.",
        f"Job state is set from SCHEDULED to RUNNING for job {created.name}.",
        f"Job state is set from RUNNING to SUCCEEDED for job {created.name}.",
    ]
    times = [e.event_time for e in job.status.status_events]
    assert times == sorted(times)
    assert batch_emulator.rpc_counts()["CreateJob"] == 1
    assert batch_emulator.rpc_counts(by_version=True)[f"{api_version}.CreateJob"] == 1


def test_every_intermediate_state_is_visible(batch_emulator: BatchEmulator, transport: str) -> None:
    client = batch_emulator.client(transport=transport)
    job = client.create_job(parent=PARENT, job_id="states", job=container_job(batch_v1alpha))
    for state in ("SCHEDULED", "RUNNING", "SUCCEEDED"):
        seen = wait_state(client, job.name, {state})
        assert seen.status.state.name == state


def test_errors(batch_emulator: BatchEmulator, transport: str) -> None:
    client = batch_emulator.client(transport=transport)
    job = container_job(batch_v1alpha)
    client.create_job(parent=PARENT, job_id="dup", job=job)
    with pytest.raises(raised(transport, exceptions.AlreadyExists)):
        client.create_job(parent=PARENT, job_id="dup", job=job)
    with pytest.raises(raised(transport, exceptions.NotFound)):
        client.get_job(name=f"{PARENT}/jobs/missing")
    for bad in ("Bad", "1abc", "ends-", "a" * 64, "under_score"):
        with pytest.raises(raised(transport, exceptions.InvalidArgument), match="job_id"):
            client.create_job(parent=PARENT, job_id=bad, job=job)
    # The REST transport itself refuses a parent that fits no URL of the API (like the real one).
    bad_parent = raised(transport, exceptions.InvalidArgument) if transport == "grpc" else ValueError
    with pytest.raises(bad_parent, match="parent"):
        client.create_job(parent="projects/p", job_id="ok", job=job)
    with pytest.raises(raised(transport, exceptions.InvalidArgument), match="task_groups"):
        client.create_job(parent=PARENT, job_id="nogroups", job=batch_v1alpha.Job())
    no_runnables = batch_v1alpha.Job(
        task_groups=[batch_v1alpha.TaskGroup(task_spec=batch_v1alpha.TaskSpec())]
    )
    with pytest.raises(raised(transport, exceptions.InvalidArgument), match="runnables"):
        client.create_job(parent=PARENT, job_id="norunnables", job=no_runnables)
    with pytest.raises(raised(transport, exceptions.InvalidArgument), match="request_id"):
        client.create_job(
            request={
                "parent": PARENT,
                "job_id": "badrequest",
                "job": job,
                "request_id": "not-a-uuid",
            }
        )


def test_request_id_makes_create_idempotent(batch_emulator: BatchEmulator, transport: str) -> None:
    client = batch_emulator.client(transport=transport)
    request_id = str(uuid.uuid4())

    def create(rid: str):
        request = {
            "parent": PARENT,
            "job_id": "idem",
            "job": container_job(batch_v1alpha),
            "request_id": rid,
        }
        return client.create_job(request=request)

    first = create(request_id)
    again = create(request_id)
    assert again.uid == first.uid
    assert batch_emulator.rpc_counts()["CreateJob"] == 2
    with pytest.raises(raised(transport, exceptions.AlreadyExists)):
        create(str(uuid.uuid4()))


def test_generated_job_id_when_absent(batch_emulator: BatchEmulator, transport: str) -> None:
    job = batch_emulator.client(transport=transport).create_job(
        parent=PARENT, job=container_job(batch_v1alpha)
    )
    assert job.name.startswith(f"{PARENT}/jobs/job-")


@MODULES
def test_list_pagination_and_filters(batch_emulator: BatchEmulator, transport: str, api_version: str) -> None:
    module = _module(api_version)
    client = batch_emulator.client(api_version, transport)
    created_before = datetime.now(timezone.utc) - timedelta(seconds=5)
    for i in range(5):
        labels = {"team": "red" if i % 2 == 0 else "blue", "run": f"r{i}"}
        client.create_job(parent=PARENT, job_id=f"job-{i}", job=container_job(module, labels=labels))
    batch_emulator.hold_job("held")
    client.create_job(parent=PARENT, job_id="held", job=container_job(module))

    pager = client.list_jobs(request={"parent": PARENT, "page_size": 2})
    pages = list(pager.pages)
    assert [len(p.jobs) for p in pages] == [2, 2, 2]
    assert [j.name.rsplit("/", 1)[-1] for p in pages for j in p.jobs] == [f"job-{i}" for i in range(5)] + [
        "held"
    ]

    def ids(filter_text: str) -> set[str]:
        return {
            j.name.rsplit("/", 1)[-1]
            for j in client.list_jobs(request={"parent": PARENT, "filter": filter_text})
        }

    assert ids('labels.team="red"') == {"job-0", "job-2", "job-4"}
    assert ids("labels.team=blue") == {"job-1", "job-3"}
    assert ids('labels.team="red" AND labels.run="r2"') == {"job-2"}
    assert ids(f'name="{PARENT}/jobs/job-3"') == {"job-3"}
    assert ids('status.state="QUEUED" AND name="' + PARENT + '/jobs/held"') == {"held"}
    assert "held" not in ids("status.state=SUCCEEDED")
    assert ids('labels.team="green"') == set()
    wait_state(client, f"{PARENT}/jobs/job-0")
    assert "job-0" in ids('status.state="SUCCEEDED"')
    assert {j.name for j in client.list_jobs(parent="projects/test-project/locations/-")} >= {
        f"{PARENT}/jobs/held"
    }

    # AIP-160: the has-operator with a wildcard (the Airflow Google provider's documented filter),
    # OR binding tighter than AND, negation, parentheses, times.
    assert ids(f"name:{PARENT}/jobs/job-*") == {f"job-{i}" for i in range(5)}
    assert ids('labels.team="blue" OR labels.run="r0"') == {"job-0", "job-1", "job-3"}
    assert ids('-labels.team="red" AND NOT name:*held') == {"job-1", "job-3"}
    assert ids('(labels.team="red" OR labels.team="blue") labels.run!="r4"') == {f"job-{i}" for i in range(4)}
    assert ids(f'create_time>="{created_before.isoformat()}" AND labels:team') == {
        f"job-{i}" for i in range(5)
    }
    assert ids('create_time<"2000-01-01T00:00:00Z"') == set()
    for bad, named in (
        ('status.state="NOPE"', "NOPE"),
        ("create_time > 1", "create_time>1"),
        ('priority="1"', "priority"),
        ('labels.a="x" OR', "OR"),
    ):
        with pytest.raises(raised(transport, exceptions.InvalidArgument), match=named):
            list(client.list_jobs(request={"parent": PARENT, "filter": bad}))
    with pytest.raises(raised(transport, exceptions.InvalidArgument), match="page_token"):
        list(client.list_jobs(request={"parent": PARENT, "page_token": "garbage"}))


@MODULES
def test_cancel_and_delete_long_running_operations_sync(
    batch_emulator: BatchEmulator, transport: str, api_version: str
) -> None:
    module = _module(api_version)
    client = batch_emulator.client(api_version, transport)
    job = client.create_job(parent=PARENT, job_id="to-cancel", job=container_job(module))
    operation = client.cancel_job(name=job.name)
    assert client.get_job(name=job.name).status.state.name in {
        "CANCELLATION_IN_PROGRESS",
        "CANCELLED",
    }
    operation.result(timeout=10)
    assert operation.metadata.verb == "cancel"
    assert operation.metadata.target == job.name
    cancelled = client.get_job(name=job.name)
    assert cancelled.status.state.name == "CANCELLED"
    assert "CANCELLATION_IN_PROGRESS to CANCELLED" in cancelled.status.status_events[-1].description
    # Over HTTP, FAILED_PRECONDITION is a 400 and api-core raises its parent class, BadRequest.
    with pytest.raises(
        raised(transport, exceptions.FailedPrecondition) if transport == "grpc" else exceptions.BadRequest
    ):
        client.cancel_job(name=job.name)

    deletion = client.delete_job(name=job.name)
    assert client.get_job(name=job.name).status.state.name == "DELETION_IN_PROGRESS"
    deletion.result(timeout=10)
    with pytest.raises(raised(transport, exceptions.NotFound)):
        client.get_job(name=job.name)
    with pytest.raises(raised(transport, exceptions.NotFound)):
        client.delete_job(name=job.name)
    counts = batch_emulator.rpc_counts()
    assert counts["CancelJob"] == 2 and counts["DeleteJob"] == 2 and counts["GetOperation"] >= 2


@MODULES
def test_cancel_and_delete_with_async_client(batch_emulator: BatchEmulator, api_version: str) -> None:
    module = _module(api_version)

    async def scenario() -> tuple[str, str]:
        client = batch_emulator.async_client(api_version)
        job = await client.create_job(parent=PARENT, job_id="async-job", job=container_job(module))
        operation = await client.cancel_job(name=job.name)
        await operation.result(timeout=10)
        state = (await client.get_job(name=job.name)).status.state.name
        deletion = await client.delete_job(name=job.name)
        await deletion.result(timeout=10)
        try:
            await client.get_job(name=job.name)
        except exceptions.NotFound:
            return state, "gone"
        return state, "still there"

    assert asyncio.run(scenario()) == ("CANCELLED", "gone")


def test_fail_job_scenario_and_tasks(batch_emulator: BatchEmulator, transport: str) -> None:
    client = batch_emulator.client(transport=transport)
    batch_emulator.fail_job("will-fail", exit_code=3, task_index=1)
    job = client.create_job(
        parent=PARENT,
        job_id="will-fail",
        job=container_job(batch_v1alpha, task_count=2),
    )
    done = wait_state(client, job.name)
    assert done.status.state.name == "FAILED"
    assert dict(done.status.task_groups["group0"].counts) == {
        "SUCCEEDED": 1,
        "FAILED": 1,
    }
    failure = [e for e in done.status.status_events if e.task_execution.exit_code == 3]
    assert len(failure) == 1 and "with exit code 3." in failure[0].description
    assert "task with index 1 failed with exit code 3" in done.status.status_events[-1].description

    tasks = list(client.list_tasks(parent=f"{job.name}/taskGroups/group0"))
    assert [t.status.state.name for t in tasks] == ["SUCCEEDED", "FAILED"]
    failed = list(
        client.list_tasks(
            request={
                "parent": f"{job.name}/taskGroups/group0",
                "filter": "status.state=FAILED",
            }
        )
    )
    assert [t.name for t in failed] == [f"{job.name}/taskGroups/group0/tasks/1"]
    not_failed = client.list_tasks(
        request={"parent": f"{job.name}/taskGroups/group0", "filter": "NOT status.state=FAILED OR name:*/9"}
    )
    assert [t.name for t in not_failed] == [f"{job.name}/taskGroups/group0/tasks/0"]
    with pytest.raises(raised(transport, exceptions.InvalidArgument), match=r"labels\.team"):
        list(
            client.list_tasks(request={"parent": f"{job.name}/taskGroups/group0", "filter": "labels.team=x"})
        )
    task = client.get_task(name=f"{job.name}/taskGroups/group0/tasks/1")
    assert task.status.status_events[-1].task_execution.exit_code == 3
    with pytest.raises(raised(transport, exceptions.NotFound)):
        client.get_task(name=f"{job.name}/taskGroups/group0/tasks/7")


def test_preempt_running_job_and_label_scenario(batch_emulator: BatchEmulator, transport: str) -> None:
    client = batch_emulator.client(transport=transport)
    job = client.create_job(parent=PARENT, job_id="spot", job=container_job(batch_v1alpha))
    wait_state(client, job.name, {"RUNNING"})
    batch_emulator.preempt_job("spot")
    done = client.get_job(name=job.name)
    assert done.status.state.name == "FAILED"
    assert "exit code 50001" in done.status.status_events[-1].description

    labelled = client.create_job(
        parent=PARENT,
        job_id="by-label",
        job=container_job(batch_v1alpha, labels={"emulator-exit-code": "7"}),
    )
    assert wait_state(client, labelled.name).status.status_events[-2].task_execution.exit_code == 7


def test_hold_release_and_vanish(batch_emulator: BatchEmulator, transport: str) -> None:
    client = batch_emulator.client(transport=transport)
    batch_emulator.hold_job("stuck")
    job = client.create_job(parent=PARENT, job_id="stuck", job=container_job(batch_v1alpha))
    with pytest.raises(AssertionError):
        wait_state(client, job.name, {"SCHEDULED"}, timeout=0.8)
    batch_emulator.release_job("stuck")
    assert wait_state(client, job.name).status.state.name == "SUCCEEDED"

    other = client.create_job(parent=PARENT, job_id="vanishing", job=container_job(batch_v1alpha))
    batch_emulator.vanish_job(other.name)
    with pytest.raises(raised(transport, exceptions.NotFound)):
        client.get_job(name=other.name)


def test_counts_reset(batch_emulator: BatchEmulator, transport: str) -> None:
    client = batch_emulator.client(transport=transport)
    client.create_job(parent=PARENT, job_id="counted", job=container_job(batch_v1alpha))
    batch_emulator.reset_counts()
    assert batch_emulator.rpc_counts() == {}
    client.get_job(name=f"{PARENT}/jobs/counted")
    assert batch_emulator.rpc_counts() == {"GetJob": 1}
