"""The AIP-160 filter subset of ListJobs and ListTasks."""

from __future__ import annotations

import pytest

from airflow_batchstream.emulator.filters import JOB_FIELDS, TASK_FIELDS, FilterError, Subject, compile_filter
from airflow_batchstream.emulator.model import JOB_STATES, TASK_STATES

NAME = "projects/p/locations/us-central1/jobs/batch-etl-1"
JOB = Subject(
    name=NAME,
    uid="j-123",
    labels={"team": "red", "airflow-dag-id": "etl"},
    state=JOB_STATES["RUNNING"],
    create_time=1_767_225_600.0,  # 2026-01-01T00:00:00Z
    update_time=1_767_225_660.0,  # one minute later
)


def matches(text: str, subject: Subject = JOB) -> bool:
    return compile_filter(text, JOB_FIELDS, JOB_STATES)(subject)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ('labels.team="red"', True),
        ("labels.team=red", True),
        ("labels.team != red", False),
        ('labels.airflow-dag-id="etl" AND status.state=RUNNING', True),
        ('labels.team="blue" OR labels.team="red"', True),
        ('labels.team="blue" OR labels.team="green"', False),
        ('NOT labels.team="red"', False),
        ('-labels.team="blue"', True),
        ('status.state="RUNNING" labels.team="red"', True),  # whitespace is AND
        # AIP-160: OR binds tighter than AND.
        ('labels.team="blue" AND labels.team="red" OR status.state=RUNNING', False),
        ('(labels.team="blue" AND labels.team="red") OR status.state=RUNNING', True),
        # The has-operator with a wildcard, as the Airflow Google provider's docs use it.
        ("name:projects/p/locations/us-central1/jobs/batch*", True),
        ("name:projects/p/locations/us-central1/jobs/other*", False),
        ('name="projects/p/locations/us-central1/jobs/*-1"', True),
        (f'name="{NAME}"', True),
        ("labels:team", True),
        ("labels:owner", False),
        ("labels.team:*", True),
        ("uid=j-123 AND uid!=j-456", True),
        ('create_time>="2026-01-01T00:00:00Z"', True),
        ('create_time<"2026-01-01T00:00:00Z"', False),
        ('update_time>"2026-01-01T00:00:30+00:00" AND update_time<="2026-01-01T01:01:00+0100"', True),
        ('status.state!="SUCCEEDED"', True),
    ],
)
def test_job_filters(text: str, expected: bool) -> None:
    assert matches(text) is expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('priority="1"', "priority"),
        ("status.state=DONE", "DONE"),
        ("status.state<RUNNING", "status.state<RUNNING"),
        ("create_time>1", "1"),
        ("labels.=x", "labels."),
        ('labels.a="x" OR', "OR"),
        ('(labels.a="x"', "labels.a"),
        ("labels.a >", ">"),
        ("task_groups.x=1", "task_groups.x"),
    ],
)
def test_refuses_anything_else_naming_the_term(text: str, named: str) -> None:
    with pytest.raises(FilterError) as caught:
        matches(text)
    assert named in str(caught.value)


def test_task_filters_know_only_task_fields() -> None:
    task = Subject(name=f"{NAME}/taskGroups/group0/tasks/1", state=TASK_STATES["FAILED"])
    assert compile_filter("status.state=FAILED", TASK_FIELDS, TASK_STATES)(task)
    assert compile_filter("name:*/tasks/1", TASK_FIELDS, TASK_STATES)(task)
    assert not compile_filter("NOT status.state=FAILED", TASK_FIELDS, TASK_STATES)(task)
    with pytest.raises(FilterError, match=r"labels\.team"):
        compile_filter('labels.team="red"', TASK_FIELDS, TASK_STATES)
