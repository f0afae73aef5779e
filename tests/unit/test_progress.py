from __future__ import annotations

import json

from airflow_batchstream.progress import ProgressTracker

JOB = "projects/p/locations/us-central1/jobs/j"


def test_a_line_only_when_state_or_counts_change():
    tracker = ProgressTracker()
    polls = [
        ("QUEUED", {}),
        ("QUEUED", {}),
        ("SCHEDULED", {"PENDING": 10}),
        ("RUNNING", {"PENDING": 5, "RUNNING": 2, "SUCCEEDED": 3}),
        ("RUNNING", {"PENDING": 5, "RUNNING": 2, "SUCCEEDED": 3}),
        ("RUNNING", {"RUNNING": 1, "SUCCEEDED": 8, "FAILED": 1}),
        ("RUNNING", {"RUNNING": 1, "SUCCEEDED": 8, "FAILED": 1}),
    ]
    lines = [line for state, counts in polls if (line := tracker.update(JOB, state, counts))]
    assert lines == [
        f"Batch job {JOB} is QUEUED.",
        f"Batch job {JOB} is SCHEDULED: 0/10 succeeded, 0 running, 0 failed.",
        f"Batch job {JOB} is RUNNING: 3/10 succeeded, 2 running, 0 failed.",
        f"Batch job {JOB} is RUNNING: 8/10 succeeded, 1 running, 1 failed.",
    ]


def test_state_round_trips_through_json_so_a_trigger_can_carry_it():
    tracker = ProgressTracker()
    tracker.update(JOB, "RUNNING", {"RUNNING": 2, "SUCCEEDED": 0})
    resumed = ProgressTracker.from_dict(json.loads(json.dumps(tracker.to_dict())))
    assert resumed.update(JOB, "RUNNING", {"RUNNING": 2}) is None  # zero counts do not count as change
    assert resumed.update(JOB, "SUCCEEDED", {"SUCCEEDED": 2}) is not None
