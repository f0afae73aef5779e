"""The ListJobs filter subset."""

from __future__ import annotations

import pytest

from airflow_batchstream.emulator.filters import (
    FilterError,
    Term,
    matcher,
    parse_filter,
)
from airflow_batchstream.emulator.model import JOB_STATES


def test_parses_every_supported_form() -> None:
    text = (
        'labels.team="a b" AND status.state=RUNNING AND name="projects/p/locations/l/jobs/j" AND labels.x=y'
    )
    assert parse_filter(text, allowed_states=JOB_STATES) == [
        Term("labels.team", "a b"),
        Term("status.state", "RUNNING"),
        Term("name", "projects/p/locations/l/jobs/j"),
        Term("labels.x", "y"),
    ]
    assert parse_filter("  ", allowed_states=JOB_STATES) == []


@pytest.mark.parametrize(
    "text",
    [
        "labels.a:b",
        "status.state=DONE",
        "uid=1",
        'labels.a="b" OR labels.c="d"',
        "labels.=x",
        "labels.a != b",
    ],
)
def test_refuses_anything_else(text: str) -> None:
    with pytest.raises(FilterError, match="filter"):
        parse_filter(text, allowed_states=JOB_STATES)


def test_matcher_requires_every_term() -> None:
    terms = parse_filter('labels.team="red" AND status.state="QUEUED"', allowed_states=JOB_STATES)
    match = matcher(terms, state_names=JOB_STATES)
    assert match("n", {"team": "red"}, JOB_STATES["QUEUED"])
    assert not match("n", {"team": "red"}, JOB_STATES["RUNNING"])
    assert not match("n", {}, JOB_STATES["QUEUED"])
