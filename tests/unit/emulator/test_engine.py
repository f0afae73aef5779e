"""The lifecycle engine with a fake clock: timelines are computed, not waited for."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.cloud import batch_v1alpha

from airflow_batchstream.emulator.engine import (
    CreateJobRequestPb,
    EmulatorError,
    Engine,
    JobPb,
    Timings,
)

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
    return Engine(Timings(queued_seconds=10, scheduled_seconds=20, run_seconds=100), clock=clock)


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
