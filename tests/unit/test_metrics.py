"""Job metrics go through Airflow's public stats module to whatever backend Airflow configured."""

from __future__ import annotations

from datetime import timedelta

import pytest
from airflow.sdk.observability import stats
from airflow.sdk.observability.metrics.stats_utils import get_stats_factory

from airflow_batchstream.metrics import emit_job_metrics


class _Recorder:
    """A stats backend that keeps what it is sent (the interface Airflow's StatsD logger has)."""

    sent: list[tuple[str, str, object, dict]] = []

    def incr(self, stat, count=1, rate=1, *, tags=None):
        self.sent.append(("incr", stat, count, tags or {}))

    def timing(self, stat, dt, *, tags=None):
        self.sent.append(("timing", stat, dt, tags or {}))


@pytest.fixture
def recorder():
    _Recorder.sent = []
    stats.initialize(factory=_Recorder, export_legacy_names=False)
    yield _Recorder
    stats.initialize(factory=get_stats_factory(), export_legacy_names=False)


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
