"""BatchStreamSubmitJobOperator.execute_complete: each end of a wait becomes a result or the right error."""

from __future__ import annotations

import pytest

from airflow_batchstream.compat import AirflowException, AirflowFailException
from airflow_batchstream.deferral import RESUME_HOLD_ENV
from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

NAME = "projects/p/locations/us-central1/jobs/j"


def _operator(**kwargs) -> BatchStreamSubmitJobOperator:
    return BatchStreamSubmitJobOperator(task_id="t", region="us-central1", image_uri="i", **kwargs)


def _event(status: str, state: str) -> dict:
    return {"status": status, "job_name": NAME, "state": state, "summary": {"state": state}, "message": "m"}


def test_succeeded_returns_the_summary():
    assert _operator().execute_complete({}, _event("ended", "SUCCEEDED")) == {"state": "SUCCEEDED"}


@pytest.mark.parametrize("state", ["CANCELLED", "CANCELLATION_IN_PROGRESS"])
def test_cancelled_fails_without_retry_unless_asked(state):
    with pytest.raises(AirflowFailException, match="not retried"):
        _operator().execute_complete({}, _event("ended", state))
    with pytest.raises(AirflowException) as raised:
        _operator(retry_on_cancel=True).execute_complete({}, _event("ended", state))
    assert not isinstance(raised.value, AirflowFailException)


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("ended", "FAILED"),
        ("ended", "DELETION_IN_PROGRESS"),
        ("ended", "NOT_FOUND"),
        ("timeout", "RUNNING"),
        ("error", "UNKNOWN"),
    ],
)
def test_other_endings_are_retryable_failures(status, state):
    with pytest.raises(AirflowException) as raised:
        _operator(timeout=5).execute_complete({}, _event(status, state))
    assert not isinstance(raised.value, AirflowFailException)
    assert "m" in str(raised.value)


@pytest.mark.parametrize("kwargs", [{"timeout": 0}, {"timeout": -1}, {"poll_interval": 0}])
def test_bad_waiting_arguments_are_refused_at_parse_time(kwargs):
    with pytest.raises(ValueError, match=r"must be (a )?positive"):
        _operator(**kwargs)


def test_deferrable_default_reads_the_setting_when_built(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert _operator().deferrable is True
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "False")
    assert _operator().deferrable is False
    assert _operator(deferrable=True).deferrable is True


def test_execution_timeout_bounds_the_deferred_wait_and_fails_like_airflows_own(monkeypatch):
    import time
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace

    from airflow_batchstream.compat import AirflowTaskTimeout, TaskDeferred

    started = datetime.now(timezone.utc) - timedelta(seconds=5)
    context = {"ti": SimpleNamespace(start_date=started)}
    operator = _operator(timeout=3600, execution_timeout=timedelta(seconds=20))
    monkeypatch.setenv(RESUME_HOLD_ENV, "10")
    # Five seconds old: past the worker's look at young jobs, so the task defers at once.
    job = SimpleNamespace(
        name=NAME, create_time=started, status=SimpleNamespace(state=SimpleNamespace(name="RUNNING"))
    )
    deferring = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        operator._defer(context, job, deadline=started.timestamp() + 3600)
    assert deferred.value.trigger.deadline == started.timestamp() + 20  # the earlier of the two
    # No event resumes the task sooner than the resume hold after deferring.
    assert deferring + 10 <= deferred.value.trigger.not_before <= time.time() + 10
    with pytest.raises(AirflowTaskTimeout, match="execution_timeout=0:00:01 passed"):
        _operator(execution_timeout=timedelta(seconds=1)).execute_complete(
            context, _event("timeout", "RUNNING")
        )
