"""EmulatorControl: every documented method, Scenario objects as they are, over real gRPC."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emulator_helpers import PARENT, container_job, script_job, wait_state
from google.api_core.exceptions import ServiceUnavailable
from google.cloud import batch_v1alpha

from airflow_batchstream.emulator import BatchEmulator, Scenario
from airflow_batchstream.emulator.control import EmulatorControl, EmulatorControlError

pytestmark = pytest.mark.integration


@pytest.fixture
def control(batch_emulator: BatchEmulator) -> Iterator[EmulatorControl]:
    client = EmulatorControl(batch_emulator.address)
    yield client
    client.close()


def _exit_codes(job) -> set[int]:
    return {e.task_execution.exit_code for e in job.status.status_events if e.task_execution.exit_code}


def test_a_scenario_object_crosses_as_it_is(batch_emulator: BatchEmulator, control: EmulatorControl) -> None:
    control.add_scenario(Scenario(exit_code=7, task_index=None), labels={"team": "ads"})
    control.call("add_scenario", scenario=Scenario(hold_in_queue=True), job_id="held")
    client = batch_emulator.client()
    failed = client.create_job(
        parent=PARENT, job_id="ads", job=container_job(batch_v1alpha, labels={"team": "ads"})
    )
    held = client.create_job(parent=PARENT, job_id="held", job=container_job(batch_v1alpha))

    assert _exit_codes(wait_state(client, failed.name)) == {7}
    assert control.job_states()[held.name] == "QUEUED"
    control.release_job("held")
    assert wait_state(client, held.name).status.state.name == "SUCCEEDED"


def test_fail_and_preempt_task_aim_at_the_operator_labels(
    batch_emulator: BatchEmulator, control: EmulatorControl
) -> None:
    control.fail_task("Marketing.daily_spend", "load", exit_code=4)
    control.preempt_task("Marketing.daily_spend", "report")
    client = batch_emulator.client()

    def create(job_id: str, task_id: str):
        labels = {"airflow-dag-id": "marketing-daily_spend", "airflow-task-id": task_id}
        job = container_job(batch_v1alpha, labels=labels)
        return client.create_job(parent=PARENT, job_id=job_id, job=job)

    assert _exit_codes(wait_state(client, create("load-1", "load").name)) == {4}
    assert _exit_codes(wait_state(client, create("report-1", "report").name)) == {50001}
    assert wait_state(client, create("other-1", "other").name).status.state.name == "SUCCEEDED"


def test_job_methods_and_inspection(batch_emulator: BatchEmulator, control: EmulatorControl) -> None:
    client = batch_emulator.client()
    control.register_image("us-docker.pkg.dev/p/r/debian:12", 1024)
    control.hold_job("future")
    scripted = client.create_job(
        parent=PARENT,
        job_id="scripted",
        job=batch_v1alpha.Job(
            task_groups=script_job(batch_v1alpha, "echo hello").task_groups,
            logs_policy=batch_v1alpha.LogsPolicy(destination="CLOUD_LOGGING"),
        ),
    )
    future = client.create_job(parent=PARENT, job_id="future", job=container_job(batch_v1alpha))
    assert control.job_names() == [scripted.name, future.name]
    wait_state(client, scripted.name)
    (line,) = control.task_logs("scripted")
    assert line["text"] == "hello" and line["task_index"] == 0 and line["stream"] == "stdout"
    control.fail_job("future", exit_code=9)
    control.release_job("future")
    assert _exit_codes(wait_state(client, future.name)) == {9}
    control.vanish_job("scripted")
    assert scripted.name not in control.job_names()
    with pytest.raises(EmulatorControlError, match="INVALID_ARGUMENT: job never-made does not exist"):
        control.vanish_job("never-made")
    assert control.rpc_counts()["CreateJob"] == 2


def test_faults_injected_counts_by_method(batch_emulator: BatchEmulator, control: EmulatorControl) -> None:
    control.fail_next("GetJob", "UNAVAILABLE", times=2)
    client = batch_emulator.client()
    for _ in range(2):
        with pytest.raises(ServiceUnavailable):
            client.get_job(name=f"{PARENT}/jobs/none", retry=None)
    assert control.faults_injected() == {"GetJob": 2}
    control.set_latency(0)
    control.clear_faults()
