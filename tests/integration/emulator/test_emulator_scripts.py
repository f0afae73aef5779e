"""Script runnables really run in subprocesses inside the emulator."""

from __future__ import annotations

import pytest
from emulator_helpers import PARENT, script_job, wait_state
from google.cloud import batch_v1, batch_v1alpha

from airflow_batchstream.emulator import BatchEmulator


@pytest.mark.parametrize("module", [batch_v1alpha, batch_v1], ids=["v1alpha", "v1"])
def test_script_exit_code_fails_the_job(batch_emulator: BatchEmulator, module: object) -> None:
    client = batch_emulator.client("v1alpha" if module is batch_v1alpha else "v1")
    job = client.create_job(
        parent=PARENT,
        job_id="exit-three",
        job=script_job(module, "echo about to fail; exit 3"),
    )
    done = wait_state(client, job.name)
    assert done.status.state.name == "FAILED"
    codes = [e.task_execution.exit_code for e in done.status.status_events if e.task_execution.exit_code]
    assert codes == [3]
    assert "Task state is updated from RUNNING to FAILED" in done.status.status_events[-2].description
    assert [line.text for line in batch_emulator.task_logs("exit-three")] == ["about to fail"]


def test_task_count_and_environment(batch_emulator: BatchEmulator) -> None:
    client = batch_emulator.client()
    text = (
        'echo "index=$BATCH_TASK_INDEX count=$BATCH_TASK_COUNT attempt=$BATCH_TASK_RETRY_ATTEMPT"; '
        "echo oops >&2"
    )
    job = client.create_job(
        parent=PARENT,
        job_id="three",
        job=script_job(batch_v1alpha, text, task_count=3, parallelism=2),
    )
    done = wait_state(client, job.name)
    assert done.status.state.name == "SUCCEEDED"
    assert dict(done.status.task_groups["group0"].counts) == {"SUCCEEDED": 3}
    lines = batch_emulator.task_logs(job.name)
    stdout = sorted((line.task_index, line.text) for line in lines if line.stream == "stdout")
    assert stdout == [(i, f"index={i} count=3 attempt=0") for i in range(3)]
    assert sorted(line.task_index for line in lines if line.stream == "stderr") == [
        0,
        1,
        2,
    ]


def test_max_run_duration_kills_with_50005(batch_emulator: BatchEmulator) -> None:
    client = batch_emulator.client()
    job = script_job(batch_v1alpha, "sleep 30")
    job.task_groups[0].task_spec.max_run_duration = {"seconds": 1}
    created = client.create_job(parent=PARENT, job_id="too-slow", job=job)
    done = wait_state(client, created.name)
    assert done.status.state.name == "FAILED"
    assert "exit code 50005" in done.status.status_events[-1].description


def test_cancel_kills_a_running_script(batch_emulator: BatchEmulator) -> None:
    client = batch_emulator.client()
    created = client.create_job(
        parent=PARENT,
        job_id="long",
        job=script_job(batch_v1alpha, "echo started; sleep 30"),
    )
    wait_state(client, created.name, {"RUNNING"})
    client.cancel_job(name=created.name).result(timeout=10)
    assert client.get_job(name=created.name).status.state.name == "CANCELLED"
