"""Push waiting against the emulator: the trigger waits on a Pub/Sub subscription (real
google-cloud-pubsub async client), reads each job once, and survives lost, duplicated and reordered
messages, two triggerers on one subscription, and a subscription that disappears."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from google.cloud import batch_v1alpha as batch

from airflow_batchstream.notifications import add_state_notification, ensure_subscription
from airflow_batchstream.triggers.batch import BatchStreamJobTrigger
from airflow_batchstream.triggers.push import SubscriptionPuller

pytestmark = pytest.mark.integration

PARENT = "projects/demo-project/locations/us-central1"
IMAGE = "us-central1-docker.pkg.dev/demo-project/containers/debian:12"
TOPIC = "projects/demo-project/topics/batch-states"
SUBSCRIPTION = "projects/demo-project/subscriptions/batch-states-airflow"


@pytest.fixture
def subscription(batch_emulator) -> str:
    ensure_subscription(TOPIC, SUBSCRIPTION)
    return SUBSCRIPTION


def _create(emulator: Any, job_id: str, run_seconds: float = 0.5) -> str:
    job = batch.Job(
        task_groups=[
            batch.TaskGroup(
                task_spec=batch.TaskSpec(
                    runnables=[batch.Runnable(container=batch.Runnable.Container(image_uri=IMAGE))]
                )
            )
        ],
        labels={
            "managed-by": "airflow-batchstream",
            "emulator-run-seconds": str(run_seconds).replace(".", "_"),
        },
    )
    add_state_notification(job, TOPIC)
    return str(emulator.client().create_job(parent=PARENT, job_id=job_id, job=job).name)


def _trigger(name: str, **kwargs: Any) -> BatchStreamJobTrigger:
    options = {"poll_interval": 0.2, "safety_poll_interval": 60.0, "notification_subscription": SUBSCRIPTION}
    return BatchStreamJobTrigger(job_name=name, **(options | kwargs))


async def _events(triggers: list[BatchStreamJobTrigger]) -> list[dict[str, Any]]:
    async def one(trigger: BatchStreamJobTrigger) -> dict[str, Any]:
        events = [event.payload async for event in trigger.run()]
        assert len(events) == 1
        return events[0]

    return await asyncio.wait_for(asyncio.gather(*(one(t) for t in triggers)), 60)


def _reads(emulator: Any) -> int:
    counts = emulator.rpc_counts()
    return counts.get("GetJob", 0) + counts.get("ListJobs", 0)


def test_each_job_is_read_once_when_its_notice_says_it_ended(batch_emulator, subscription):
    names = [_create(batch_emulator, f"push-{i}", run_seconds=0.2 * (i % 4)) for i in range(20)]
    batch_emulator.reset_counts()
    events = asyncio.run(_events([_trigger(n) for n in names]))
    assert sorted(e["summary"]["job_name"] for e in events) == sorted(names)
    assert {(e["status"], e["state"]) for e in events} == {("ended", "SUCCEEDED")}
    counts = batch_emulator.rpc_counts()
    assert counts.get("GetJob") == len(names) and "ListJobs" not in counts
    assert counts["Pull"] >= 1
    assert batch_emulator.pubsub.backlog(SUBSCRIPTION) == 0  # every notice acknowledged


def test_failed_job_summary_comes_from_the_job_not_the_message(batch_emulator, subscription):
    batch_emulator.fail_job("push-fails", exit_code=50001)
    name = _create(batch_emulator, "push-fails")
    (event,) = asyncio.run(_events([_trigger(name)]))
    assert event["state"] == "FAILED"
    assert event["summary"]["failed_exit_codes"] == [50001]


def test_lost_ending_notice_is_covered_by_the_safety_poll(batch_emulator, subscription):
    batch_emulator.notifier.set_faults(drop_states=("SUCCEEDED",))
    name = _create(batch_emulator, "push-lost")
    (event,) = asyncio.run(_events([_trigger(name, safety_poll_interval=1.5)]))
    assert event["state"] == "SUCCEEDED"
    assert batch_emulator.notifier.dropped == 1


def test_duplicated_and_reordered_notices_end_each_wait_once(batch_emulator, subscription):
    batch_emulator.notifier.set_faults(duplicate=True, reverse=True)
    names = [_create(batch_emulator, f"push-dup-{i}") for i in range(5)]
    batch_emulator.reset_counts()
    events = asyncio.run(_events([_trigger(n) for n in names]))
    assert [e["state"] for e in events] == ["SUCCEEDED"] * 5
    assert batch_emulator.rpc_counts()["GetJob"] <= 2 * len(names)  # at most one per copy of the end


def test_a_sensor_like_stop_state_wakes_the_trigger(batch_emulator, subscription):
    batch_emulator.hold_job("push-running")
    name = _create(batch_emulator, "push-running", run_seconds=30)
    trigger = _trigger(name, stop_states=["RUNNING"], cancel_on_kill=False)

    async def main() -> list[dict[str, Any]]:
        task = asyncio.ensure_future(_events([trigger]))
        await asyncio.sleep(0.5)
        batch_emulator.release_job("push-running")
        return await task

    (event,) = asyncio.run(main())
    assert event["state"] == "RUNNING"


def test_two_triggerers_share_one_subscription(batch_emulator, subscription):
    """Two event loops (two triggerers), each with its own pull loop and half the jobs: notices of
    the other's jobs are given back, and every wait ends, reading each job about once."""
    names = [_create(batch_emulator, f"push-two-{i}", run_seconds=0.3 + 0.1 * (i % 5)) for i in range(30)]
    batch_emulator.reset_counts()
    results: dict[int, list[dict[str, Any]]] = {}
    pullers: dict[int, SubscriptionPuller] = {}

    def triggerer(index: int) -> None:
        async def main() -> list[dict[str, Any]]:
            task = asyncio.ensure_future(_events([_trigger(n) for n in names[index::2]]))
            await asyncio.sleep(0.2)
            pullers[index] = SubscriptionPuller._registry.get()[(SUBSCRIPTION, "google_cloud_default|")]
            return await task

        results[index] = asyncio.run(main())

    threads = [threading.Thread(target=triggerer, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert sorted(e["summary"]["job_name"] for r in results.values() for e in r) == sorted(names)
    assert all(e["state"] == "SUCCEEDED" for r in results.values() for e in r)
    assert _reads(batch_emulator) <= 1.1 * len(names)
    assert sum(p.stats.handed for p in pullers.values()) >= len(names)


def test_a_subscription_that_disappears_falls_back_to_polling(batch_emulator, subscription):
    batch_emulator.hold_job("push-orphan")
    name = _create(batch_emulator, "push-orphan")

    async def main() -> list[dict[str, Any]]:
        task = asyncio.ensure_future(_events([_trigger(name)]))
        await asyncio.sleep(0.5)
        batch_emulator.pubsub.delete_subscription(SUBSCRIPTION)
        batch_emulator.release_job("push-orphan")
        return await task

    (event,) = asyncio.run(main())
    assert event["state"] == "SUCCEEDED"
    assert batch_emulator.rpc_counts().get("ListJobs", 0) >= 1  # the shared poller took over


def test_a_subscription_that_never_existed_polls_from_the_start(batch_emulator):
    name = _create(batch_emulator, "push-nothing")
    (event,) = asyncio.run(_events([_trigger(name, shared_poller=False)]))
    assert event["state"] == "SUCCEEDED"
