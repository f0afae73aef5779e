"""Each benchmark runs end to end at a tiny size and yields a row per figure (numbers are not checked)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2]))

from benchmarks import fanout, parse_cost, push, submission
from benchmarks.common import table

pytestmark = [pytest.mark.integration, pytest.mark.benchmark_smoke]


def _check(rows, area_prefix):
    assert rows and all(row.area.startswith(area_prefix) for row in rows)
    assert all(row.ours is not None and not math.isnan(row.ours) for row in rows)
    assert all(row.theirs is not None and not math.isnan(row.theirs) for row in rows)
    assert len(table(rows).splitlines()) == len(rows) + 2


def test_parse_cost_smoke():
    _check(parse_cost.run(runs=1), "DAG parse")


def test_submission_smoke():
    _check(submission.run(tasks=3, runs=1), "Submission")


def test_fanout_smoke():
    rows = fanout.run(sizes=(10,), runs=1, scale_size=0)
    _check(rows, "Fan-out 10")
    missed = {row.metric: (row.ours, row.theirs) for row in rows}["final events missed or wrong"]
    assert missed == (0, 0)


def test_push_smoke():
    rows = push.run(sizes=(10,))
    assert rows and all(row.area == "Push 10" and not math.isnan(row.ours) for row in rows)
    by_metric = {row.metric: (row.ours, row.theirs) for row in rows}
    assert by_metric["final events missed or wrong: push"] == (0, 0)
    assert by_metric["final events missed or wrong: shared poller"] == (0, 0)
