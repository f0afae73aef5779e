"""The push-waiting arguments that the submit operator and the sensor share: kept, checked, prepared."""

from __future__ import annotations

from typing import Any

from airflow_batchstream.notifications import check_push_arguments, prepare_push


class BatchStreamPushMixin:
    """Keep and check ``notification_*`` and ``safety_poll_interval``; create the subscription if asked.

    The class using it has ``hook`` (:class:`~airflow_batchstream.hook_mixin.BatchStreamHookMixin`),
    and ``task_id`` and ``log`` (every Airflow operator has).
    """

    notification_topic: str | None
    notification_subscription: str | None
    create_notification_subscription: bool
    safety_poll_interval: float
    task_id: str
    hook: Any
    log: Any

    def _set_push_arguments(
        self,
        notification_topic: str | None,
        notification_subscription: str | None,
        create_notification_subscription: bool,
        safety_poll_interval: float,
    ) -> None:
        """
        Refuse push arguments that cannot work (when the DAG is parsed), then keep them.

        :param notification_topic: the Pub/Sub topic the job publishes its state changes to.
        :param notification_subscription: the Pub/Sub subscription on that topic the trigger pulls.
        :param create_notification_subscription: create the topic and the subscription where missing.
        :param safety_poll_interval: seconds between reads of the job when no notification comes.
        """
        check_push_arguments(
            self.task_id,
            notification_topic,
            notification_subscription,
            create_notification_subscription,
            safety_poll_interval,
        )
        self.notification_topic = notification_topic
        self.notification_subscription = notification_subscription
        self.create_notification_subscription = create_notification_subscription
        self.safety_poll_interval = safety_poll_interval

    def _prepare_push(self, project_id: str) -> str | None:
        """
        Create the notification topic and subscription if asked, before the job is created or looked at
        (so no message is lost); return the subscription the trigger pulls, if any.

        :param project_id: the job's project (completes bare topic and subscription ids).
        """
        if not self.notification_subscription:
            return None
        _, subscription = prepare_push(
            self.notification_topic,
            self.notification_subscription,
            self.create_notification_subscription,
            project_id,
            self.hook.get_credentials,
            self.log,
        )
        return subscription
