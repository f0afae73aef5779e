"""Job metrics go through Airflow's ``Stats`` to whatever backend Airflow configured."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_batchstream.compat import stats
from airflow_batchstream.metrics import emit_job_metrics


class _Recorder:
    """Stands in for ``Stats.incr`` and ``Stats.timing`` (the signatures all Airflow 3 releases share)."""

    def __init__(self):
        self.sent: list[tuple[str, str, object, dict]] = []

    def incr(self, stat, count=1, rate=1, *, tags=None):
        self.sent.append(("incr", stat, count, tags or {}))

    def timing(self, stat, dt, *, tags=None):
        self.sent.append(("timing", stat, dt, tags or {}))


@pytest.fixture
def recorder(monkeypatch):
    recorder = _Recorder()
    monkeypatch.setattr(stats(), "incr", recorder.incr)
    monkeypatch.setattr(stats(), "timing", recorder.timing)
    return recorder


def test_times_and_final_state_are_sent_under_batchstream(recorder):
    summary = {
        "job_name": "projects/p/locations/europe-west4/jobs/j",
        "state": "SUCCEEDED",
        "image_streaming": True,
        "queued_seconds": 2.5,
        "startup_seconds": 11.0,
        "run_seconds": None,  # never reached: not sent
    }
    assert emit_job_metrics(summary) == [
        "batchstream.job.queued_seconds",
        "batchstream.job.startup_seconds",
        "batchstream.job.state.SUCCEEDED",
    ]
    tags = {"region": "europe-west4", "image_streaming": "true"}
    assert recorder.sent == [
        ("timing", "batchstream.job.queued_seconds", timedelta(seconds=2.5), tags),
        ("timing", "batchstream.job.startup_seconds", timedelta(seconds=11), tags),
        ("incr", "batchstream.job.state.SUCCEEDED", 1, tags),
    ]
