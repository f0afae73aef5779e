"""Container runtimes (simulate, local, engines refused when absent) and the image-pull model."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from emulator_helpers import PARENT, container_job, wait_state
from google.cloud import batch_v1alpha

from airflow_batchstream.emulator import BatchEmulator
from airflow_batchstream.emulator.__main__ import main
from airflow_batchstream.emulator.runtime import select_runtime


def _engine_usable(name: str) -> bool:
    if shutil.which(name) is None:
        return False
    return subprocess.run([name, "info"], capture_output=True, timeout=10, check=False).returncode == 0


def _local_job(entrypoint: str, commands: list[str], task_count: int = 1):
    job = container_job(batch_v1alpha, task_count=task_count)
    container = job.task_groups[0].task_spec.runnables[0].container
    container.entrypoint = entrypoint
    container.commands = commands
    job.task_groups[0].task_spec.environment = batch_v1alpha.Environment(variables={"GREETING": "hi"})
    return job


def test_local_runtime_runs_entrypoint_and_commands_on_the_host() -> None:
    with BatchEmulator(queued_seconds=0.05, scheduled_seconds=0.05, container_runtime="local") as emulator:
        client = emulator.client()
        script = 'echo "$GREETING $BATCH_TASK_INDEX/$BATCH_TASK_COUNT"; exit $((BATCH_TASK_INDEX * 4))'
        job = client.create_job(
            parent=PARENT, job_id="local", job=_local_job("/bin/sh", ["-c", script], task_count=2)
        )
        done = wait_state(client, job.name)
        assert done.status.state.name == "FAILED"
        assert [
            e.task_execution.exit_code for e in done.status.status_events if e.task_execution.exit_code
        ] == [4]
        assert sorted(line.text for line in emulator.task_logs("local")) == ["hi 0/2", "hi 1/2"]

        missing = client.create_job(
            parent=PARENT, job_id="missing", job=_local_job("/nonexistent/tool", ["--version"])
        )
        failed = wait_state(client, missing.name)
        assert "exit code 127" in failed.status.status_events[-1].description
        assert "cannot run /nonexistent/tool" in emulator.task_logs("missing")[0].text


def test_container_engines_are_refused_when_not_usable(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("docker", "podman"):
        if _engine_usable(name):
            continue
        with pytest.raises(ValueError, match=f"container runtime '{name}'"):
            select_runtime(name)
        assert main(["--container-runtime", name]) == 2
        assert f"container runtime '{name}'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="must be one of"):
        select_runtime("kubernetes")


def test_streamed_image_starts_sooner_in_the_status_timestamps(batch_emulator: BatchEmulator) -> None:
    client = batch_emulator.client()
    image = "us-central1-docker.pkg.dev/p/r/huge:1"
    batch_emulator.register_image(image, 1024**3)  # 1 s at the default 1 GiB/s

    def gap(job_id: str, streaming: bool) -> float:
        job = container_job(batch_v1alpha)
        container = job.task_groups[0].task_spec.runnables[0].container
        container.image_uri = image
        container.enable_image_streaming = streaming
        done = wait_state(client, client.create_job(parent=PARENT, job_id=job_id, job=job).name)
        times = {
            e.description.split(" for job")[0].rsplit(" ", 1)[-1]: e.event_time
            for e in done.status.status_events
        }
        return (times["RUNNING"] - times["SCHEDULED"]).total_seconds()

    streamed, pulled = gap("streamed", True), gap("pulled", False)
    # The model, not the wall clock: a pull of 1 GiB adds 1 s between SCHEDULED and RUNNING.
    assert pulled - streamed == pytest.approx(1.0 - 0.05, abs=0.05)
