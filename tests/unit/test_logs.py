"""Pure parts of the log reader: task index, cursor and dedup, filter, cap, read interval."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
from google.cloud.logging_v2.types import LogEntry

from airflow_batchstream.logs import (
    JobLogFetcher,
    LogCursor,
    TaskLogLine,
    line_from_entry,
    read_filter,
    rfc3339,
    task_index,
)

UID = "job-1a2b-3c4d"
T0 = 1_800_000_000_000_000_000


def _entry(n: int, text: str, index: int = 0, ts: int | None = None) -> LogEntry:
    entry = LogEntry(
        insert_id=f"id-{n:04d}",
        text_payload=text + "\n",
        labels={"job_uid": UID, "task_id": f"task/{UID}-group0-{index}/0/0"},
    )
    LogEntry.pb(entry).timestamp.FromNanoseconds(T0 + (n if ts is None else ts) * 1_000_000)
    return entry


class _Client:
    """Serves ``ListLogEntries`` from a list, honouring the filter's timestamp bound and page size."""

    def __init__(self, entries: list[LogEntry]) -> None:
        self.entries = entries
        self.requests: list[dict] = []

    def list_log_entries(self, request, retry, timeout):
        self.requests.append(request)
        match = re.search(r'timestamp>="([^"]+)"', request["filter"])
        since = LogEntry(timestamp=match.group(1)).timestamp if match else None
        rows = sorted(
            (e for e in self.entries if since is None or e.timestamp >= since),
            key=lambda e: (e.timestamp, e.insert_id),
        )
        size = request["page_size"]
        chunks = [rows[i : i + size] for i in range(0, len(rows), size)] or [[]]
        pages = [
            SimpleNamespace(entries=chunk, next_page_token="more" if i + 1 < len(chunks) else "")
            for i, chunk in enumerate(chunks)
        ]
        return SimpleNamespace(pages=iter(pages))


def _fetcher(client, **kwargs) -> JobLogFetcher:
    clock = kwargs.pop("clock", lambda: 0.0)
    return JobLogFetcher(client, "p", UID, clock=clock, sleep=lambda s: None, **kwargs)


def test_task_index_comes_from_the_task_id_label():
    assert task_index({"task_id": f"task/{UID}-group0-12/0/0"}) == 12
    assert task_index({"task_id": f"{UID}-group0-3"}) == 3
    assert task_index({"task_id": "7"}) == 7
    assert task_index({"hostname": "vm"}) is None


def test_line_from_entry_keeps_text_and_prefixes_the_task():
    line = line_from_entry(_entry(1, "hello world", index=4))
    assert line == TaskLogLine(T0 + 1_000_000, "id-0001", 4, "hello world")
    assert line.render() == "[task 4] hello world"
    assert TaskLogLine(0, "x", None, "t").render() == "[task ?] t"


def test_rfc3339_keeps_nanoseconds():
    assert rfc3339(T0 + 5) == "2027-01-15T08:00:00.000000005Z"


def test_cursor_admits_each_insert_id_once_in_timestamp_order():
    cursor = LogCursor(window_seconds=30)
    a, b, c = (TaskLogLine(T0 + i, f"id{i}", 0, str(i)) for i in range(3))
    assert cursor.admit([b, a]) == [a, b]
    assert cursor.admit([a, b, c]) == [c]
    late = TaskLogLine(T0 + 1, "id-late", 1, "late")  # written earlier, visible only now
    assert cursor.admit([late]) == [late]
    resumed = LogCursor.from_dict(json.loads(json.dumps(cursor.to_dict())))
    assert resumed.admit([a, b, c, late]) == []


def test_read_filter_names_the_log_the_job_and_from_where():
    cursor = LogCursor(window_seconds=30)
    assert read_filter("p", UID, cursor) == (
        f'logName="projects/p/logs/batch_task_logs" AND labels.job_uid="{UID}"'
    )
    cursor.admit([TaskLogLine(T0 + 30_000_000_000, "x", 0, "x")])
    assert read_filter("p", UID, cursor).endswith(' AND timestamp>="2027-01-15T08:00:00.000000000Z"')


def test_repeated_fetches_return_only_new_lines_in_order():
    client = _Client([_entry(n, f"line {n}", index=n % 2) for n in range(3)])
    fetcher = _fetcher(client, min_interval=0)
    assert fetcher.fetch() == ["[task 0] line 0", "[task 1] line 1", "[task 0] line 2"]
    assert fetcher.fetch() == []
    client.entries += [_entry(n, f"line {n}") for n in range(3, 5)]
    assert fetcher.fetch() == ["[task 0] line 3", "[task 0] line 4"]


def test_the_cap_is_honoured_and_reading_stops_there():
    fetcher = _fetcher(_Client([_entry(n, f"line {n}") for n in range(10)]), max_lines=4)
    assert len(fetcher.fetch(final=True)) == 4
    assert fetcher.capped and fetcher.fetch(final=True) == []
    assert "More lines of job output were not shown" in (fetcher.skipped_message("https://logs") or "")
    assert _fetcher(_Client([]), max_lines=4).skipped_message() is None
    with pytest.raises(ValueError, match="max_log_lines"):
        _fetcher(_Client([]), max_lines=-1)


def test_live_reads_keep_the_minimum_interval_but_a_final_read_does_not():
    now = [0.0]
    client = _Client([_entry(0, "a")])
    fetcher = _fetcher(client, min_interval=10, clock=lambda: now[0])
    assert fetcher.fetch() == ["[task 0] a"]
    client.entries.append(_entry(1, "b"))
    now[0] = 5.0
    assert fetcher.fetch() == []
    assert len(client.requests) == 1
    assert fetcher.fetch(final=True) == ["[task 0] b"]
    assert len(client.requests) == 2


def test_a_drain_pages_through_everything_and_a_live_read_moves_past_seen_pages():
    entries = [_entry(n, f"l{n}", ts=0) for n in range(2500)]  # one timestamp: the window holds all
    fetcher = _fetcher(_Client(entries))
    lines = fetcher.fetch(final=True)
    assert lines == [f"[task 0] l{n}" for n in range(2500)]
    client = _Client(entries)
    live = _fetcher(client, min_interval=0)
    got = live.fetch()
    assert len(got) == 1000
    client.entries = [*entries, _entry(9999, "new", ts=0)]
    assert live.fetch() == [f"[task 0] l{n}" for n in range(1000, 2000)]
