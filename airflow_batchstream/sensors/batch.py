"""A sensor for a Batch job submitted elsewhere: by name, by id, or by labels."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_batchstream.api_version import API_VERSIONS, DEFAULT_API_VERSION
from airflow_batchstream.arguments import ArgumentCheck
from airflow_batchstream.compat import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
)
from airflow_batchstream.deferral import resolve_deferrable, resume_not_before
from airflow_batchstream.hook_mixin import BatchStreamHookMixin
from airflow_batchstream.job_names import (
    check_rendered_reference,
    job_reference_problems,
    list_filter,
    resolve_job_name,
)
from airflow_batchstream.links.batch import BatchStreamJobLink, BatchStreamJobLogsLink
from airflow_batchstream.push_mixin import BatchStreamPushMixin
from airflow_batchstream.validation.violations import Violation

if TYPE_CHECKING:
    from airflow.sdk import Context


#: Pseudo-state of a job that does not exist (any more); the same name the trigger's events use.
NOT_FOUND = "NOT_FOUND"
DEFAULT_TARGET_STATES = frozenset({"SUCCEEDED"})
DEFAULT_FAILURE_STATES = frozenset({"FAILED", "CANCELLED", "DELETION_IN_PROGRESS", NOT_FOUND})


class BatchStreamJobSensor(BatchStreamHookMixin, BatchStreamPushMixin, BaseSensorOperator):
    """
    Wait until a Batch job reaches one of ``target_states``; fail when it reaches a failure state.

    Name the job with ``job_name``, or ``project_id`` + ``region`` + ``job_id``, or ``region`` +
    ``labels`` (the newest job carrying all of them; none yet counts as "not yet"). Works in
    ``mode="poke"``, ``mode="reschedule"`` and with ``deferrable=True`` (the wait runs in
    :class:`~airflow_batchstream.triggers.batch.BatchStreamJobTrigger`). The sensor never cancels the
    job. Once it has read the job, the task page shows the same two links as the submit operator
    (:mod:`airflow_batchstream.links.batch`). On success it returns the job's summary. A job in a
    failure state, or in an ending state that is not a target, fails the task without retry
    (``soft_fail=True`` skips it instead).

    :param job_name: the job's full resource name, such as an upstream summary's ``job_name`` (templated).
    :param project_id: project of ``job_id`` or ``labels``; defaults to the connection's (templated).
    :param region: region of ``job_id`` or ``labels`` (templated).
    :param job_id: the job's id in ``region`` (templated).
    :param labels: labels the job carries; the newest matching job is watched (templated).
    :param target_states: job states that end the wait successfully.
    :param failure_states: states that fail the task; ``"NOT_FOUND"`` stands for a job that is gone.
    :param gcp_conn_id: Airflow connection with the Google credentials.
    :param impersonation_chain: service account to impersonate, or a chain of them (templated).
    :param api_version: ``"v1"`` (default) or ``"v1alpha"``.
    :param deferrable: wait in the triggerer; ``None`` (default) reads ``[operators] default_deferrable``.
    :param poll_interval: the longest wait between two looks in deferrable mode, in seconds
        (``poke_interval`` paces the other modes).
    :param notification_topic: the Pub/Sub topic the job publishes its state changes to (its
        ``notifications[].pubsubTopic``); needed only to create the subscription.
    :param notification_subscription: Pub/Sub subscription on that topic (``projects/P/subscriptions/S``,
        or ``S`` in the job's project): when deferred, wait on it instead of polling (push waiting).
    :param create_notification_subscription: create the topic and the subscription when missing.
    :param safety_poll_interval: in push waiting, read the job this often anyway (seconds), in case a
        notification is lost.
    """

    template_fields: Sequence[str] = (
        "job_name",
        "project_id",
        "region",
        "job_id",
        "labels",
        "impersonation_chain",
    )
    ui_color = "#d4e4fc"
    operator_extra_links = (BatchStreamJobLink(), BatchStreamJobLogsLink())

    def __init__(
        self,
        *,
        job_name: str | None = None,
        project_id: str | None = None,
        region: str | None = None,
        job_id: str | None = None,
        labels: Mapping[str, str] | None = None,
        target_states: Collection[str] = DEFAULT_TARGET_STATES,
        failure_states: Collection[str] = DEFAULT_FAILURE_STATES,
        gcp_conn_id: str = "google_cloud_default",
        impersonation_chain: str | Sequence[str] | None = None,
        api_version: str = DEFAULT_API_VERSION,
        deferrable: bool | None = None,
        poll_interval: float = 10.0,
        notification_topic: str | None = None,
        notification_subscription: str | None = None,
        create_notification_subscription: bool = False,
        safety_poll_interval: float = 300.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.project_id = project_id
        self.region = region
        self.job_id = job_id
        self.labels = labels
        self.gcp_conn_id = gcp_conn_id
        self.impersonation_chain = impersonation_chain
        self.api_version = api_version
        self.deferrable = resolve_deferrable(deferrable)
        self.poll_interval = poll_interval
        self._linked: str | None = None  # the job whose links this instance stored
        self.target_states, self.failure_states = self._check_settings(target_states, failure_states)
        self._set_push_arguments(
            notification_topic,
            notification_subscription,
            create_notification_subscription,
            safety_poll_interval,
        )

    def _check_settings(
        self, target_states: Collection[str], failure_states: Collection[str]
    ) -> tuple[frozenset[str], frozenset[str]]:
        """
        Refuse bad arguments that are not templated, all at once, when the DAG is parsed.

        :param target_states: as given to the constructor.
        :param failure_states: as given to the constructor.
        :return: the target and failure states as sets.
        """
        from airflow_batchstream.outcome import ACTIVE_STATES, ENDING_STATES

        check = ArgumentCheck()
        check.add(
            job_reference_problems(self.job_name, self.job_id, self.region, self.labels, labels_allowed=True)
        )
        known = ACTIVE_STATES | ENDING_STATES
        targets = check.states("target_states", target_states, known)
        failures = check.states("failure_states", failure_states, known)
        if targets and failures and targets & failures:
            check.violations.append(
                Violation(
                    "target_states",
                    "bad-argument",
                    f"target_states and failure_states share {sorted(targets & failures)}",
                    "a state either ends the wait successfully or fails it: keep it in one of them",
                )
            )
        check.text("gcp_conn_id", self.gcp_conn_id, required=True)
        check.choice("api_version", self.api_version, API_VERSIONS)
        check.flag("deferrable", self.deferrable)
        check.number("poll_interval", self.poll_interval)
        check.raise_if_any(self.task_id)
        return frozenset(target_states), frozenset(failure_states)

    def _check_templated(self) -> None:
        """Refuse bad templated arguments after rendering, before any network call; all at once."""
        check = ArgumentCheck()
        check_rendered_reference(check, self.job_name, self.project_id, self.region, self.job_id)
        check.labels("labels", self.labels, selector=True)
        check.accounts("impersonation_chain", self.impersonation_chain)
        check.raise_if_any(self.task_id)

    def _resolve_name(self) -> str | None:
        """Return the watched job's full name; ``None`` while no job carries ``labels``."""
        self._check_templated()
        if self.labels is None:
            return resolve_job_name(self.hook, self.job_name, self.project_id, self.region, self.job_id)
        project_id = self.project_id or self.hook.project_id
        newest = self.hook.list_jobs(
            region=str(self.region),
            project_id=project_id,
            filter=list_filter(labels=self.labels),
            limit=1,
            order_by="create_time desc",
        )
        if not newest:
            self.log.info("No Batch job carries labels %s yet.", dict(self.labels or {}))
            return None
        return newest[0].name

    def _read(self, context: Context, name: str) -> dict[str, Any] | None:
        """Return the event of the job's current state if it ends the wait, else ``None``.

        The first time this task instance reads the job, its console and logs links are stored.
        """
        from google.api_core.exceptions import NotFound

        from airflow_batchstream.links.batch import persist_job_links
        from airflow_batchstream.outcome import ended_event, vanished_event

        try:
            job = self.hook.get_job(name)
        except NotFound:
            return vanished_event(name)
        if self._linked != job.name:
            persist_job_links(context, job.name, job.uid)
            self._linked = job.name
        self.log.info("Batch job %s is %s.", name, job.status.state.name)
        return ended_event(job, self.target_states | self.failure_states)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """Look at the job once: done (with its summary), not yet, or failed."""
        name = self._resolve_name()
        event = self._read(context, name) if name else None
        if event is None:
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._judge(event))

    def execute(self, context: Context) -> Any:
        """Poke or reschedule as configured; when deferrable, look once and then defer to the trigger."""
        if not self.deferrable:
            return super().execute(context)
        name = self._resolve_name()
        if name is None:
            raise AirflowException(
                f"No Batch job carries labels {dict(self.labels or {})}; a deferrable sensor needs the job "
                "to exist when it starts (use mode='reschedule' to wait for it to appear)."
            )
        subscription = self._prepare_push(name.split("/")[1])
        event = self._read(context, name)
        if event is not None:
            try:
                return self.execute_complete(context, event)
            except (AirflowFailException, AirflowSensorTimeout) as error:
                if self.soft_fail:
                    raise AirflowSkipException(f"Skipping (soft_fail=True): {error}") from error
                raise
        from airflow_batchstream.triggers.batch import BatchStreamJobTrigger

        self.defer(
            trigger=BatchStreamJobTrigger(
                job_name=name,
                gcp_conn_id=self.gcp_conn_id,
                impersonation_chain=self.impersonation_chain,
                api_version=self.api_version,
                poll_interval=self.poll_interval,
                deadline=time.time() + self.timeout,
                cancel_on_deadline=False,
                cancel_on_kill=False,
                stop_states=sorted(self.target_states | self.failure_states),
                not_before=resume_not_before(),
                notification_subscription=subscription,
                safety_poll_interval=self.safety_poll_interval,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """
        Turn the trigger's event into the summary, or the exception that fails (or skips) the task.

        :param context: the task's context.
        :param event: the trigger's event payload.
        """
        from airflow_batchstream.outcome import ENDED, TIMEOUT

        if event["status"] == TIMEOUT:
            raise AirflowSensorTimeout(f"Sensor timed out after {self.timeout}s: {event['message']}")
        if event["status"] != ENDED:
            raise AirflowException(event["message"])
        return self._judge(event)

    def _judge(self, event: dict[str, Any]) -> Any:
        state = event["state"]
        if state in self.target_states:
            return event["summary"]
        if state in self.failure_states:
            raise AirflowFailException(event["message"])
        raise AirflowFailException(
            f"{event['message']} It ended {state}, so it can never reach {sorted(self.target_states)}."
        )
