"""Idempotent cancel/delete, task status after an early end, what the service fills in, custom status
events, the operations mixins (real client, gRPC and REST)."""

from __future__ import annotations

import re
import uuid

import pytest
from emulator_helpers import PARENT, container_job, raised, wait_state
from google.api_core import exceptions
from google.cloud import batch_v1, batch_v1alpha
from google.longrunning import operations_pb2

from airflow_batchstream.emulator import BatchEmulator, Scenario


def test_cancel_and_delete_request_ids_return_the_same_operation(
    batch_emulator: BatchEmulator, transport: str
) -> None:
    client = batch_emulator.client(transport=transport)
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


def test_preempted_job_reports_every_task(batch_emulator: BatchEmulator, transport: str) -> None:
    client = batch_emulator.client(transport=transport)
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


def test_list_jobs_order_by(batch_emulator: BatchEmulator, transport: str) -> None:
    client = batch_emulator.client(transport=transport)
    for job_id in ("b-job", "c-job", "a-job"):
        client.create_job(parent=PARENT, job_id=job_id, job=container_job(batch_v1alpha))

    def ids(order_by: str) -> list[str]:
        jobs = client.list_jobs(request={"parent": PARENT, "order_by": order_by, "page_size": 2})
        return [j.name.rsplit("/", 1)[-1] for j in jobs]

    assert ids("") == ["b-job", "c-job", "a-job"]
    assert ids("create_time desc") == ["a-job", "c-job", "b-job"]
    assert ids("name") == ["a-job", "b-job", "c-job"]
    assert ids("name desc") == ["c-job", "b-job", "a-job"]
    with pytest.raises(raised(transport, exceptions.InvalidArgument), match="order_by"):
        ids("priority")


def test_batch_adds_the_predefined_job_id_label_and_refuses_it_in_a_request(
    batch_emulator: BatchEmulator,
    transport: str,
) -> None:
    client = batch_emulator.client(transport=transport)
    job = client.create_job(
        parent=PARENT, job_id="labelled", job=container_job(batch_v1alpha, labels={"team": "ml"})
    )
    assert dict(job.labels) == {"team": "ml", "batch-job-id": "labelled"}
    assert dict(client.get_job(name=job.name).labels)["batch-job-id"] == "labelled"
    listed = client.list_jobs(request={"parent": PARENT, "filter": 'labels.batch-job-id="labelled"'})
    assert [j.name for j in listed] == [job.name]
    with pytest.raises(raised(transport, exceptions.InvalidArgument), match="batch-job-id"):
        client.create_job(
            parent=PARENT, job_id="own", job=container_job(batch_v1alpha, labels={"batch-job-id": "x"})
        )


def test_created_job_carries_the_defaults_batch_fills_in(
    batch_emulator: BatchEmulator, transport: str
) -> None:
    job = batch_emulator.client(transport=transport).create_job(
        parent=PARENT, job_id="defaults", job=container_job(batch_v1alpha)
    )
    policy = job.allocation_policy
    assert re.fullmatch(r"\d{12}-compute@developer\.gserviceaccount\.com", policy.service_account.email)
    assert policy.instances[0].policy.provisioning_model.name == "STANDARD"
    assert list(policy.location.allowed_locations) == ["regions/us-central1"]
    group = job.task_groups[0]
    assert (group.name, group.task_count, group.parallelism) == (f"{job.name}/taskGroups/group0", 1, 1)
    assert group.task_spec.compute_resource.cpu_milli == 2000


def test_status_reports_the_vms_a_group_uses(batch_emulator: BatchEmulator, transport: str) -> None:
    client = batch_emulator.client(transport=transport)
    plain = client.create_job(
        parent=PARENT, job_id="plain-vms", job=container_job(batch_v1alpha, task_count=3)
    )
    assert len(plain.status.task_groups["group0"].instances) == 0  # QUEUED: no VM chosen yet
    instances = wait_state(client, plain.name).status.task_groups["group0"].instances
    assert [(i.machine_type, i.provisioning_model.name, i.task_pack) for i in instances] == [
        ("e2-standard-4", "STANDARD", 2)  # 4 vCPUs / 2000 milli-CPU per task
    ]
    spot = container_job(batch_v1alpha, task_count=3)
    spot.allocation_policy = batch_v1alpha.AllocationPolicy(
        instances=[
            batch_v1alpha.AllocationPolicy.InstancePolicyOrTemplate(
                policy=batch_v1alpha.AllocationPolicy.InstancePolicy(
                    machine_type="n2-standard-8",
                    provisioning_model=batch_v1alpha.AllocationPolicy.ProvisioningModel.SPOT,
                )
            )
        ]
    )
    done = wait_state(client, client.create_job(parent=PARENT, job_id="spot-vms", job=spot).name)
    (instance,) = done.status.task_groups["group0"].instances
    assert (instance.machine_type, instance.provisioning_model.name, instance.task_pack) == (
        "n2-standard-8",
        "SPOT",
        3,
    )


def _named(module, name: str, **executable):
    return module.Runnable(display_name=name, **executable)


def test_custom_status_events_of_a_run_task(batch_emulator: BatchEmulator, transport: str) -> None:
    """The runnables of Google's sample create_with_custom_status_events.py, with short sleeps."""
    module = batch_v1alpha
    runnables = [
        _named(module, "Script 1", script=module.Runnable.Script(text="echo Hello from script 1")),
        _named(module, "Barrier 1", barrier=module.Runnable.Barrier(name="hello-barrier")),
        _named(module, "Script 2", script=module.Runnable.Script(text="exit 3")),
        module.Runnable(
            script=module.Runnable.Script(text="""echo '{"batch/custom/event": "halfway done"}'"""),
            always_run=True,
        ),
    ]
    spec = module.Job(task_groups=[module.TaskGroup(task_spec=module.TaskSpec(runnables=runnables))])
    client = batch_emulator.client(transport=transport)
    job = wait_state(client, client.create_job(parent=PARENT, job_id="custom-events", job=spec).name)
    task = client.get_task(name=f"{job.name}/taskGroups/group0/tasks/0")
    custom = [e.description for e in task.status.status_events if e.type_ == "CUSTOM_EVENT"]
    assert custom == [
        "Runnable Script 1 started.",
        "Runnable Script 1 finished with exit code 0.",
        "Barrier Barrier 1 reached.",
        "Runnable Script 2 started.",
        "Runnable Script 2 finished with exit code 3.",
        "halfway done",
    ]
    assert all(
        e.task_state.name == "STATE_UNSPECIFIED"
        for e in task.status.status_events
        if e.type_ == "CUSTOM_EVENT"
    )
    assert task.status.state.name == "FAILED"
    assert not any(e.type_ == "CUSTOM_EVENT" for e in job.status.status_events)


def test_custom_status_events_of_simulated_containers(batch_emulator: BatchEmulator, transport: str) -> None:
    module = batch_v1alpha
    spec = container_job(module)
    spec.task_groups[0].task_spec.runnables[0].display_name = "Fetch"
    client = batch_emulator.client(transport=transport)
    job = wait_state(client, client.create_job(parent=PARENT, job_id="sim-events", job=spec).name)
    task = client.get_task(name=f"{job.name}/taskGroups/group0/tasks/0")
    events = [(e.type_, e.description) for e in task.status.status_events]
    running = events.index(next(e for e in events if "ASSIGNED to RUNNING" in e[1]))
    assert events[running + 1 :] == [
        ("CUSTOM_EVENT", "Runnable Fetch started."),
        ("CUSTOM_EVENT", "Runnable Fetch finished with exit code 0."),
        events[-1],
    ]
    assert "RUNNING to SUCCEEDED" in events[-1][1]


def test_operations_mixin_methods(batch_emulator: BatchEmulator, transport: str) -> None:
    """The client's google.longrunning mixins: get, list, cancel and delete an operation."""
    client = batch_emulator.client("v1", transport)
    job = client.create_job(parent=PARENT, job_id="ops", job=container_job(batch_v1))
    name = client.cancel_job(name=job.name).operation.name
    assert name.startswith(f"{PARENT}/operations/")
    listed = client.list_operations(operations_pb2.ListOperationsRequest(name=PARENT))
    assert [op.name for op in listed.operations] == [name]
    client.cancel_operation(operations_pb2.CancelOperationRequest(name=name))
    assert client.get_operation(operations_pb2.GetOperationRequest(name=name)).name == name
    client.delete_operation(operations_pb2.DeleteOperationRequest(name=name))
    with pytest.raises(raised(transport, exceptions.NotFound)):
        client.get_operation(operations_pb2.GetOperationRequest(name=name))
