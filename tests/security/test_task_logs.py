"""Job output cannot flood or forge the task log: line and byte caps, no paging past the cap, no controls."""

from __future__ import annotations

import pytest
from security_helpers import PARENT, script_job, wait_ended

from airflow_batchstream.emulator.server import BatchEmulator
from airflow_batchstream.logs import JobLogFetcher

pytestmark = pytest.mark.integration


def _run(emulator: BatchEmulator, job_id: str, text: str) -> str:
    client = emulator.client()
    job = client.create_job(parent=PARENT, job_id=job_id, job=script_job(text))
    assert wait_ended(client, job.name, timeout=60).status.state.name == "SUCCEEDED"
    return str(job.uid)


def _fetcher(emulator: BatchEmulator, uid: str, sleeps: list[float], **kwargs: object) -> JobLogFetcher:
    return JobLogFetcher(emulator.logging_client(), "demo-project", uid, sleep=sleeps.append, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def emulator():
    with BatchEmulator(queued_seconds=0, scheduled_seconds=0) as running:
        yield running


def test_a_long_line_is_cut_with_a_marker(emulator):
    from airflow_batchstream.logs import MAX_LINE_CHARS

    uid = _run(emulator, "long-line", "head -c 200000 /dev/zero | tr '\\0' y; echo")
    (line,) = _fetcher(emulator, uid, []).fetch(final=True)
    assert len(line) < MAX_LINE_CHARS + 100 and line.endswith("more characters]")


def test_the_task_log_has_a_byte_budget(emulator):
    from airflow_batchstream.logs import MAX_LOG_BYTES

    uid = _run(
        emulator,
        "big-lines",
        "i=0; while [ $i -lt 700 ]; do head -c 20000 /dev/zero | tr '\\0' z; echo; i=$((i+1)); done",
    )
    fetcher = _fetcher(emulator, uid, [], max_lines=10_000)
    shown = fetcher.fetch(final=True)
    assert sum(len(line.encode()) for line in shown) <= MAX_LOG_BYTES
    assert "were not shown" in (fetcher.skipped_message() or "")


def test_no_page_is_read_past_the_cap(emulator):
    uid = _run(emulator, "many-lines", "seq 1 2500")
    for max_lines, pages in ((0, 0), (10, 1)):
        sleeps: list[float] = []
        fetcher = _fetcher(emulator, uid, sleeps, max_lines=max_lines)
        assert len(fetcher.fetch(final=True)) == max_lines
        assert fetcher.fetch(final=True) == []
        assert (fetcher.requests, sleeps) == (pages, [])
    assert "were not shown" in (fetcher.skipped_message() or "")


def test_control_characters_are_stripped(emulator):
    uid = _run(emulator, "escapes", "printf '\\033[2J\\033[31mred\\033[0m\\tcol\\rFAKE\\007\\n'")
    assert _fetcher(emulator, uid, []).fetch(final=True) == ["[task 0] red\tcolFAKE"]


def test_an_embedded_newline_cannot_forge_a_line():
    from airflow_batchstream.logs import TaskLogLine

    line = TaskLogLine(0, "i", 0, "ok\n[task 1] Batch job x ended SUCCEEDED")
    assert line.render() == "[task 0] ok[task 1] Batch job x ended SUCCEEDED"
