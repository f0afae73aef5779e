"""Reading Batch's job-state notifications: the documented attributes and the other plausible forms."""

from __future__ import annotations

import json

import pytest

from airflow_batchstream.triggers.push import Notice, parse_notice

NAME = "projects/p/locations/us-central1/jobs/j1"


def test_documented_attributes():
    attributes = {"Type": "JOB_STATE_CHANGED", "JobName": NAME, "JobUID": "u", "NewJobState": "SUCCEEDED"}
    assert parse_notice(attributes, b"Job state is set ...") == Notice(NAME, None, "SUCCEEDED")


@pytest.mark.parametrize(
    ("attributes", "data", "expected"),
    [
        ({"jobName": NAME, "newJobState": "FAILED"}, b"", Notice(NAME, None, "FAILED")),
        (
            {"JobName": "j1", "Region": "us-central1"},
            b"x to RUNNING for job j1.",
            Notice("j1", "us-central1", "RUNNING"),
        ),
        (
            {},
            json.dumps({"name": NAME, "status": {"state": "CANCELLED"}}).encode(),
            Notice(NAME, None, "CANCELLED"),
        ),
        ({"JobName": NAME}, b"no state here", Notice(NAME, None, None)),
    ],
)
def test_other_plausible_forms(attributes, data, expected):
    assert parse_notice(attributes, data) == expected


@pytest.mark.parametrize(
    ("attributes", "data"),
    [({"Type": "TASK_STATE_CHANGED", "JobName": NAME}, b""), ({"other": "x"}, b"hello"), ({}, b"[1, 2]")],
)
def test_anything_else_is_not_a_job_notice(attributes, data):
    assert parse_notice(attributes, data) is None
