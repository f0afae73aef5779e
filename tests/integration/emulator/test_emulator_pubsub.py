"""The emulator's Pub/Sub through the real google-cloud-pubsub clients (PUBSUB_EMULATOR_HOST), and the
job-state notifications it publishes."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import pytest
from google.api_core import exceptions
from google.cloud import batch_v1, pubsub_v1

pytestmark = pytest.mark.integration

TOPIC = "projects/demo-project/topics/batch-states"
SUBSCRIPTION = "projects/demo-project/subscriptions/batch-states-airflow"
PARENT = "projects/demo-project/locations/us-central1"


@pytest.fixture
def clients(batch_emulator):
    """A publisher and a subscriber on the emulator (the fixture set PUBSUB_EMULATOR_HOST), with
    the topic and subscription created."""
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    publisher.create_topic(name=TOPIC)
    subscriber.create_subscription(name=SUBSCRIPTION, topic=TOPIC, ack_deadline_seconds=10)
    yield publisher, subscriber
    subscriber.close()


def _job(notify: list[batch_v1.JobNotification]) -> batch_v1.Job:
    runnable = batch_v1.Runnable(container=batch_v1.Runnable.Container(image_uri="debian:12"))
    return batch_v1.Job(
        task_groups=[batch_v1.TaskGroup(task_spec=batch_v1.TaskSpec(runnables=[runnable]))],
        notifications=notify,
    )


def _state_changes(new_state: batch_v1.JobStatus.State | None = None) -> batch_v1.JobNotification:
    message = batch_v1.JobNotification.Message(type_=batch_v1.JobNotification.Type.JOB_STATE_CHANGED)
    if new_state is not None:
        message.new_job_state = new_state
    return batch_v1.JobNotification(pubsub_topic=TOPIC, message=message)


def _pull_all(subscriber, until: float) -> list:
    messages = []
    while time.monotonic() < until:
        response = subscriber.pull(subscription=SUBSCRIPTION, max_messages=100, timeout=10)
        if response.received_messages:
            messages.extend(response.received_messages)
            subscriber.acknowledge(
                subscription=SUBSCRIPTION, ack_ids=[m.ack_id for m in response.received_messages]
            )
    return messages


def test_topics_and_subscriptions_exist_once(clients):
    publisher, subscriber = clients
    assert publisher.get_topic(topic=TOPIC).name == TOPIC
    assert subscriber.get_subscription(subscription=SUBSCRIPTION).topic == TOPIC
    with pytest.raises(exceptions.AlreadyExists):
        publisher.create_topic(name=TOPIC)
    with pytest.raises(exceptions.NotFound):
        subscriber.create_subscription(name=SUBSCRIPTION + "-x", topic=TOPIC + "-missing")
    subscriber.delete_subscription(subscription=SUBSCRIPTION)
    with pytest.raises(exceptions.NotFound):
        subscriber.pull(subscription=SUBSCRIPTION, max_messages=1, retry=None, timeout=5)


def test_publish_pull_acknowledge_and_redelivery(clients):
    publisher, subscriber = clients
    publisher.publish(TOPIC, b"one", kind="a").result(timeout=10)
    first = subscriber.pull(subscription=SUBSCRIPTION, max_messages=10, timeout=10).received_messages
    assert [(m.message.data, dict(m.message.attributes)) for m in first] == [(b"one", {"kind": "a"})]
    # Given back at once (deadline 0): delivered again, then acknowledged for good.
    subscriber.modify_ack_deadline(
        subscription=SUBSCRIPTION, ack_ids=[first[0].ack_id], ack_deadline_seconds=0
    )
    again = subscriber.pull(subscription=SUBSCRIPTION, max_messages=10, timeout=10).received_messages
    assert [m.message.message_id for m in again] == [first[0].message.message_id]
    subscriber.acknowledge(subscription=SUBSCRIPTION, ack_ids=[again[0].ack_id])
    assert _ready(subscriber) == 0


def _ready(subscriber, ack: bool = False) -> int:
    response = subscriber.pull(
        subscription=SUBSCRIPTION, max_messages=10, return_immediately=True, timeout=10
    )
    if ack and response.received_messages:
        subscriber.acknowledge(
            subscription=SUBSCRIPTION, ack_ids=[m.ack_id for m in response.received_messages]
        )
    return len(response.received_messages)


def test_unacknowledged_message_comes_back_after_its_deadline(batch_emulator, clients):
    publisher, subscriber = clients
    publisher.publish(TOPIC, b"late").result(timeout=10)
    first = subscriber.pull(subscription=SUBSCRIPTION, max_messages=1, timeout=10).received_messages
    subscriber.modify_ack_deadline(
        subscription=SUBSCRIPTION, ack_ids=[first[0].ack_id], ack_deadline_seconds=1
    )
    assert batch_emulator.pubsub.backlog(SUBSCRIPTION) == 1
    started = time.monotonic()
    again = subscriber.pull(subscription=SUBSCRIPTION, max_messages=1, timeout=10).received_messages
    assert again[0].message.message_id == first[0].message.message_id
    assert time.monotonic() - started > 0.5  # not before its new deadline


def test_streaming_pull_subscriber_receives_job_state_notifications(batch_emulator, clients):
    _, subscriber = clients
    received: list[dict[str, str]] = []
    done = threading.Event()

    def callback(message) -> None:
        received.append(dict(message.attributes) | {"data": message.data.decode()})
        message.ack()
        if message.attributes["NewJobState"] == "SUCCEEDED":
            done.set()

    future = subscriber.subscribe(SUBSCRIPTION, callback)
    try:
        job = batch_emulator.client("v1").create_job(
            parent=PARENT, job_id="notifying", job=_job([_state_changes()])
        )
        assert done.wait(15)
    finally:
        future.cancel()
    assert [m["NewJobState"] for m in received] == ["SCHEDULED", "RUNNING", "SUCCEEDED"]
    last = received[-1]
    assert (last["Type"], last["JobName"], last["JobUID"], last["Region"]) == (
        "JOB_STATE_CHANGED",
        job.name,
        job.uid,
        "us-central1",
    )
    assert "to SUCCEEDED" in last["data"]
    assert batch_emulator.rpc_counts()["StreamingPull"] >= 1


def test_new_job_state_selects_one_state_and_cancel_rewrites_the_future(batch_emulator, clients):
    _, subscriber = clients
    client = batch_emulator.client("v1")
    ended = [
        _state_changes(batch_v1.JobStatus.State.SUCCEEDED),
        _state_changes(batch_v1.JobStatus.State.CANCELLED),
    ]
    batch_emulator.hold_job("held")
    client.create_job(parent=PARENT, job_id="held", job=_job(ended))
    client.create_job(parent=PARENT, job_id="quiet", job=_job([]))
    client.create_job(parent=PARENT, job_id="finishes", job=_job(ended))
    client.cancel_job(name=f"{PARENT}/jobs/held")
    messages = _pull_all(subscriber, time.monotonic() + 4)
    states = sorted(
        (m.message.attributes["JobName"].rsplit("/", 1)[-1], m.message.attributes["NewJobState"])
        for m in messages
    )
    assert states == [("finishes", "SUCCEEDED"), ("held", "CANCELLED")]


def test_notification_faults_drop_duplicate_and_reverse(batch_emulator, clients):
    _, subscriber = clients
    client = batch_emulator.client("v1")
    batch_emulator.notifier.set_faults(duplicate=True, reverse=True)
    client.create_job(parent=PARENT, job_id="twice", job=_job([_state_changes()]))
    messages = _pull_all(subscriber, time.monotonic() + 4)
    states = [m.message.attributes["NewJobState"] for m in messages]
    assert states == ["SUCCEEDED", "SUCCEEDED", "RUNNING", "RUNNING", "SCHEDULED", "SCHEDULED"]
    batch_emulator.notifier.set_faults(drop_states=("SUCCEEDED",))
    client.create_job(parent=PARENT, job_id="lost", job=_job([_state_changes()]))
    messages = _pull_all(subscriber, time.monotonic() + 4)
    assert [m.message.attributes["NewJobState"] for m in messages] == ["SCHEDULED", "RUNNING"]
    assert batch_emulator.notifier.dropped == 1


def test_a_missing_topic_swallows_the_notification(batch_emulator, clients):
    publisher, _ = clients
    publisher.delete_topic(topic=TOPIC)
    batch_emulator.client("v1").create_job(parent=PARENT, job_id="nowhere", job=_job([_state_changes()]))
    deadline = time.monotonic() + 10
    while batch_emulator.pubsub.undeliverable < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert batch_emulator.pubsub.undeliverable == 3
    assert batch_emulator.client("v1").get_job(name=f"{PARENT}/jobs/nowhere").status.state.name == "SUCCEEDED"


def test_a_cancelled_pull_takes_no_message_published_after(batch_emulator, clients):
    """A pull its caller gave up on (a trigger's event loop that ended) leaves later messages for others."""
    from google.pubsub_v1.services.subscriber import SubscriberAsyncClient

    publisher, subscriber = clients

    async def pull_give_up_and_publish() -> None:
        client = SubscriberAsyncClient()  # PUBSUB_EMULATOR_HOST: plaintext gRPC to the emulator
        waiting = asyncio.ensure_future(client.pull(subscription=SUBSCRIPTION, max_messages=10, timeout=30))
        await asyncio.sleep(0.3)  # the emulator waits for a message on the caller's behalf
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        await asyncio.sleep(0.05)  # the cancellation reaches the emulator
        publisher.publish(TOPIC, b"after").result(timeout=10)

    for _ in range(3):  # the emulator's wait wakes at a different moment each time
        asyncio.run(pull_give_up_and_publish())
        time.sleep(0.6)  # the abandoned pull's wait is over
        assert _ready(subscriber, ack=True) == 1
