"""A compact, JSON-serialisable account of a Batch job: what XCom and error messages carry."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger(__name__)
#: The phase durations of a summary (:func:`phase_seconds`).
PHASES = ("queued_seconds", "startup_seconds", "run_seconds")

#: States after which a job changes no more (CANCELLATION/DELETION_IN_PROGRESS only end in these).
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
#: Exit codes Batch reserves for its own reasons (Batch "reserved exit codes" docs).
RESERVED_EXIT_CODES = {
    50001: "the VM was preempted (Spot)",
    50002: "the VM lost contact with Batch",
    50003: "the VM was rebooted",
    50004: "the task stopped reporting (unresponsive)",
    50005: "the task exceeded its max run duration",
    50006: "the VM was recreated",
    50000: "unclassified Batch failure",
}


def _iso(timestamp: Any) -> str | None:
    """Return a proto-plus timestamp as ISO 8601, or ``None`` when unset."""
    if not timestamp or not timestamp.timestamp():
        return None
    return timestamp.isoformat()


def state_name(job: Any) -> str:
    """
    Return the job's state as its enum name, such as ``"RUNNING"``.

    :param job: a ``Job`` proto of either API version.
    """
    return job.status.state.name


def task_counts(job: Any) -> dict[str, int]:
    """
    Return task state name → count, summed over the job's task groups.

    :param job: a ``Job`` proto of either API version.
    """
    counts: dict[str, int] = {}
    for group in job.status.task_groups.values():
        for name, count in group.counts.items():
            counts[name] = counts.get(name, 0) + int(count)
    return counts


def failed_exit_codes(job: Any) -> list[int]:
    """
    Return the distinct non-zero task exit codes the job's status events report, in order.

    :param job: a ``Job`` proto of either API version.
    """
    codes: list[int] = []
    for event in job.status.status_events:
        code = event.task_execution.exit_code
        if code and code not in codes:
            codes.append(code)
    return codes


def failure_reason(job: Any) -> str:
    """
    Explain why a job ended badly, from its status events, failed task count and exit codes.

    :param job: a ``Job`` proto of either API version.
    """
    counts = task_counts(job)
    parts = [f"Batch job {job.name} ended {state_name(job)}"]
    if counts.get("FAILED"):
        parts.append(f"{counts['FAILED']} of {sum(counts.values())} task(s) failed")
    for code in failed_exit_codes(job):
        meaning = RESERVED_EXIT_CODES.get(code)
        parts.append(f"exit code {code}" + (f" ({meaning})" if meaning else ""))
    reasons = [event.description for event in job.status.status_events if event.description]
    message = "; ".join(parts) + "."
    if reasons:
        message += " Last status events: " + " | ".join(reasons[-3:])
    return message


def end_time(job: Any) -> str | None:
    """
    Return when a terminal job ended (its last status event, or its last update), else ``None``.

    :param job: a ``Job`` proto of either API version.
    """
    if state_name(job) not in TERMINAL_STATES:
        return None
    events = [_iso(event.event_time) for event in job.status.status_events]
    return next((time for time in reversed(events) if time), None) or _iso(job.update_time)


#: Batch's status event descriptions name both ends of a change: "Job state is set from QUEUED to
#: SCHEDULED for job projects/...", "Task state is updated from ASSIGNED to RUNNING on zones/...".
_TRANSITION = re.compile(r"^(Job|Task) state is (?:set|updated) from ([A-Z_]+) to ([A-Z_]+)")


def _transitions(job: Any) -> list[tuple[str, str, float]]:
    """Return ``(kind, new_state, epoch_seconds)`` of each state change in the job's status events."""
    found = []
    for event in job.status.status_events:
        match = _TRANSITION.match(event.description)
        if match and event.event_time and event.event_time.timestamp():
            found.append((match.group(1), match.group(3), event.event_time.timestamp()))
    return found


def _first(transitions: list[tuple[str, str, float]], kinds: set[str], state: str) -> float | None:
    return min((t for kind, new, t in transitions if kind in kinds and new == state), default=None)


def _seconds_between(start: float | None, end: float | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return round(end - start, 3)


def phase_seconds(job: Any) -> dict[str, float | None]:
    """
    Return how long the job was queued, starting and running, in seconds (``None`` when unknown yet).

    ``queued_seconds`` is creation → SCHEDULED; ``startup_seconds`` is SCHEDULED → the first task
    RUNNING (VMs, image pull or stream: the figure image streaming improves; a job turns RUNNING
    when its first task does); ``run_seconds`` is Batch's ``status.run_duration``, or RUNNING → end.

    :param job: a ``Job`` proto of either API version.
    """
    transitions = _transitions(job)
    created = job.create_time.timestamp() if job.create_time and job.create_time.timestamp() else None
    scheduled = _first(transitions, {"Job"}, "SCHEDULED")
    running = _first(transitions, {"Job", "Task"}, "RUNNING")
    run_seconds = None
    duration = job.status.run_duration
    if duration and duration.total_seconds():
        run_seconds = round(duration.total_seconds(), 3)
    elif running is not None and state_name(job) in TERMINAL_STATES:
        ends = [t for kind, new, t in transitions if kind == "Job" and new in TERMINAL_STATES]
        run_seconds = _seconds_between(running, max(ends, default=None))
    return {
        "queued_seconds": _seconds_between(created, scheduled),
        "startup_seconds": _seconds_between(scheduled, running),
        "run_seconds": run_seconds,
    }


def image_streaming(job: Any) -> bool:
    """
    Tell whether the job streams its images: it has container runnables and every one streams.

    :param job: a ``Job`` proto of either API version.
    """
    containers = [
        runnable.container
        for group in job.task_groups
        for runnable in group.task_spec.runnables
        if "container" in runnable
    ]
    return bool(containers) and all(container.enable_image_streaming for container in containers)


def summarize_job(job: Any) -> dict[str, Any]:
    """
    Return the job's summary: name, id, uid, state, times, task counts, links and phase durations.

    Nothing from the job's specification beyond whether it streams: no commands, no environment.
    An extra (exit codes, links, streaming, phase times) that cannot be worked out is logged as a
    warning and left ``None``: it never costs the summary, or the task, a SUCCEEDED job.

    :param job: a ``Job`` proto of either API version.
    """
    from airflow_batchstream.urls import console_job_url, logs_explorer_url

    summary: dict[str, Any] = {
        "job_name": job.name,
        "job_id": job.name.rsplit("/", 1)[-1],
        "uid": job.uid,
        "state": state_name(job),
        "create_time": _iso(job.create_time),
        "end_time": end_time(job),
        "task_counts": task_counts(job),
    }
    extras: list[tuple[tuple[str, ...], Any]] = [
        (("failed_exit_codes",), lambda: {"failed_exit_codes": failed_exit_codes(job)}),
        (("console_url",), lambda: {"console_url": console_job_url(job.name)}),
        (("logs_url",), lambda: {"logs_url": logs_explorer_url(job.name, job.uid)}),
        (("image_streaming",), lambda: {"image_streaming": image_streaming(job)}),
        (PHASES, lambda: phase_seconds(job)),
    ]
    for keys, extra in extras:
        try:
            summary.update(extra())
        except Exception as error:
            log.warning(
                "Summary of Batch job %s: %s left out (%s: %s).",
                job.name,
                ", ".join(keys),
                type(error).__name__,
                error,
            )
            summary.update(dict.fromkeys(keys))
    return summary


def summarize_task(task: Any) -> dict[str, Any]:
    """
    Return a task's summary: index, state, exit code, first start, end, and retry attempts.

    ``start_time`` is when the task first ran, ``end_time`` when it last ended (``None`` while it
    runs), ``exit_code`` the last one reported (``0`` for a task that succeeded without one), and
    ``retry_attempts`` how many times it ran again after its first run.

    :param task: a ``Task`` proto of either API version.
    """
    state = task.status.state.name
    runs: list[float] = []
    ends: list[float] = []
    exit_code: int | None = 0 if state == "SUCCEEDED" else None
    for event in task.status.status_events:
        match = _TRANSITION.match(event.description)
        new_state = match.group(3) if match else ""
        when = event.event_time.timestamp() if event.event_time else 0.0
        if new_state == "RUNNING" and when:
            runs.append(when)
        elif new_state in ("SUCCEEDED", "FAILED") and when:
            ends.append(when)
        if "task_execution" in event:
            exit_code = event.task_execution.exit_code
    return {
        "index": int(task.name.rsplit("/", 1)[-1]),
        "state": state,
        "exit_code": exit_code,
        "start_time": _iso_seconds(min(runs, default=None)),
        "end_time": _iso_seconds(max(ends, default=None)) if state in ("SUCCEEDED", "FAILED") else None,
        "retry_attempts": max(0, len(runs) - 1),
    }


def _iso_seconds(epoch: float | None) -> str | None:
    """Return epoch seconds as ISO 8601 in UTC, or ``None``."""
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat()
