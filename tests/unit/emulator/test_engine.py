"""The lifecycle engine with a fake clock: timelines are computed, not waited for."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.cloud import batch_v1alpha

from airflow_batchstream.emulator.engine import Engine
from airflow_batchstream.emulator.images import ImageCatalog
from airflow_batchstream.emulator.model import CreateJobRequestPb, EmulatorError, JobPb, Timings

PARENT = "projects/p/locations/us-central1"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _request(job_id: str, task_count: int = 1, parallelism: int = 0, max_run: int = 0) -> Any:
    spec: dict[str, Any] = {"runnables": [{"container": {"image_uri": "debian"}}]}
    if max_run:
        spec["max_run_duration"] = {"seconds": max_run}
    job = batch_v1alpha.Job(
        task_groups=[{"task_count": task_count, "parallelism": parallelism, "task_spec": spec}]
    )
    return CreateJobRequestPb(parent=PARENT, job_id=job_id, job=batch_v1alpha.Job.pb(job))


def _job(engine: Engine, job_id: str) -> Any:
    return JobPb.FromString(engine.get_job(f"{PARENT}/jobs/{job_id}"))


def _state(engine: Engine, job_id: str) -> str:
    return batch_v1alpha.JobStatus.State(_job(engine, job_id).status.state).name


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(clock: FakeClock) -> Engine:
    # Zero-size images: no pull delay, so the phases below are exactly the timings.
    return Engine(
        Timings(queued_seconds=10, scheduled_seconds=20, run_seconds=100),
        clock=clock,
        images=ImageCatalog(default_size=0),
    )


def test_states_follow_the_clock(engine: Engine, clock: FakeClock) -> None:
    engine.create_job(_request("a"))
    timeline = []
    for offset in (0, 9.9, 10, 29.9, 30, 129.9, 130, 10_000):
        clock.now = 1_000_000.0 + offset
        timeline.append(_state(engine, "a"))
    assert timeline == [
        "QUEUED",
        "QUEUED",
        "SCHEDULED",
        "SCHEDULED",
        "RUNNING",
        "RUNNING",
        "SUCCEEDED",
        "SUCCEEDED",
    ]
    job = _job(engine, "a")
    assert job.status.run_duration.seconds == 100
    assert job.update_time.seconds == 1_000_130


def test_parallelism_runs_tasks_in_waves(engine: Engine, clock: FakeClock) -> None:
    engine.create_job(_request("waves", task_count=5, parallelism=2))
    clock.now += 30 + 150
    counts = dict(_job(engine, "waves").status.task_groups["group0"].counts)
    assert counts == {"SUCCEEDED": 2, "RUNNING": 2, "PENDING": 1}
    clock.now += 200
    assert _state(engine, "waves") == "SUCCEEDED"
    assert _job(engine, "waves").status.run_duration.seconds == 300


def test_max_run_duration_times_out_simulated_work(engine: Engine, clock: FakeClock) -> None:
    engine.create_job(_request("slow", max_run=5))
    clock.now += 36
    job = _job(engine, "slow")
    assert batch_v1alpha.JobStatus.State(job.status.state).name == "FAILED"
    assert job.status.status_events[-2].task_execution.exit_code == 50005


def test_fail_job_before_running_replans(engine: Engine, clock: FakeClock) -> None:
    engine.create_job(_request("f"))
    clock.now += 15
    engine.fail_job("f", exit_code=9)
    clock.now += 200
    job = _job(engine, "f")
    assert batch_v1alpha.JobStatus.State(job.status.state).name == "FAILED"
    assert [e.description.split(" for job")[0] for e in job.status.status_events][:2] == [
        "Job state is set from QUEUED to SCHEDULED",
        "Job state is set from SCHEDULED to RUNNING",
    ]
    assert job.status.status_events[-2].task_execution.exit_code == 9


def test_cancel_from_queued(engine: Engine, clock: FakeClock) -> None:
    engine.create_job(_request("c"))
    engine.cancel_job(f"{PARENT}/jobs/c", "", "v1")
    assert _state(engine, "c") == "CANCELLATION_IN_PROGRESS"
    clock.now += 1
    assert _state(engine, "c") == "CANCELLED"
    assert not _job(engine, "c").status.HasField("run_duration")


def test_delete_makes_the_job_vanish_after_the_delay(engine: Engine, clock: FakeClock) -> None:
    engine.create_job(_request("d"))
    engine.delete_job(f"{PARENT}/jobs/d", "", "v1alpha")
    assert _state(engine, "d") == "DELETION_IN_PROGRESS"
    clock.now += 1
    with pytest.raises(EmulatorError) as info:
        engine.get_job(f"{PARENT}/jobs/d")
    assert info.value.code == grpc.StatusCode.NOT_FOUND
    engine.create_job(_request("d"))  # the id is free again


def test_many_jobs_cost_no_threads(engine: Engine, clock: FakeClock) -> None:
    import threading

    before = threading.active_count()
    for i in range(2000):
        engine.create_job(_request(f"j{i}"))
    clock.now += 1000
    jobs, token = engine.list_jobs(PARENT, 'status.state="SUCCEEDED"', 1000, "")
    assert len(jobs) == 1000 and token
    assert threading.active_count() <= before


def _container_request(job_id: str, image: str, streaming: bool, task_count: int = 1, parallelism: int = 0):
    container = {"image_uri": image, "enable_image_streaming": streaming}
    job = batch_v1alpha.Job(
        task_groups=[
            {
                "task_count": task_count,
                "parallelism": parallelism,
                "task_spec": {"runnables": [{"container": container}]},
            }
        ]
    )
    return CreateJobRequestPb(parent=PARENT, job_id=job_id, job=batch_v1alpha.Job.pb(job))


def _event_times(job: Any) -> dict[str, float]:
    return {
        e.description.split(" for job")[0].rsplit(" ", 1)[-1]: e.event_time.ToNanoseconds() / 1e9
        for e in job.status.status_events
    }


def _task_times(engine: Engine, job_id: str, index: int) -> dict[str, float]:
    raw = engine.get_task(f"{PARENT}/jobs/{job_id}/taskGroups/group0/tasks/{index}")
    return {
        batch_v1alpha.TaskStatus.State(e.task_state).name: e.event_time.ToNanoseconds() / 1e9
        for e in batch_v1alpha.Task.pb().FromString(raw).status.status_events
    }


def test_image_streaming_shortens_the_scheduled_to_running_gap(clock: FakeClock) -> None:
    images = ImageCatalog(default_size=0, bandwidth=1e9, streaming_seconds=0.5)
    engine = Engine(Timings(queued_seconds=10, scheduled_seconds=20, run_seconds=100), clock, images)
    ar_image = "us-central1-docker.pkg.dev/p/r/big:1"
    images.register(ar_image, 30 * 10**9)
    images.register("docker.io/library/big:1", 30 * 10**9)
    engine.create_job(_container_request("pulled", ar_image, streaming=False))
    engine.create_job(_container_request("streamed", ar_image, streaming=True))
    engine.create_job(_container_request("not-ar", "docker.io/library/big:1", streaming=True))
    clock.now += 1000
    gaps = {}
    for job_id in ("pulled", "streamed", "not-ar"):
        times = _event_times(_job(engine, job_id))
        gaps[job_id] = times["RUNNING"] - times["SCHEDULED"]
    assert gaps == {"pulled": 50.0, "streamed": 20.5, "not-ar": 50.0}
    # The task's own events show the pull between ASSIGNED and RUNNING.
    task = batch_v1alpha.Task.pb().FromString(
        engine.get_task(f"{PARENT}/jobs/pulled/taskGroups/group0/tasks/0")
    )
    by_state = {
        batch_v1alpha.TaskStatus.State(e.task_state).name: e.event_time.ToNanoseconds() / 1e9
        for e in task.status.status_events
    }
    assert by_state["RUNNING"] - by_state["ASSIGNED"] == 30.0


def test_later_waves_find_the_image_cached(clock: FakeClock) -> None:
    images = ImageCatalog(default_size=10 * 10**9, bandwidth=1e9)
    engine = Engine(Timings(queued_seconds=10, scheduled_seconds=20, run_seconds=100), clock, images)
    engine.create_job(_container_request("waves", "debian", streaming=False, task_count=2, parallelism=1))
    clock.now += 1000
    starts = [
        _task_times(engine, "waves", i)["RUNNING"] - _task_times(engine, "waves", i)["ASSIGNED"]
        for i in (0, 1)
    ]
    assert starts == [10.0, 0.0]


def _counts(engine: Engine, job_id: str) -> dict[str, int]:
    return dict(_job(engine, job_id).status.task_groups["group0"].counts)


def test_failing_mid_run_ends_every_other_task(engine: Engine, clock: FakeClock) -> None:
    engine.create_job(_request("mid", task_count=3, parallelism=2))
    clock.now += 30 + 50
    assert _counts(engine, "mid") == {"RUNNING": 2, "PENDING": 1}
    engine.fail_job("mid", exit_code=50001, task_index=1)
    clock.now += 1000
    job = _job(engine, "mid")
    assert batch_v1alpha.JobStatus.State(job.status.state).name == "FAILED"
    assert _counts(engine, "mid") == {"FAILED": 2, "UNEXECUTED": 1}
    codes = [e.task_execution.exit_code for e in job.status.status_events if e.task_execution.exit_code]
    assert codes == [50001]
    assert "task with index 1 failed with exit code 50001" in job.status.status_events[-1].description


def test_cancel_mid_run_leaves_no_task_running(engine: Engine, clock: FakeClock) -> None:
    engine.create_job(_request("stop", task_count=3, parallelism=2))
    clock.now += 30 + 50
    engine.cancel_job(f"{PARENT}/jobs/stop", "", "v1")
    assert _counts(engine, "stop") == {"RUNNING": 2, "PENDING": 1}
    clock.now += 1
    assert _state(engine, "stop") == "CANCELLED"
    assert _counts(engine, "stop") == {"FAILED": 2, "UNEXECUTED": 1}
    assert not any(e.task_execution.exit_code for e in _job(engine, "stop").status.status_events)
