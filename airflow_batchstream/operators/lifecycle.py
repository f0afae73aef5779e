"""Operators that act on an existing Batch job: cancel it, delete it, and wait until that is done."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_batchstream.api_version import API_VERSIONS, DEFAULT_API_VERSION
from airflow_batchstream.arguments import ArgumentCheck
from airflow_batchstream.compat import AirflowException, AirflowFailException
from airflow_batchstream.deferral import resolve_deferrable
from airflow_batchstream.hook_mixin import BatchStreamHookMixin
from airflow_batchstream.job_names import check_rendered_reference, job_reference_problems, resolve_job_name
from airflow_batchstream.links.batch import BatchStreamJobLink, BatchStreamJobLogsLink

if TYPE_CHECKING:
    from airflow.sdk import Context


class _JobActionOperator(BatchStreamHookMixin, BaseOperator):
    """What the cancel and delete operators share: naming the job, and the wait for the action's end."""

    template_fields: Sequence[str] = ("job_name", "project_id", "region", "job_id", "impersonation_chain")
    ui_color = "#d4e4fc"
    #: Turns the wait's event into the task's result (each operator's own).
    execute_complete: Callable[..., Any]

    def __init__(
        self,
        *,
        job_name: str | None = None,
        project_id: str | None = None,
        region: str | None = None,
        job_id: str | None = None,
        gcp_conn_id: str = "google_cloud_default",
        impersonation_chain: str | Sequence[str] | None = None,
        api_version: str = DEFAULT_API_VERSION,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        poll_interval: float = 10.0,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.project_id = project_id
        self.region = region
        self.job_id = job_id
        self.gcp_conn_id = gcp_conn_id
        self.impersonation_chain = impersonation_chain
        self.api_version = api_version
        self.wait_for_completion = wait_for_completion
        self.deferrable = resolve_deferrable(deferrable)
        self.poll_interval = poll_interval
        self.timeout = timeout
        self._check_settings()

    def _check_settings(self) -> None:
        """Refuse bad arguments that are not templated, all at once, when the DAG is parsed."""
        check = ArgumentCheck()
        check.add(job_reference_problems(self.job_name, self.job_id, self.region))
        check.text("gcp_conn_id", self.gcp_conn_id, required=True)
        check.choice("api_version", self.api_version, API_VERSIONS)
        check.flag("wait_for_completion", self.wait_for_completion)
        check.flag("deferrable", self.deferrable)
        check.number("poll_interval", self.poll_interval)
        check.number("timeout", self.timeout, required=False)
        check.raise_if_any(self.task_id)

    def _name(self) -> str:
        """Check the rendered arguments (before any network call) and return the job's full name."""
        check = ArgumentCheck()
        check_rendered_reference(check, self.job_name, self.project_id, self.region, self.job_id)
        check.accounts("impersonation_chain", self.impersonation_chain)
        check.raise_if_any(self.task_id)
        return resolve_job_name(self.hook, self.job_name, self.project_id, self.region, self.job_id)

    def _wait(self, context: Context, name: str, wait_through: Sequence[str]) -> Any:
        """
        Wait for the job with the trigger: deferred in the triggerer, or run here in the worker.

        :param context: the task's context.
        :param name: the job's full resource name.
        :param wait_through: states the wait goes on through (see the trigger).
        """
        from airflow_batchstream.triggers.batch import BatchStreamJobTrigger

        trigger = BatchStreamJobTrigger(
            job_name=name,
            gcp_conn_id=self.gcp_conn_id,
            impersonation_chain=self.impersonation_chain,
            api_version=self.api_version,
            poll_interval=self.poll_interval,
            deadline=None if self.timeout is None else time.time() + self.timeout,
            cancel_on_deadline=False,
            cancel_on_kill=False,
            shared_poller=False,
            wait_through=wait_through,
        )
        if self.deferrable:
            self.log.info("Deferring: the triggerer waits for Batch job %s.", name)
            self.defer(trigger=trigger, method_name="execute_complete")
        return self.execute_complete(context, asyncio.run(trigger.wait()))

    def _raise_unless_ended(self, event: dict[str, Any]) -> None:
        """Fail the task when the wait ended by its timeout or by an API error."""
        from airflow_batchstream.outcome import ENDED, TIMEOUT

        if event["status"] == TIMEOUT:
            raise AirflowException(
                f"Batch job {event['job_name']} was still {event['state']} after timeout={self.timeout}s."
            )
        if event["status"] != ENDED:
            raise AirflowException(event["message"])


class BatchStreamCancelJobOperator(_JobActionOperator):
    """
    Cancel a Batch job and (by default) wait until it is CANCELLED; return its summary.

    Name the job with ``job_name`` (such as an upstream summary's ``job_name``) or with
    ``project_id`` + ``region`` + ``job_id``. A job that has already ended (SUCCEEDED, FAILED,
    CANCELLED), or that ends before the cancellation takes effect, is not an error: the task log
    says so and the task returns the job's summary. A job that does not exist fails the task without
    retry. The task page shows the job's console and logs links, as the submit operator's does.

    :param job_name: the job's full resource name (templated).
    :param project_id: project of ``job_id``; defaults to the connection's (templated).
    :param region: region of ``job_id`` (templated).
    :param job_id: the job's id in ``region`` (templated).
    :param gcp_conn_id: Airflow connection with the Google credentials.
    :param impersonation_chain: service account to impersonate, or a chain of them (templated).
    :param api_version: ``"v1"`` (default) or ``"v1alpha"``.
    :param wait_for_completion: wait until the job is CANCELLED; ``False`` returns right after the
        request (state CANCELLATION_IN_PROGRESS, typically).
    :param deferrable: wait in the triggerer instead of a worker slot; ``None`` (default) reads the
        ``[operators] default_deferrable`` setting when the operator is built.
    :param poll_interval: the longest wait, in seconds, between two looks at the job.
    :param timeout: seconds the wait may take; then the task fails (the cancellation goes on).
    """

    operator_extra_links = (BatchStreamJobLink(), BatchStreamJobLogsLink())

    def execute(self, context: Context) -> dict[str, Any] | None:
        from google.api_core.exceptions import FailedPrecondition, NotFound

        from airflow_batchstream.links.batch import persist_job_links
        from airflow_batchstream.outcome import ACTIVE_STATES
        from airflow_batchstream.summary import state_name, summarize_job

        name = self._name()
        try:
            job = self.hook.get_job(name)
            persist_job_links(context, job.name, job.uid)
            if state_name(job) in ACTIVE_STATES:
                self.hook.cancel_job(name)
                self.log.info("Asked Batch to cancel job %s, which was %s.", name, state_name(job))
        except NotFound as error:
            raise AirflowFailException(f"Batch job {name} does not exist: nothing to cancel.") from error
        except FailedPrecondition:  # it ended between the read and the request
            job = self.hook.get_job(name)
            if state_name(job) in ACTIVE_STATES:
                raise
        if state_name(job) not in ACTIVE_STATES | {"CANCELLATION_IN_PROGRESS"}:
            self.log.info("Batch job %s has already ended %s: nothing to cancel.", name, state_name(job))
            return summarize_job(job)
        if not self.wait_for_completion:
            return summarize_job(self.hook.get_job(name))
        return self._wait(context, name, wait_through=["CANCELLATION_IN_PROGRESS"])

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """
        Return the summary of the job once its cancellation ended; fail on a timeout or an API error.

        :param context: the task's context.
        :param event: the trigger's (or the synchronous wait's) event payload.
        """
        from airflow_batchstream.outcome import NOT_FOUND

        self._raise_unless_ended(event)
        state, name = event["state"], event["job_name"]
        if state == "CANCELLED":
            self.log.info("Batch job %s is CANCELLED.", name)
        elif state == NOT_FOUND:
            self.log.warning("Batch job %s was deleted while it was being cancelled.", name)
        else:
            self.log.info("Batch job %s ended %s before the cancellation took effect.", name, state)
        return event["summary"]


class BatchStreamDeleteJobOperator(_JobActionOperator):
    """
    Delete a Batch job and (by default) wait until it is gone.

    Name the job with ``job_name`` or with ``project_id`` + ``region`` + ``job_id``. A job that
    does not exist is success with a log line, unless ``must_exist=True``. A running job is
    stopped by its deletion; the task log says which state the job was in. The task returns
    ``{"job_name", "job_id", "state": "NOT_FOUND", "gone": true}`` once the job no longer exists
    (or if it never did); with ``wait_for_completion=False``, the job's summary right after the
    request (state DELETION_IN_PROGRESS, typically) with ``"gone": false``.

    :param job_name: the job's full resource name (templated).
    :param project_id: project of ``job_id``; defaults to the connection's (templated).
    :param region: region of ``job_id`` (templated).
    :param job_id: the job's id in ``region`` (templated).
    :param must_exist: fail the task (without retry) when the job does not exist.
    :param gcp_conn_id: Airflow connection with the Google credentials.
    :param impersonation_chain: service account to impersonate, or a chain of them (templated).
    :param api_version: ``"v1"`` (default) or ``"v1alpha"``.
    :param wait_for_completion: wait until the job is gone; ``False`` returns right after the request.
    :param deferrable: wait in the triggerer instead of a worker slot; ``None`` (default) reads the
        ``[operators] default_deferrable`` setting when the operator is built.
    :param poll_interval: the longest wait, in seconds, between two looks at the job.
    :param timeout: seconds the wait may take; then the task fails (the deletion goes on).
    """

    def __init__(
        self,
        *,
        job_name: str | None = None,
        project_id: str | None = None,
        region: str | None = None,
        job_id: str | None = None,
        must_exist: bool = False,
        gcp_conn_id: str = "google_cloud_default",
        impersonation_chain: str | Sequence[str] | None = None,
        api_version: str = DEFAULT_API_VERSION,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        poll_interval: float = 10.0,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            job_name=job_name,
            project_id=project_id,
            region=region,
            job_id=job_id,
            gcp_conn_id=gcp_conn_id,
            impersonation_chain=impersonation_chain,
            api_version=api_version,
            wait_for_completion=wait_for_completion,
            deferrable=deferrable,
            poll_interval=poll_interval,
            timeout=timeout,
            **kwargs,
        )
        check = ArgumentCheck()
        self.must_exist = check.flag("must_exist", must_exist)
        check.raise_if_any(self.task_id)

    def execute(self, context: Context) -> dict[str, Any] | None:
        from google.api_core.exceptions import NotFound

        from airflow_batchstream.outcome import JOB_STATES
        from airflow_batchstream.summary import state_name, summarize_job

        name = self._name()
        try:
            job = self.hook.get_job(name)
        except NotFound:
            if self.must_exist:
                raise AirflowFailException(f"Batch job {name} does not exist (must_exist=True).") from None
            self.log.info("Batch job %s does not exist: nothing to delete.", name)
            return _gone(name)
        try:
            self.hook.delete_job(name)
        except NotFound:  # gone already: a retried request whose first attempt deleted it, say
            self.log.info("Batch job %s is gone.", name)
            return _gone(name)
        self.log.info("Asked Batch to delete job %s, which was %s.", name, state_name(job))
        if not self.wait_for_completion:
            try:
                return {**summarize_job(self.hook.get_job(name)), "gone": False}
            except NotFound:
                return _gone(name)
        return self._wait(context, name, wait_through=sorted(JOB_STATES))

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """
        Return ``{"job_name", "job_id", "state": "NOT_FOUND", "gone": True}`` once the job is gone; fail on
        a timeout or an API error.

        :param context: the task's context.
        :param event: the trigger's (or the synchronous wait's) event payload; the wait goes on
            through every state, so an ended one means the job is gone.
        """
        self._raise_unless_ended(event)
        self.log.info("Batch job %s is gone.", event["job_name"])
        return _gone(event["job_name"])


def _gone(name: str) -> dict[str, Any]:
    """Return what the delete operator returns for a job that no longer exists."""
    from airflow_batchstream.outcome import vanished_event

    return {**vanished_event(name)["summary"], "gone": True}
