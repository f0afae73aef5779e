"""Idempotent cancel/delete, per-task status after an early end, task pagination (real client, gRPC)."""

from __future__ import annotations

import uuid

import pytest
from emulator_helpers import PARENT, container_job, wait_state
from google.api_core import exceptions
from google.cloud import batch_v1alpha

from airflow_batchstream.emulator import BatchEmulator, Scenario


def test_cancel_and_delete_request_ids_return_the_same_operation(batch_emulator: BatchEmulator) -> None:
    client = batch_emulator.client()
    job = client.create_job(parent=PARENT, job_id="idem-ops", job=container_job(batch_v1alpha))
    cancel_id, delete_id = str(uuid.uuid4()), str(uuid.uuid4())
    first = client.cancel_job(request={"name": job.name, "request_id": cancel_id})
    first.result(timeout=10)
    # After CANCELLED a new cancel is refused, but the same request id answers with its operation.
    again = client.cancel_job(request={"name": job.name, "request_id": cancel_id})
    assert again.operation.name == first.operation.name and again.done()
    deletion = client.delete_job(request={"name": job.name, "request_id": delete_id})
    repeat = client.delete_job(request={"name": job.name, "request_id": delete_id})
    assert repeat.operation.name == deletion.operation.name
    assert client.get_job(name=job.name).status.state.name == "DELETION_IN_PROGRESS"
    deletion.result(timeout=10)


def test_preempted_job_reports_every_task(batch_emulator: BatchEmulator) -> None:
    client = batch_emulator.client()
    batch_emulator.add_scenario(
        Scenario(run_seconds=30),
        job_id="spot-many",
    )
    job = client.create_job(
        parent=PARENT, job_id="spot-many", job=_parallel(container_job(batch_v1alpha, task_count=3), 2)
    )
    wait_state(client, job.name, {"RUNNING"})
    batch_emulator.preempt_job("spot-many", task_index=1)
    group = f"{job.name}/taskGroups/group0"
    states = [t.status.state.name for t in client.list_tasks(request={"parent": group, "page_size": 1})]
    assert states == ["FAILED", "FAILED", "UNEXECUTED"]
    preempted = client.get_task(name=f"{group}/tasks/1")
    assert preempted.status.status_events[-1].task_execution.exit_code == 50001
    done = client.get_job(name=job.name)
    assert done.status.state.name == "FAILED"
    assert dict(done.status.task_groups["group0"].counts) == {"FAILED": 2, "UNEXECUTED": 1}


def _parallel(job, parallelism: int):
    job.task_groups[0].parallelism = parallelism
    return job


def test_list_jobs_order_by(batch_emulator: BatchEmulator) -> None:
    client = batch_emulator.client()
    for job_id in ("b-job", "c-job", "a-job"):
        client.create_job(parent=PARENT, job_id=job_id, job=container_job(batch_v1alpha))

    def ids(order_by: str) -> list[str]:
        jobs = client.list_jobs(request={"parent": PARENT, "order_by": order_by, "page_size": 2})
        return [j.name.rsplit("/", 1)[-1] for j in jobs]

    assert ids("") == ["b-job", "c-job", "a-job"]
    assert ids("create_time desc") == ["a-job", "c-job", "b-job"]
    assert ids("name") == ["a-job", "b-job", "c-job"]
    assert ids("name desc") == ["c-job", "b-job", "a-job"]
    with pytest.raises(exceptions.InvalidArgument, match="order_by"):
        ids("priority")
