"""One progress line per change of a job's state or task counts, never one per poll.

The tracker's state is a plain dict (``to_dict``/``from_dict``), so a trigger can carry it in its
serialized kwargs and the operator can resume it after deferral.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def progress_line(job_name: str, state: str, counts: Mapping[str, int]) -> str:
    """
    Describe a job's state and task counts, such as ``"... is RUNNING: 3/10 succeeded, 2 running, 0 failed"``.

    :param job_name: the job's name, shown as is.
    :param state: the job's state name.
    :param counts: task state name → count.
    """
    total = sum(counts.values())
    if not total:
        return f"Batch job {job_name} is {state}."
    running = counts.get("RUNNING", 0) + counts.get("ASSIGNED", 0)
    return (
        f"Batch job {job_name} is {state}: {counts.get('SUCCEEDED', 0)}/{total} succeeded, "
        f"{running} running, {counts.get('FAILED', 0)} failed."
    )


class ProgressTracker:
    """
    Remember the last state and task counts reported, and say something only when they change.

    :param last: the state of an earlier tracker (``to_dict()``), to go on after deferral.
    """

    def __init__(self, last: Mapping[str, Any] | None = None) -> None:
        self.state: str | None = (last or {}).get("state")
        self.counts: dict[str, int] = dict((last or {}).get("counts") or {})

    def update(self, job_name: str, state: str, counts: Mapping[str, int]) -> str | None:
        """
        Return a progress line if ``state`` or ``counts`` differ from the last ones, else ``None``.

        :param job_name: the job's name, for the line.
        :param state: the job's state name now.
        :param counts: task state name → count now.
        """
        current = {name: int(count) for name, count in counts.items() if count}
        if state == self.state and current == self.counts:
            return None
        self.state, self.counts = state, current
        return progress_line(job_name, state, current)

    def update_from_job(self, job: Any) -> str | None:
        """
        :meth:`update` from a ``Job`` proto of either API version.

        :param job: the job as GetJob returned it.
        """
        from airflow_batchstream.summary import state_name, task_counts

        return self.update(job.name, state_name(job), task_counts(job))

    def to_dict(self) -> dict[str, Any]:
        """Return the tracker's state as plain JSON values."""
        return {"state": self.state, "counts": dict(self.counts)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ProgressTracker:
        """
        Rebuild a tracker from :meth:`to_dict`'s value.

        :param data: the dict, or ``None`` for a fresh tracker.
        """
        return cls(data)
