"""The emulator's Pub/Sub: the Publisher and Subscriber surface ``google-cloud-pubsub`` uses, and the
job-state notifications Batch publishes for jobs that ask for them.

Served on the Batch port, so ``PUBSUB_EMULATOR_HOST=<the emulator's address>`` points the real
``google-cloud-pubsub`` clients at it. ``google.pubsub.v1.Publisher``: CreateTopic, GetTopic,
DeleteTopic, Publish. ``google.pubsub.v1.Subscriber``: CreateSubscription, GetSubscription,
DeleteSubscription, Pull (waits for messages up to the call's deadline, at most
:data:`MAX_PULL_WAIT` seconds), StreamingPull (what ``SubscriberClient.subscribe`` uses; acks and
deadline changes arrive on the stream or as the unary calls), Acknowledge, ModifyAckDeadline
(0 returns a message at once). Delivery is at least once: a message not acknowledged within its
deadline is delivered again. Subscription filters, ordering keys, push and exactly-once delivery
are refused or ignored (see :meth:`PubSubStore.create_subscription`).

Notifications follow Batch's "Enable notifications" and "Monitor jobs using notifications" pages:
a job's ``notifications[]`` entry with ``message.type`` ``JOB_STATE_CHANGED`` (and optionally
``newJobState``, to be told of that state only) publishes to ``pubsubTopic``, at the moment the
state changes, a message with attributes ``Type`` (``JOB_STATE_CHANGED``), ``JobName`` (the full
resource name), ``JobUID``, ``NewJobState`` and ``Region``; its data is the status event's text
(``Job state is set from RUNNING to SUCCEEDED for job ...``). ``TASK_STATE_CHANGED`` is not
published by the emulator. A topic that does not exist swallows the message (Batch only logs it).
:meth:`Notifier.set_faults` drops, duplicates or reorders notifications, to test subscribers.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import empty_pb2
from google.pubsub_v1 import types as pubsub_types

from airflow_batchstream.emulator.model import EmulatorError, Event, JobRecord, JobState, to_ts

PUBLISHER_SERVICE = "google.pubsub.v1.Publisher"
SUBSCRIBER_SERVICE = "google.pubsub.v1.Subscriber"
#: The longest a Pull waits for a message before answering with none, in seconds.
MAX_PULL_WAIT = 5.0
#: Ack deadline of a subscription that names none, in seconds (Pub/Sub's default).
DEFAULT_ACK_DEADLINE = 10
#: Batch's notification type for job state changes (``JobNotification.Type``).
JOB_STATE_CHANGED = 1

TopicPb: Any = pubsub_types.Topic.pb()
SubscriptionPb: Any = pubsub_types.Subscription.pb()
PubsubMessagePb: Any = pubsub_types.PubsubMessage.pb()
_EMPTY = empty_pb2.Empty().SerializeToString()


def _not_found(kind: str, name: str) -> EmulatorError:
    return EmulatorError(grpc.StatusCode.NOT_FOUND, f"{kind} not found: {name}")


def _check_name(name: str, collection: str) -> None:
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "projects" or parts[2] != collection or not parts[1] or not parts[3]:
        raise EmulatorError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{name!r} must look like projects/PROJECT/{collection}/ID",
        )


@dataclass
class _Subscription:
    pb: Any
    pending: deque[Any] = field(default_factory=deque)  # PubsubMessage protos not delivered now
    outstanding: dict[str, tuple[Any, float]] = field(default_factory=dict)  # ack id -> message, due


class PubSubStore:
    """Topics, subscriptions and their messages, in memory; thread-safe.

    :param clock: epoch seconds now (the Batch engine's clock, so publish times agree with job events).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._cond = threading.Condition()
        self._topics: dict[str, Any] = {}
        self._subscriptions: dict[str, _Subscription] = {}
        self._ids = itertools.count(1)
        #: Messages published to a topic that did not exist (Batch drops them and logs an error).
        self.undeliverable = 0

    # ------------------------------------------------------------ topics

    def create_topic(self, topic: Any) -> bytes:
        """Create a topic from a ``Topic`` message; ALREADY_EXISTS if it does.

        :param topic: the ``google.pubsub.v1.Topic`` protobuf message.
        """
        _check_name(topic.name, "topics")
        with self._cond:
            if topic.name in self._topics:
                raise EmulatorError(grpc.StatusCode.ALREADY_EXISTS, f"Topic already exists: {topic.name}")
            stored = TopicPb()
            stored.CopyFrom(topic)
            self._topics[topic.name] = stored
            return bytes(stored.SerializeToString())

    def get_topic(self, name: str) -> bytes:
        """Return a serialized topic, or raise NOT_FOUND.

        :param name: ``projects/P/topics/T``.
        """
        with self._cond:
            if name not in self._topics:
                raise _not_found("Topic", name)
            return bytes(self._topics[name].SerializeToString())

    def delete_topic(self, name: str) -> None:
        """Delete a topic; its subscriptions stay, detached (Pub/Sub names their topic ``_deleted-topic_``).

        :param name: ``projects/P/topics/T``.
        """
        with self._cond:
            if self._topics.pop(name, None) is None:
                raise _not_found("Topic", name)
            for sub in self._subscriptions.values():
                if sub.pb.topic == name:
                    sub.pb.topic = "_deleted-topic_"

    def publish(self, topic: str, messages: list[Any]) -> list[str]:
        """Store copies of ``messages`` in every subscription of ``topic``; return their message ids.

        :param topic: ``projects/P/topics/T``; NOT_FOUND if it does not exist.
        :param messages: ``PubsubMessage`` protobuf messages (data and attributes).
        """
        now = self.clock()
        with self._cond:
            if topic not in self._topics:
                raise _not_found("Topic", topic)
            ids = []
            for message in messages:
                stored = PubsubMessagePb()
                stored.CopyFrom(message)
                stored.message_id = str(next(self._ids))
                to_ts(stored.publish_time, now)
                ids.append(stored.message_id)
                for sub in self._subscriptions.values():
                    if sub.pb.topic == topic:
                        sub.pending.append(stored)
            self._cond.notify_all()
            return ids

    def publish_if_exists(self, topic: str, message: Any) -> bool:
        """Publish one message as Batch does: to a missing topic it is lost (and counted).

        :param topic: ``projects/P/topics/T``.
        :param message: a ``PubsubMessage`` protobuf message.
        """
        try:
            self.publish(topic, [message])
        except EmulatorError:
            with self._cond:
                self.undeliverable += 1
            return False
        return True

    # ------------------------------------------------------- subscriptions

    def create_subscription(self, subscription: Any) -> bytes:
        """Create a pull subscription from a ``Subscription`` message.

        It receives what its topic is published from now on. A filter, push or export
        configuration, ordering or exactly-once delivery is refused (INVALID_ARGUMENT).

        :param subscription: the ``google.pubsub.v1.Subscription`` protobuf message.
        """
        _check_name(subscription.name, "subscriptions")
        unsupported = [
            name
            for name in ("push_config", "bigquery_config", "cloud_storage_config")
            if subscription.HasField(name)
        ] + [
            name
            for name in ("filter", "enable_message_ordering", "enable_exactly_once_delivery")
            if getattr(subscription, name)
        ]
        if unsupported:
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the emulator serves plain pull subscriptions; unset {', '.join(unsupported)}",
            )
        deadline = subscription.ack_deadline_seconds or DEFAULT_ACK_DEADLINE
        if not 10 <= deadline <= 600:
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT, "ack_deadline_seconds must be between 10 and 600"
            )
        with self._cond:
            if subscription.name in self._subscriptions:
                raise EmulatorError(
                    grpc.StatusCode.ALREADY_EXISTS, f"Subscription already exists: {subscription.name}"
                )
            if subscription.topic not in self._topics:
                raise _not_found("Topic", subscription.topic)
            stored = SubscriptionPb()
            stored.CopyFrom(subscription)
            stored.ack_deadline_seconds = deadline
            self._subscriptions[subscription.name] = _Subscription(stored)
            return bytes(stored.SerializeToString())

    def get_subscription(self, name: str) -> bytes:
        """Return a serialized subscription, or raise NOT_FOUND.

        :param name: ``projects/P/subscriptions/S``.
        """
        with self._cond:
            return bytes(self._require(name).pb.SerializeToString())

    def delete_subscription(self, name: str) -> None:
        """Delete a subscription and its messages; pullers waiting on it get NOT_FOUND.

        :param name: ``projects/P/subscriptions/S``.
        """
        with self._cond:
            if self._subscriptions.pop(name, None) is None:
                raise _not_found("Subscription", name)
            self._cond.notify_all()

    def exists(self, name: str) -> bool:
        """Whether a subscription exists.

        :param name: ``projects/P/subscriptions/S``.
        """
        with self._cond:
            return name in self._subscriptions

    def backlog(self, name: str) -> int:
        """Messages of a subscription not yet acknowledged (pending and outstanding).

        :param name: ``projects/P/subscriptions/S``.
        """
        with self._cond:
            sub = self._require(name)
            return len(sub.pending) + len(sub.outstanding)

    def _require(self, name: str) -> _Subscription:
        sub = self._subscriptions.get(name)
        if sub is None:
            raise _not_found("Subscription", name)
        return sub

    # ----------------------------------------------------------- delivery

    def pull(
        self,
        name: str,
        max_messages: int,
        wait: float,
        ack_deadline: float | None = None,
        alive: Callable[[], bool] = lambda: True,
    ) -> list[Any]:
        """Deliver up to ``max_messages`` (``ReceivedMessage`` protos), waiting up to ``wait`` s for one.

        :param name: ``projects/P/subscriptions/S``.
        :param max_messages: at most this many (positive).
        :param wait: seconds to wait when none is ready; 0 answers at once.
        :param ack_deadline: seconds until an unacknowledged message is delivered again; the
            subscription's own by default.
        :param alive: whether the caller still waits (a cancelled pull takes no message with it).
        """
        if max_messages <= 0:
            raise EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, "max_messages must be positive")
        end = time.monotonic() + max(0.0, wait)
        with self._cond:
            while True:
                sub = self._require(name)
                self._expire(sub)
                if not alive():  # checked last before taking: a message woke us, the caller left
                    return []
                if sub.pending:
                    break
                remaining = min(end - time.monotonic(), 0.5)
                if remaining <= 0:
                    return []
                due = min((d for _, d in sub.outstanding.values()), default=None)
                if due is not None:
                    remaining = min(remaining, max(0.01, due - time.monotonic()))
                self._cond.wait(remaining)
            deadline = ack_deadline if ack_deadline is not None else sub.pb.ack_deadline_seconds
            received: list[Any] = []
            while sub.pending and len(received) < max_messages:
                message = sub.pending.popleft()
                ack_id = uuid.uuid4().hex
                sub.outstanding[ack_id] = (message, time.monotonic() + deadline)
                received.append(pubsub_types.ReceivedMessage.pb()(ack_id=ack_id, message=message))
            return received

    def _expire(self, sub: _Subscription) -> None:
        now = time.monotonic()
        for ack_id, (message, due) in list(sub.outstanding.items()):
            if due <= now:
                del sub.outstanding[ack_id]
                sub.pending.append(message)

    def acknowledge(self, name: str, ack_ids: list[str]) -> None:
        """Forget acknowledged messages (unknown or expired ack ids are ignored, as Pub/Sub does).

        :param name: ``projects/P/subscriptions/S``.
        :param ack_ids: ids from a pull.
        """
        with self._cond:
            sub = self._require(name)
            for ack_id in ack_ids:
                sub.outstanding.pop(ack_id, None)

    def modify_ack_deadline(self, name: str, ack_ids: list[str], seconds: int) -> None:
        """Give messages a new deadline from now; 0 makes them deliverable again at once.

        :param name: ``projects/P/subscriptions/S``.
        :param ack_ids: ids from a pull.
        :param seconds: 0 to 600.
        """
        if not 0 <= seconds <= 600:
            raise EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, "ack_deadline_seconds must be 0 to 600")
        with self._cond:
            sub = self._require(name)
            for ack_id in ack_ids:
                entry = sub.outstanding.get(ack_id)
                if entry is None:
                    continue
                if seconds == 0:
                    del sub.outstanding[ack_id]
                    sub.pending.append(entry[0])
                else:
                    sub.outstanding[ack_id] = (entry[0], time.monotonic() + seconds)
            self._cond.notify_all()


# ----------------------------------------------------------------- notifications


@dataclass(order=True)
class _Due:
    time: float
    seq: int
    job: JobRecord = field(compare=False)
    event: Event = field(compare=False)
    topics: tuple[str, ...] = field(compare=False)


class Notifier:
    """Publishes the job-state notifications of jobs that ask for them, when each change happens.

    The engine calls :meth:`on_event` for every event it adds (planned ones included, with future
    times); a thread publishes each job-state event once its time has come, unless it was removed
    (a cancel or a scenario rewrote the job's future) by then.

    :param store: where messages go.
    :param still_planned: whether an event is still the job's (:meth:`.Engine.still_planned`).
    :param clock: the engine's clock.
    """

    def __init__(
        self,
        store: PubSubStore,
        still_planned: Callable[[JobRecord, Event], bool],
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self._still_planned = still_planned
        self.clock = clock
        self._cond = threading.Condition()
        self._heap: list[_Due] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._drop: frozenset[str] = frozenset()
        self._duplicate = False
        self._reverse = False
        self._held: dict[str, list[tuple[str, Any]]] = {}
        #: Notifications published (duplicates count twice), and dropped on purpose.
        self.published = 0
        self.dropped = 0

    def set_faults(
        self, drop_states: tuple[str, ...] = (), duplicate: bool = False, reverse: bool = False
    ) -> None:
        """Make later notifications unreliable, as any Pub/Sub delivery may be.

        :param drop_states: job states whose notification is never published (lost).
        :param duplicate: publish every notification twice.
        :param reverse: hold a job's notifications until its last one (an ending state), then
            publish them newest first (out of order).
        """
        with self._cond:
            self._drop = frozenset(drop_states)
            self._duplicate = duplicate
            self._reverse = reverse

    def on_event(self, job: JobRecord, event: Event) -> None:
        """Schedule the notifications ``event`` causes (called by the engine, under its lock).

        :param job: the job the event belongs to.
        :param event: the event just added.
        """
        if event.job_state is None or not job.spec.notifications:
            return
        topics = tuple(
            n.pubsub_topic
            for n in job.spec.notifications
            if n.pubsub_topic
            and n.message.type_ == JOB_STATE_CHANGED
            and n.message.new_job_state in (0, event.job_state)
        )
        if not topics:
            return
        with self._cond:
            if self._closed:
                return
            heapq.heappush(self._heap, _Due(event.time, next(self._seq), job, event, topics))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="emulator-notifier", daemon=True)
                self._thread.start()
            self._cond.notify()

    def close(self) -> None:
        """Stop the publishing thread; notifications not yet due are not published."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0].time > self.clock()):
                    self._cond.wait(None if not self._heap else max(0.0, self._heap[0].time - self.clock()))
                if self._closed:
                    return
                due = []
                while self._heap and self._heap[0].time <= self.clock():
                    due.append(heapq.heappop(self._heap))
            for item in due:
                self._publish(item)

    def _publish(self, item: _Due) -> None:
        if not self._still_planned(item.job, item.event):
            return  # the job's future was rewritten before this change happened
        state = JobState(item.event.job_state).name
        message = PubsubMessagePb(data=item.event.description.encode())
        message.attributes.update(
            {
                "Type": "JOB_STATE_CHANGED",
                "JobName": item.job.name,
                "JobUID": item.job.uid,
                "NewJobState": state,
                "Region": item.job.location,
            }
        )
        with self._cond:
            if state in self._drop:
                self.dropped += 1
                return
            copies = 2 if self._duplicate else 1
            if self._reverse:
                held = self._held.setdefault(item.job.name, [])
                held.extend((topic, message) for topic in item.topics)
                if state not in ("SUCCEEDED", "FAILED", "CANCELLED"):
                    return
                batch = list(reversed(self._held.pop(item.job.name)))
            else:
                batch = [(topic, message) for topic in item.topics]
        for topic, msg in batch:
            for _ in range(copies):
                if self.store.publish_if_exists(topic, msg):
                    with self._cond:
                        self.published += 1


# ---------------------------------------------------------------------- serving


def pubsub_handlers(
    store: PubSubStore,
    wrap: Callable[[str, Callable[[Any], bytes]], Callable[[Any, grpc.ServicerContext], bytes]],
    count: Callable[[str], None],
) -> tuple[grpc.GenericRpcHandler, ...]:
    """The gRPC handlers of the Publisher and Subscriber services.

    :param store: the topics and subscriptions served.
    :param wrap: turns ``(key, fn(request) -> bytes)`` into a counted, fault-injected unary handler.
    :param count: counts one call of a streaming method by its key.
    """

    def unary(key: str, request_type: Any, fn: Callable[[Any], bytes]) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(
            wrap(key, fn), request_deserializer=request_type.pb().FromString, response_serializer=lambda b: b
        )

    def empty(action: Callable[[Any], None]) -> Callable[[Any], bytes]:
        def run(request: Any) -> bytes:
            action(request)
            return _EMPTY

        return run

    def publish(request: Any) -> bytes:
        if not request.messages:
            raise EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, "publish needs at least one message")
        ids = store.publish(request.topic, list(request.messages))
        return bytes(pubsub_types.PublishResponse.pb()(message_ids=ids).SerializeToString())

    def pull(request: Any, context: grpc.ServicerContext) -> bytes:
        count("pubsub.Pull")
        wait = 0.0 if request.return_immediately else MAX_PULL_WAIT
        try:
            received = store.pull(request.subscription, request.max_messages, wait, alive=context.is_active)
        except EmulatorError as exc:
            context.abort(exc.code, exc.message)
        return bytes(pubsub_types.PullResponse.pb()(received_messages=received).SerializeToString())

    publisher = {
        "CreateTopic": unary("pubsub.CreateTopic", pubsub_types.Topic, store.create_topic),
        "GetTopic": unary(
            "pubsub.GetTopic", pubsub_types.GetTopicRequest, lambda r: store.get_topic(r.topic)
        ),
        "DeleteTopic": unary(
            "pubsub.DeleteTopic",
            pubsub_types.DeleteTopicRequest,
            empty(lambda r: store.delete_topic(r.topic)),
        ),
        "Publish": unary("pubsub.Publish", pubsub_types.PublishRequest, publish),
    }
    subscriber = {
        "CreateSubscription": unary(
            "pubsub.CreateSubscription", pubsub_types.Subscription, store.create_subscription
        ),
        "GetSubscription": unary(
            "pubsub.GetSubscription",
            pubsub_types.GetSubscriptionRequest,
            lambda r: store.get_subscription(r.subscription),
        ),
        "DeleteSubscription": unary(
            "pubsub.DeleteSubscription",
            pubsub_types.DeleteSubscriptionRequest,
            empty(lambda r: store.delete_subscription(r.subscription)),
        ),
        "Pull": grpc.unary_unary_rpc_method_handler(
            pull, request_deserializer=pubsub_types.PullRequest.pb().FromString
        ),
        "Acknowledge": unary(
            "pubsub.Acknowledge",
            pubsub_types.AcknowledgeRequest,
            empty(lambda r: store.acknowledge(r.subscription, list(r.ack_ids))),
        ),
        "ModifyAckDeadline": unary(
            "pubsub.ModifyAckDeadline",
            pubsub_types.ModifyAckDeadlineRequest,
            empty(
                lambda r: store.modify_ack_deadline(r.subscription, list(r.ack_ids), r.ack_deadline_seconds)
            ),
        ),
        "StreamingPull": grpc.stream_stream_rpc_method_handler(
            _streaming_pull(store, count),
            request_deserializer=pubsub_types.StreamingPullRequest.pb().FromString,
            response_serializer=lambda m: m.SerializeToString(),
        ),
    }
    return (
        grpc.method_handlers_generic_handler(PUBLISHER_SERVICE, publisher),
        grpc.method_handlers_generic_handler(SUBSCRIBER_SERVICE, subscriber),
    )


def _streaming_pull(
    store: PubSubStore, count: Callable[[str], None]
) -> Callable[[Iterator[Any], grpc.ServicerContext], Iterator[Any]]:
    """StreamingPull: the first request names the subscription; later ones carry acks and deadlines."""

    def handle(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
        count("pubsub.StreamingPull")
        first = next(requests, None)
        if first is None:
            return
        name = first.subscription
        if not store.exists(name):
            context.abort(grpc.StatusCode.NOT_FOUND, f"Subscription not found: {name}")
        deadline = first.stream_ack_deadline_seconds or None
        closed = threading.Event()

        def apply(request: Any) -> None:
            if request.ack_ids:
                store.acknowledge(name, list(request.ack_ids))
            changes = zip(request.modify_deadline_ack_ids, request.modify_deadline_seconds, strict=False)
            for ack_id, seconds in changes:
                store.modify_ack_deadline(name, [ack_id], seconds)

        def read() -> None:
            try:
                for request in requests:
                    apply(request)
            except (EmulatorError, grpc.RpcError, ValueError):
                pass
            finally:
                closed.set()

        apply(first)
        threading.Thread(target=read, name="emulator-streaming-pull", daemon=True).start()
        limit = first.max_outstanding_messages or 1000
        while context.is_active() and not closed.is_set():
            try:
                received = store.pull(name, min(limit, 1000), 1.0, deadline, alive=context.is_active)
            except EmulatorError as exc:
                context.abort(exc.code, exc.message)
            if received:
                yield pubsub_types.StreamingPullResponse.pb()(received_messages=received)

    return handle
