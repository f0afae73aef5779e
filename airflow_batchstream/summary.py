"""A compact, JSON-serialisable account of a Batch job: what XCom and error messages carry."""

from __future__ import annotations

from typing import Any

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


def summarize_job(job: Any) -> dict[str, Any]:
    """
    Return the job's summary: name, id, uid, state, times (ISO 8601) and task counts.

    :param job: a ``Job`` proto of either API version.
    """
    return {
        "job_name": job.name,
        "job_id": job.name.rsplit("/", 1)[-1],
        "uid": job.uid,
        "state": state_name(job),
        "create_time": _iso(job.create_time),
        "end_time": end_time(job),
        "task_counts": task_counts(job),
        "failed_exit_codes": failed_exit_codes(job),
    }
