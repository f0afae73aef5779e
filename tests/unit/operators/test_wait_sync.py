"""The synchronous wait's reads never ask the hook for a negative retry budget as the deadline nears."""

from __future__ import annotations

import time
from types import SimpleNamespace

from google.cloud import batch_v1

from airflow_batchstream.hooks.batch import check_job_call
from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

NAME = "projects/demo-project/locations/us-central1/jobs/j"


class _Hook:
    """Answers GetJob with a running job, checking its arguments as the real hook does."""

    def __init__(self) -> None:
        self.deadlines: list[float | None] = []

    def get_job(self, name: str, deadline: float | None = None) -> batch_v1.Job:
        check_job_call("BatchStreamHook.get_job", name, deadline)
        self.deadlines.append(deadline)
        return _running()

    def cancel_job(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(name=f"{name}/operations/cancel")


def _running() -> batch_v1.Job:
    return batch_v1.Job(name=NAME, status=batch_v1.JobStatus(state=batch_v1.JobStatus.State.RUNNING))


def test_a_read_at_the_deadline_gets_a_budget_of_zero_not_a_negative_one():
    operator = BatchStreamSubmitJobOperator(
        task_id="t", region="us-central1", image_uri="i", poll_interval=1, fetch_logs=False, timeout=60
    )
    hook = _Hook()
    operator.__dict__["hook"] = hook  # the cached hook property
    # The deadline passes during the first sleep: the read after it used to get deadline - now < 0.
    event = operator._wait_sync(_running(), deadline=time.time() + 0.05)
    assert event["status"] == "timeout"
    assert hook.deadlines, "the wait never read the job"
    assert all(d is None or d >= 0 for d in hook.deadlines), hook.deadlines
