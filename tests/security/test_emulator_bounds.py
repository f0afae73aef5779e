"""The emulator has bounds: Batch's own job limits, no planning under the lock, bounded threads and output."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from google.cloud import batch_v1alpha
from security_helpers import PARENT, script_job, wait_ended

from airflow_batchstream.emulator.server import BatchEmulator

pytestmark = pytest.mark.integration


def _container_job(task_count: int = 1, parallelism: int = 0, retries: int = 0) -> batch_v1alpha.Job:
    b = batch_v1alpha
    runnable = b.Runnable(container=b.Runnable.Container(image_uri="us-docker.pkg.dev/p/r/i:1"))
    spec = b.TaskSpec(runnables=[runnable], max_retry_count=retries)
    return b.Job(task_groups=[b.TaskGroup(task_count=task_count, parallelism=parallelism, task_spec=spec)])


@pytest.mark.parametrize(
    ("job", "field"),
    [
        (_container_job(task_count=2**40), "task_count"),
        (_container_job(task_count=100_001), "task_count"),
        (_container_job(task_count=10, parallelism=5_001), "parallelism"),
        (_container_job(retries=11), "max_retry_count"),
    ],
    ids=["2**40-tasks", "100001-tasks", "parallelism-5001", "11-retries"],
)
def test_batch_job_limits_are_refused(batch_emulator, job, field):
    from google.api_core.exceptions import InvalidArgument

    with pytest.raises(InvalidArgument) as refused:
        batch_emulator.client().create_job(parent=PARENT, job_id="too-big", job=job, timeout=30)
    assert field in str(refused.value)
    assert batch_emulator.jobs_created() == 0


def test_batch_job_limits_themselves_are_accepted(batch_emulator):
    job = batch_emulator.client().create_job(
        parent=PARENT, job_id="at-limit", job=_container_job(task_count=5_000, parallelism=5_000, retries=10)
    )
    assert job.task_groups[0].parallelism == 5_000


def test_planning_a_job_does_not_hold_reads_of_other_jobs():
    entered, release = threading.Event(), threading.Event()

    def slow_size(uri: str) -> int | None:
        if uri.endswith("/slow:1"):
            entered.set()
            release.wait(20)
        return None

    with BatchEmulator(image_sizes=slow_size) as emulator:
        client = emulator.client()
        other = client.create_job(parent=PARENT, job_id="other", job=_container_job())
        slow = _container_job()
        slow.task_groups[0].task_spec.runnables[0].container.image_uri = "us-docker.pkg.dev/p/r/slow:1"
        creator = threading.Thread(target=lambda: client.create_job(parent=PARENT, job_id="slow", job=slow))
        creator.start()
        try:
            assert entered.wait(10)
            assert client.get_job(name=other.name, timeout=5).name == other.name
        finally:
            release.set()
            creator.join(30)


def test_script_work_runs_in_a_bounded_pool():
    from airflow_batchstream.emulator.engine import MAX_TASK_WORKERS

    with BatchEmulator(queued_seconds=0, scheduled_seconds=0) as emulator:
        client = emulator.client()
        job = client.create_job(
            parent=PARENT, job_id="wide", job=script_job("sleep 3", task_count=60, parallelism=60)
        )
        deadline = time.monotonic() + 10
        while client.get_job(name=job.name).status.state.name != "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        task_threads = [
            t for t in threading.enumerate() if t.name.startswith(("emulator-task", "emulator-wide_"))
        ]
        client.delete_job(name=job.name).result(timeout=30)
    assert 0 < len(task_threads) <= MAX_TASK_WORKERS


def test_an_endless_line_is_cut_at_256_kb():
    with BatchEmulator(queued_seconds=0, scheduled_seconds=0) as emulator:
        client = emulator.client()
        job = client.create_job(
            parent=PARENT,
            job_id="long-line",
            job=script_job("head -c 3000000 /dev/zero | tr '\\0' x; echo; echo after"),
        )
        assert wait_ended(client, job.name).status.state.name == "SUCCEEDED"
        lines = emulator.task_logs("long-line")
    assert [line.text for line in lines][-1] == "after"
    assert len(lines[0].text.encode()) <= 256 * 1024 + 100 and "cut" in lines[0].text


def test_a_job_keeps_a_bounded_amount_of_output():
    with BatchEmulator(queued_seconds=0, scheduled_seconds=0) as emulator:
        emulator.engine.cloud_logs.budget = 100_000
        client = emulator.client()
        job = client.create_job(
            parent=PARENT,
            job_id="chatty",
            job=script_job("i=0; while [ $i -lt 5000 ]; do echo line-$i-padding-padding; i=$((i+1)); done"),
        )
        assert wait_ended(client, job.name).status.state.name == "SUCCEEDED"
        lines = emulator.task_logs("chatty")
        entries = list(
            emulator.logging_client().list_log_entries(
                resource_names=["projects/demo-project"], filter=f'labels.job_uid="{job.uid}"'
            )
        )
    assert sum(len(line.text) for line in lines) <= 100_000 + 200
    assert "rest is dropped" in lines[-1].text
    assert len(entries) == len(lines) < 5000


def test_registry_tokens_expire_and_are_bounded():
    from airflow_batchstream.emulator.registry import MAX_TOKENS, TOKEN_SECONDS, RegistryStore

    now = [0.0]
    store = RegistryStore(clock=lambda: now[0])
    first = store.issue_token()
    for _ in range(MAX_TOKENS + 50):
        store.issue_token()
    assert store.tokens_held() <= MAX_TOKENS
    assert not store.token_valid(first)  # the oldest went first
    fresh = store.issue_token()
    now[0] += TOKEN_SECONDS + 1
    assert not store.token_valid(fresh) and store.tokens_held() == 0


def test_request_ids_are_forgotten_after_their_window():
    import uuid

    from airflow_batchstream.emulator.engine import Engine
    from airflow_batchstream.emulator.model import REQUEST_ID_WINDOW_SECONDS, CreateJobRequestPb, Timings

    now = [1_000_000.0]
    engine = Engine(Timings(0, 0, 0, 0, 0), clock=lambda: now[0])
    for n in range(50):
        request = CreateJobRequestPb(parent=PARENT, job_id=f"j{n}", request_id=str(uuid.uuid4()))
        request.job.CopyFrom(batch_v1alpha.Job.pb(_container_job()))
        engine.create_job(request)
    now[0] += REQUEST_ID_WINDOW_SECONDS + 1
    engine._requests.expire()
    assert len(engine._requests) == 0


def test_the_job_store_is_bounded():
    from airflow_batchstream.emulator.engine import Engine
    from airflow_batchstream.emulator.model import CreateJobRequestPb, EmulatorError, Timings

    now = [1_000_000.0]
    engine = Engine(Timings(0, 0, 0.1, 0, 0), clock=lambda: now[0], max_jobs=10)

    def create(job_id: str) -> None:
        request = CreateJobRequestPb(parent=PARENT, job_id=job_id)
        request.job.CopyFrom(batch_v1alpha.Job.pb(_container_job()))
        engine.create_job(request)

    for n in range(25):
        create(f"ended-{n}")
        now[0] += 60  # it ends
        assert len(engine.job_names()) <= 10
    assert "ended-0" not in " ".join(engine.job_names())  # the oldest ended jobs went first
    for n in range(10):
        create(f"active-{n}")  # the clock stands still: these stay active
    with pytest.raises(EmulatorError) as full:
        create("one-too-many")
    assert full.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert sum(name.split("/")[-1].startswith("active-") for name in engine.job_names()) == 10
