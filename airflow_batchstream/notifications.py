"""Job-state notifications through Pub/Sub: names, the job's ``notifications`` entry, the subscription.

Batch publishes a message to a job's ``notifications[].pubsubTopic`` when the job's state changes
(``message.type: JOB_STATE_CHANGED``; "Enable notifications" in the Batch docs). The operator adds
such an entry to the job, and (when asked) creates the topic and the subscription before the job,
so that no message is published before there is somewhere to keep it. The trigger's pull loop
is :mod:`airflow_batchstream.triggers.push`.

``google-cloud-pubsub`` is imported inside the functions (operator modules import this one), and
honours ``PUBSUB_EMULATOR_HOST`` itself; the emulator serves Pub/Sub on its Batch port.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

#: ``projects/PROJECT/topics/ID`` or ``projects/PROJECT/subscriptions/ID``; ids as Pub/Sub allows them.
_RESOURCE_ID = r"[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}"
_PROJECT = r"[a-z][a-z0-9\-.:]*"


def resource_path(value: str, collection: str, project_id: str | None, argument: str) -> str:
    """
    Return ``projects/P/<collection>/ID`` for a full name or a bare id, or raise a clear ``ValueError``.

    :param value: a full resource name or an id alone.
    :param collection: ``"topics"`` or ``"subscriptions"``.
    :param project_id: the project of a bare id (the job's).
    :param argument: the argument's name, for the error.
    """
    if re.fullmatch(_RESOURCE_ID, value) and not value.lower().startswith("goog"):
        if not project_id:
            raise ValueError(f"{argument}={value!r} names no project: give projects/PROJECT/{collection}/ID.")
        return f"projects/{project_id}/{collection}/{value}"
    match = re.fullmatch(rf"projects/({_PROJECT})/{collection}/({_RESOURCE_ID})", value)
    if match is None or match.group(2).lower().startswith("goog"):
        raise ValueError(
            f"{argument}={value!r} is not a Pub/Sub {collection[:-1]}: give projects/PROJECT/{collection}/ID "
            "or the ID alone (3-255 characters, a letter first, then letters, digits or - _ . ~ + %, "
            "not starting with 'goog')."
        )
    return value


def check_push_arguments(
    where: str, topic: str | None, subscription: str | None, create: bool, safety_poll_interval: float
) -> None:
    """
    Refuse push arguments that cannot work, before any API call.

    :param where: the task id, for the error.
    :param topic: the ``notification_topic`` argument.
    :param subscription: the ``notification_subscription`` argument.
    :param create: the ``create_notification_subscription`` argument.
    :param safety_poll_interval: the ``safety_poll_interval`` argument.
    """
    if create and not (topic and subscription):
        raise ValueError(
            f"{where}: create_notification_subscription=True needs notification_topic= and "
            "notification_subscription= (the subscription is created on that topic)."
        )
    if safety_poll_interval <= 0:
        raise ValueError(f"{where}: safety_poll_interval must be positive, not {safety_poll_interval!r}.")
    for value, collection, argument in (
        (topic, "topics", "notification_topic"),
        (subscription, "subscriptions", "notification_subscription"),
    ):
        if value is not None:
            resource_path(value, collection, "project", f"{where}: {argument}")


def prepare_push(
    topic: str | None,
    subscription: str | None,
    create: bool,
    project_id: str | None,
    credentials: Callable[[], Any],
    log: Any,
) -> tuple[str | None, str | None]:
    """
    Return the full topic and subscription names, creating them first when asked.

    :param topic: the ``notification_topic`` argument (a full name or an id in ``project_id``).
    :param subscription: the ``notification_subscription`` argument.
    :param create: create the topic and the subscription where missing.
    :param project_id: the job's project, for bare ids.
    :param credentials: returns the Google credentials (called only to create, off the emulator).
    :param log: where to say what was created.
    """
    topic_name = resource_path(topic, "topics", project_id, "notification_topic") if topic else None
    subscription_name = (
        resource_path(subscription, "subscriptions", project_id, "notification_subscription")
        if subscription
        else None
    )
    if create and topic_name and subscription_name:
        creds = None if pubsub_emulator_host() else credentials()
        if ensure_subscription(topic_name, subscription_name, creds):
            log.info("Created Pub/Sub subscription %s on %s (or its topic).", subscription_name, topic_name)
    return topic_name, subscription_name


def add_state_notification(job: Any, topic: str) -> None:
    """
    Make ``job`` publish its state changes to ``topic`` (once, even if it already asks for them).

    :param job: a ``Job`` proto of either API version, changed in place.
    :param topic: ``projects/P/topics/T``.
    """
    notification_type = type(job).meta.fields["notifications"].message
    for existing in job.notifications:
        wanted = existing.message.type_ == notification_type.Type.JOB_STATE_CHANGED
        if existing.pubsub_topic == topic and wanted and not existing.message.new_job_state:
            return
    job.notifications.append(
        notification_type(
            pubsub_topic=topic,
            message=notification_type.Message(type_=notification_type.Type.JOB_STATE_CHANGED),
        )
    )


def pubsub_emulator_host() -> str | None:
    """The ``PUBSUB_EMULATOR_HOST`` address, when set."""
    return os.environ.get("PUBSUB_EMULATOR_HOST") or None


def ensure_subscription(topic: str, subscription: str, credentials: Any = None) -> bool:
    """
    Create ``topic`` and then ``subscription`` on it where missing; return whether anything was created.

    :param topic: ``projects/P/topics/T``.
    :param subscription: ``projects/P/subscriptions/S``.
    :param credentials: Google credentials (unused with ``PUBSUB_EMULATOR_HOST``).
    """
    from google.api_core.exceptions import AlreadyExists
    from google.pubsub_v1 import PublisherClient, SubscriberClient
    from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport
    from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

    from airflow_batchstream.emulator_client import emulator_channel

    # The generated clients, not google.cloud.pubsub_v1's wrappers: older ones (2.21) force anonymous
    # credentials under PUBSUB_EMULATOR_HOST and then refuse the transport that carries our channel.
    host = pubsub_emulator_host()
    if host:  # a plaintext channel carrying the emulator's access token, if it has one
        publisher = PublisherClient(transport=PublisherGrpcTransport(channel=emulator_channel(host)))
        subscriber = SubscriberClient(transport=SubscriberGrpcTransport(channel=emulator_channel(host)))
    else:
        publisher = PublisherClient(credentials=credentials)
        subscriber = SubscriberClient(credentials=credentials)
    created = False
    with publisher, subscriber:
        try:
            publisher.create_topic(name=topic)
            created = True
        except AlreadyExists:
            pass
        try:
            subscriber.create_subscription(name=subscription, topic=topic, ack_deadline_seconds=30)
            created = True
        except AlreadyExists:
            pass
    return created


def build_subscriber_async_client(credentials: Any = None) -> Any:
    """
    Build a ``SubscriberAsyncClient`` in the running event loop; plaintext gRPC with ``PUBSUB_EMULATOR_HOST``.

    :param credentials: Google credentials for the real service; unused with the emulator.
    """
    from google.pubsub_v1.services.subscriber import SubscriberAsyncClient

    host = pubsub_emulator_host()
    if host:
        from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcAsyncIOTransport

        from airflow_batchstream.emulator_client import emulator_channel

        channel = emulator_channel(host, asynchronous=True)
        return SubscriberAsyncClient(transport=SubscriberGrpcAsyncIOTransport(channel=channel))
    return SubscriberAsyncClient(credentials=credentials)
