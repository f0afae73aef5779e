"""The ListLogEntries filter subset and RFC 3339 parsing, one function at a time."""

from __future__ import annotations

import pytest

from airflow_batchstream.emulator.logs import (
    LogEntry,
    LogFilterError,
    parse_log_filter,
    parse_order_by,
    parse_timestamp,
)

ENTRY = LogEntry(
    time=1_767_225_600.25,  # 2026-01-01T00:00:00.25Z
    seq=1,
    project="p",
    text="hello world",
    severity="ERROR",
    labels={"job_uid": "j-1", "task_id": "task/j-1-group0-0/0/0"},
    resource_labels={"job": "my-job"},
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T00:00:00Z", 1_767_225_600.0),
        ("2026-01-01T00:00:00.250000000Z", 1_767_225_600.25),
        ("2026-01-01T02:00:00+02:00", 1_767_225_600.0),
        ("2025-12-31T19:00:00.5-05:00", 1_767_225_600.5),
        # google-cloud-logging's Logger.list_entries adds timestamp>="...+0000" (strftime %z).
        ("2026-01-01T00:00:00.000000+0000", 1_767_225_600.0),
        ("2026-01-01T05:30:00+0530", 1_767_225_600.0),
    ],
)
def test_parse_timestamp(text: str, expected: float) -> None:
    assert parse_timestamp(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("filter_text", "matches"),
    [
        ("", True),
        ('logName="projects/p/logs/batch_task_logs"', True),
        ("logName=projects/q/logs/batch_task_logs", False),
        ('log_id("batch_task_logs") labels.job_uid=j-1', True),
        ('labels.job_uid="j-2"', False),
        ('resource.type="generic_task" AND resource.labels.job="my-job"', True),
        ('timestamp>="2026-01-01T00:00:00Z" AND timestamp<"2026-01-01T00:00:01Z"', True),
        ('timestamp>"2026-01-01T00:00:00.25Z"', False),
        ("severity>=ERROR", True),
        ("severity>error", False),
        ('textPayload:"lo wo"', True),
        ('"planet"', False),
        ('labels.task_id="task/j-1-group0-0/0/0"\n"hello"', True),
    ],
)
def test_filter_forms(filter_text: str, matches: bool) -> None:
    assert parse_log_filter(filter_text)(ENTRY) is matches


@pytest.mark.parametrize(
    "bad",
    [
        "a OR b",
        'NOT labels.a="1"',
        '-labels.a="1"',
        '(labels.a="1")',
        "labels.a>1",
        "json.x=1",
        "timestamp>=now",
    ],
)
def test_refused_filters_name_the_subset(bad: str) -> None:
    with pytest.raises(LogFilterError):
        parse_log_filter(bad)


def test_order_by() -> None:
    assert parse_order_by("") is False
    assert parse_order_by("timestamp  DESC") is True
    with pytest.raises(LogFilterError, match="order_by"):
        parse_order_by("severity")
