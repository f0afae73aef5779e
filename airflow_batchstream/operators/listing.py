"""Operators that list Batch jobs and a job's tasks, as compact JSON summaries."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_batchstream.api_version import API_VERSIONS, DEFAULT_API_VERSION
from airflow_batchstream.arguments import ArgumentCheck, shown
from airflow_batchstream.compat import AirflowFailException
from airflow_batchstream.hook_mixin import BatchStreamHookMixin
from airflow_batchstream.job_names import (
    check_rendered_reference,
    job_reference_problems,
    list_filter,
    resolve_job_name,
)
from airflow_batchstream.outcome import JOB_STATES
from airflow_batchstream.validation.violations import Violation

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Task states a listing may ask for (``status.state`` values of ListTasks).
TASK_STATES = ("PENDING", "ASSIGNED", "RUNNING", "SUCCEEDED", "FAILED", "UNEXECUTED")


def _epoch(check: ArgumentCheck, created_before: Any) -> float | None:
    """Return a datetime or an ISO 8601 string as epoch seconds (a naive time is UTC); ``None`` for none."""
    if created_before is None:
        return None
    try:
        when = (
            created_before
            if isinstance(created_before, datetime)
            else datetime.fromisoformat(str(created_before).strip().replace("Z", "+00:00"))
        )
    except ValueError:
        check.add(
            [
                Violation(
                    "created_before",
                    "bad-argument",
                    f"{shown(created_before)} is not an ISO 8601 time",
                    "give a datetime, or a string such as 2026-11-01T00:00:00+00:00",
                )
            ]
        )
        return None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


class BatchStreamListJobsOperator(BatchStreamHookMixin, BaseOperator):
    """
    List the Batch jobs of a project and region, newest first; return their summaries.

    Jobs are chosen by ``filter``, ``labels`` and ``states`` (all must hold) and by
    ``created_before``; at most ``limit`` are returned, newest first. Each is the same compact JSON
    summary the submit operator returns (``job_name``, ``job_id``, ``uid``, ``state``,
    ``create_time``, ``end_time``, ``task_counts``, ...), never a job's specification or environment.

    :param region: Batch region, such as ``us-central1`` (templated).
    :param project_id: Google Cloud project; defaults to the connection's project (templated).
    :param filter: a ListJobs filter of your own, such as ``status.state="FAILED"`` (templated).
    :param labels: labels the jobs carry, all of them, such as ``{"airflow-dag-id": "etl"}`` (templated).
    :param states: job states to list (one ListJobs call each), such as ``["SUCCEEDED", "FAILED"]``;
        all states when not given.
    :param created_before: list only jobs created before this time: a ``datetime`` or an ISO 8601
        string, UTC when it names no zone (templated).
    :param limit: return at most this many jobs; ``None`` for all.
    :param gcp_conn_id: Airflow connection with the Google credentials.
    :param impersonation_chain: service account to impersonate, or a chain of them (templated).
    :param api_version: ``"v1"`` (default) or ``"v1alpha"``.
    """

    template_fields: Sequence[str] = (
        "region",
        "project_id",
        "filter",
        "labels",
        "created_before",
        "impersonation_chain",
    )
    ui_color = "#d4e4fc"

    def __init__(
        self,
        *,
        region: str,
        project_id: str | None = None,
        filter: str | None = None,
        labels: Mapping[str, str] | None = None,
        states: Collection[str] | None = None,
        created_before: datetime | str | None = None,
        limit: int | None = 100,
        gcp_conn_id: str = "google_cloud_default",
        impersonation_chain: str | Sequence[str] | None = None,
        api_version: str = DEFAULT_API_VERSION,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check = ArgumentCheck()
        check.text("gcp_conn_id", gcp_conn_id, required=True)
        check.choice("api_version", api_version, API_VERSIONS)
        if states is not None:
            check.states("states", states, JOB_STATES)
        check.integer("limit", limit, minimum=0, required=False)
        check.raise_if_any(self.task_id)
        self.region = region
        self.project_id = project_id
        self.filter = filter
        self.labels = labels
        self.states = sorted(states) if states else None
        self.created_before = created_before
        self.limit = limit
        self.gcp_conn_id = gcp_conn_id
        self.impersonation_chain = impersonation_chain
        self.api_version = api_version

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow_batchstream.summary import summarize_job

        check = ArgumentCheck()
        check.region("region", self.region)
        check.project_id("project_id", self.project_id)
        check.text("filter", self.filter)
        check.labels("labels", self.labels, selector=True)
        check.accounts("impersonation_chain", self.impersonation_chain)
        cutoff = _epoch(check, self.created_before)
        check.raise_if_any(self.task_id)
        project_id = self.project_id or self.hook.project_id
        # One newest-first listing per state, merged lazily: only the pages needed are read.
        listings = [
            self.hook.iter_jobs(
                region=self.region,
                project_id=project_id,
                filter=list_filter(self.filter, self.labels, state),
                order_by="create_time desc",
            )
            for state in self.states or [""]  # "": no state term
        ]
        newest_first = heapq.merge(*listings, key=lambda job: job.create_time.timestamp(), reverse=True)
        chosen = (job for job in newest_first if cutoff is None or job.create_time.timestamp() < cutoff)
        summaries = [summarize_job(job) for job in itertools.islice(chosen, self.limit)]
        self.log.info(
            "Found %d Batch job(s) in projects/%s/locations/%s%s.",
            len(summaries),
            project_id,
            self.region,
            "" if self.limit is None or len(summaries) < self.limit else f" (limit={self.limit} reached)",
        )
        for summary in summaries:
            self.log.info("  %s %s created %s", summary["job_id"], summary["state"], summary["create_time"])
        return summaries


class BatchStreamListTasksOperator(BatchStreamHookMixin, BaseOperator):
    """
    List a Batch job's tasks, optionally only those in some states; return them as compact JSON.

    Each task is ``{"index", "state", "exit_code", "start_time", "end_time", "retry_attempts"}``:
    ``exit_code`` is the last one reported (``null`` while the task has not ended), ``start_time``
    its first run and ``end_time`` its last end (ISO 8601), ``retry_attempts`` how many times it ran
    again. Tasks come in index order; the task log names the failed ones with their exit codes. Name
    the job with ``job_name`` or with ``project_id`` + ``region`` + ``job_id``; a job that does not
    exist fails the task without retry.

    :param job_name: the job's full resource name (templated).
    :param project_id: project of ``job_id``; defaults to the connection's (templated).
    :param region: region of ``job_id`` (templated).
    :param job_id: the job's id in ``region`` (templated).
    :param states: task states to list, such as ``["FAILED"]``; all when not given.
    :param gcp_conn_id: Airflow connection with the Google credentials.
    :param impersonation_chain: service account to impersonate, or a chain of them (templated).
    :param api_version: ``"v1"`` (default) or ``"v1alpha"``.
    """

    template_fields: Sequence[str] = ("job_name", "project_id", "region", "job_id", "impersonation_chain")
    ui_color = "#d4e4fc"

    def __init__(
        self,
        *,
        job_name: str | None = None,
        project_id: str | None = None,
        region: str | None = None,
        job_id: str | None = None,
        states: Collection[str] | None = None,
        gcp_conn_id: str = "google_cloud_default",
        impersonation_chain: str | Sequence[str] | None = None,
        api_version: str = DEFAULT_API_VERSION,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check = ArgumentCheck()
        check.add(job_reference_problems(job_name, job_id, region))
        check.text("gcp_conn_id", gcp_conn_id, required=True)
        check.choice("api_version", api_version, API_VERSIONS)
        if states is not None:
            check.states("states", states, TASK_STATES)
        check.raise_if_any(self.task_id)
        self.job_name = job_name
        self.project_id = project_id
        self.region = region
        self.job_id = job_id
        self.states = sorted(states) if states else None
        self.gcp_conn_id = gcp_conn_id
        self.impersonation_chain = impersonation_chain
        self.api_version = api_version

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from google.api_core.exceptions import NotFound

        from airflow_batchstream.summary import summarize_task

        check = ArgumentCheck()
        check_rendered_reference(check, self.job_name, self.project_id, self.region, self.job_id)
        check.accounts("impersonation_chain", self.impersonation_chain)
        check.raise_if_any(self.task_id)
        name = resolve_job_name(self.hook, self.job_name, self.project_id, self.region, self.job_id)
        try:
            tasks = [
                task
                for state in self.states or [""]  # "": no state term
                for task in self.hook.list_tasks(name, filter=list_filter(state=state))
            ]
        except NotFound as error:
            raise AirflowFailException(f"Batch job {name} does not exist: no tasks to list.") from error
        summaries = sorted((summarize_task(task) for task in tasks), key=lambda task: task["index"])
        counts: dict[str, int] = {}
        for summary in summaries:
            counts[summary["state"]] = counts.get(summary["state"], 0) + 1
        self.log.info(
            "Batch job %s: %d task(s)%s.",
            name,
            len(summaries),
            "".join(f", {count} {state}" for state, count in sorted(counts.items())),
        )
        failed = [f"{s['index']} (exit code {s['exit_code']})" for s in summaries if s["state"] == "FAILED"]
        if failed:
            self.log.info("Failed tasks: %s.", ", ".join(failed))
        return summaries
