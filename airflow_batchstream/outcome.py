"""How a wait on a Batch job ends: one plain-JSON event shape for the trigger, the operator and the sensor."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from airflow_batchstream.summary import TERMINAL_STATES, failure_reason, state_name, summarize_job

#: Pseudo-state of a job that no longer exists (deleted under the watcher).
NOT_FOUND = "NOT_FOUND"
#: States that end a wait: the terminal ones, the two on their way there, and a vanished job.
ENDING_STATES = TERMINAL_STATES | {"CANCELLATION_IN_PROGRESS", "DELETION_IN_PROGRESS", NOT_FOUND}
#: States in which a job still works (or waits to): a reattachable job.
ACTIVE_STATES = frozenset({"STATE_UNSPECIFIED", "QUEUED", "SCHEDULED", "RUNNING"})

#: Every job state a ListJobs filter or a wait can name (all but ``STATE_UNSPECIFIED``).
JOB_STATES = frozenset((ACTIVE_STATES | ENDING_STATES) - {"STATE_UNSPECIFIED", NOT_FOUND})

#: ``status`` of an event: the job reached an ending state / the deadline passed / an API error.
ENDED, TIMEOUT, ERROR = "ended", "timeout", "error"


def ended_event(job: Any, stop_states: Collection[str] = ()) -> dict[str, Any] | None:
    """
    Return the event of a job in an ending state (or one of ``stop_states``), else ``None``.

    :param job: a ``Job`` proto of either API version.
    :param stop_states: other states that end the wait, such as ``RUNNING`` for a sensor.
    """
    state = state_name(job)
    if state not in ENDING_STATES and state not in stop_states:
        return None
    message = (
        f"Batch job {job.name} is {state}."
        if state not in ENDING_STATES - {"SUCCEEDED"}
        else failure_reason(job)
    )
    return {
        "status": ENDED,
        "job_name": job.name,
        "state": state,
        "summary": summarize_job(job),
        "message": message,
    }


def vanished_event(job_name: str) -> dict[str, Any]:
    """
    Return the event of a job that no longer exists.

    :param job_name: the job's full resource name.
    """
    return {
        "status": ENDED,
        "job_name": job_name,
        "state": NOT_FOUND,
        "summary": {"job_name": job_name, "job_id": job_name.rsplit("/", 1)[-1], "state": NOT_FOUND},
        "message": f"Batch job {job_name} no longer exists: it was deleted while it was being watched.",
    }


def timeout_event(
    job_name: str, job: Any, cancelled: bool, cancel_error: str | None = None
) -> dict[str, Any]:
    """
    Return the event of a wait whose deadline passed.

    :param job_name: the job's full resource name.
    :param job: the job as last seen, or ``None`` when it could not be read.
    :param cancelled: whether a cancellation was requested.
    :param cancel_error: why the cancellation failed, if it did.
    """
    state = state_name(job) if job is not None else "UNKNOWN"
    if cancelled:
        what = "it was cancelled"
    elif cancel_error:
        what = f"cancelling it failed: {cancel_error}"
    else:
        what = "it was left running (cancel_on_deadline=False)"
    return {
        "status": TIMEOUT,
        "job_name": job_name,
        "state": state,
        "summary": summarize_job(job) if job is not None else None,
        "message": f"Batch job {job_name} was still {state} when its deadline passed; {what}.",
        "cancelled": cancelled,
    }


def error_event(job_name: str, error: BaseException) -> dict[str, Any]:
    """
    Return the event of a wait that an API error ended (a permanent one, or transient ones past their bound).

    :param job_name: the job's full resource name.
    :param error: the exception of the last call.
    """
    return {
        "status": ERROR,
        "job_name": job_name,
        "state": "UNKNOWN",
        "summary": None,
        "message": f"Cannot read Batch job {job_name}: {type(error).__name__}: {error}",
    }
