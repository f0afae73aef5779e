"""Read a Batch job's task output from Cloud Logging, a little at a time, each line exactly once.

Batch writes what every runnable prints to the ``batch_task_logs`` log of the job's project, with
the labels ``job_uid`` and ``task_id`` (``task/<job-uid>-group0-<index>/<retry>/<runnable>``) on
every entry (Batch docs "Analyze a job using logs": https://cloud.google.com/batch/docs/analyze-job-using-logs).
We list them with the real ``google-cloud-logging`` GAPIC client (``ListLogEntries``), oldest first.

Reading is bounded three ways:

* **Quota.** ``entries.list`` is limited to 60 requests per minute per project, and that limit cannot
  be raised (Cloud Logging "Quotas and limits", https://cloud.google.com/logging/quotas; the older page
  said "1 per second, per project"). A live read is one request at most every ``min_interval`` seconds
  (default 10 s: a handful of tasks watching jobs at once stay well inside the quota); the final drain
  pages at most once a second.
* **Lines and bytes.** After ``max_lines`` lines, or :data:`MAX_LOG_BYTES` bytes, reading stops (no
  page is read only to count) and the fetcher says that more lines were not shown. A line is cut at
  :data:`MAX_LINE_CHARS` characters, with a marker; control characters other than tab (ANSI escapes,
  embedded newlines, carriage returns) are stripped, so a job cannot forge or garble task-log lines.
* **Pages.** A final drain reads at most :data:`MAX_DRAIN_PAGES` pages of :data:`PAGE_SIZE` entries.

Entries become readable a little after they are written, and not always in timestamp order. The
cursor therefore asks again for :data:`LATE_WINDOW_SECONDS` before the newest timestamp it has seen
and drops the insert ids it has already shown: no line twice, and none lost that arrives within the
window.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow_batchstream.api_version import emulator_host
from airflow_batchstream.urls import task_log_filter

#: Largest page ``ListLogEntries`` serves (LogEntries.list ``pageSize``: "maximum is 1000").
PAGE_SIZE = 1000
#: The ``entries.list`` quota: requests per minute per project (see module docstring).
READ_QUOTA_PER_MINUTE = 60
#: Default seconds between two live reads of one job's logs.
DEFAULT_MIN_INTERVAL = 10.0
#: Default cap on the lines shown per task try.
DEFAULT_MAX_LOG_LINES = 10_000
#: Pages one final drain may read.
MAX_DRAIN_PAGES = 50
#: Pages one live read may read, while the earlier ones held only lines already shown.
MAX_LIVE_PAGES = 3
#: How far before the newest seen timestamp each read starts again, for late-arriving entries.
LATE_WINDOW_SECONDS = 30.0
#: Longest line shown, in characters; the rest is cut with a marker.
MAX_LINE_CHARS = 16_384
#: Bytes of job output one task log shows at most.
MAX_LOG_BYTES = 8 * 1024 * 1024

_ESCAPE_SEQUENCE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def clean_text(text: str, limit: int = MAX_LINE_CHARS) -> str:
    """
    Return a line fit for the task log: escape sequences and control characters (not tab) removed, cut
    at ``limit`` characters with a marker.

    :param text: the line as the job wrote it.
    :param limit: the most characters kept.
    """
    text = _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))
    if len(text) > limit:
        return f"{text[:limit]} [... line cut: {len(text) - limit} more characters]"
    return text


_TASK_INDEX = re.compile(r"-group\d+-(\d+)(?:/|$)")


def task_index(labels: Mapping[str, str]) -> int | None:
    """
    Return the task index a Batch log entry's labels name, or ``None`` when they name none.

    :param labels: the entry's labels; ``task_id`` looks like ``task/<job-uid>-group0-<index>/0/0``.
    """
    task_id = labels.get("task_id", "")
    match = _TASK_INDEX.search(task_id)
    if match:
        return int(match.group(1))
    return int(task_id) if task_id.isdigit() else None


def rfc3339(nanoseconds: int) -> str:
    """
    Format epoch nanoseconds as the RFC 3339 timestamp a Logging filter compares with.

    :param nanoseconds: nanoseconds since the epoch.
    """
    seconds, nanos = divmod(nanoseconds, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"


@dataclass(frozen=True)
class TaskLogLine:
    """
    One line of task output.

    :param timestamp_ns: the entry's timestamp, in epoch nanoseconds.
    :param insert_id: the entry's unique id within its log.
    :param task_index: the task that wrote it, when its labels say.
    :param text: the line, without its trailing newline.
    """

    timestamp_ns: int
    insert_id: str
    task_index: int | None
    text: str

    def render(self) -> str:
        """Return the line as the task log shows it: ``[task 3] text``."""
        index = "?" if self.task_index is None else self.task_index
        return f"[task {index}] {clean_text(self.text)}"


def line_from_entry(entry: Any) -> TaskLogLine:
    """
    Turn a ``google.cloud.logging_v2`` ``LogEntry`` into a :class:`TaskLogLine`.

    :param entry: the entry ``ListLogEntries`` returned.
    """
    pb = type(entry).pb(entry)
    if pb.HasField("json_payload"):
        payload = dict(entry.json_payload)
        text = str(payload["message"]) if "message" in payload else json.dumps(payload, default=str)
    else:
        text = entry.text_payload
    return TaskLogLine(
        timestamp_ns=pb.timestamp.ToNanoseconds(),
        insert_id=entry.insert_id,
        task_index=task_index(entry.labels),
        text=text.rstrip("\n"),
    )


class LogCursor:
    """
    Where reading got to: the newest timestamp seen, and the insert ids seen within the late window.

    :param newest_ns: the newest timestamp seen, in epoch nanoseconds (0: nothing seen yet).
    :param seen: insert id → timestamp of the entries already shown within the window.
    :param window_seconds: how far back each read starts again.
    """

    def __init__(
        self,
        newest_ns: int = 0,
        seen: Mapping[str, int] | None = None,
        window_seconds: float = LATE_WINDOW_SECONDS,
    ) -> None:
        self.newest_ns = newest_ns
        self.seen = dict(seen or {})
        self.window_ns = int(window_seconds * 1e9)

    def since_ns(self) -> int | None:
        """Return the timestamp the next read starts at, or ``None`` to read from the beginning."""
        return self.newest_ns - self.window_ns if self.newest_ns else None

    def admit(self, lines: Iterable[TaskLogLine]) -> list[TaskLogLine]:
        """
        Return the lines not shown before, in timestamp order, and remember them.

        :param lines: lines just read, in any order, possibly some already shown.
        """
        fresh = []
        for line in sorted(lines, key=lambda item: (item.timestamp_ns, item.insert_id)):
            if line.insert_id in self.seen:
                continue
            since = self.since_ns()
            if since is not None and line.timestamp_ns < since:
                continue  # older than anything a read could still return: already accounted for
            self.seen[line.insert_id] = line.timestamp_ns
            self.newest_ns = max(self.newest_ns, line.timestamp_ns)
            fresh.append(line)
        floor = self.since_ns() or 0
        self.seen = {key: ts for key, ts in self.seen.items() if ts >= floor}
        return fresh

    def to_dict(self) -> dict[str, Any]:
        """Return the cursor as plain JSON values."""
        return {"newest_ns": self.newest_ns, "seen": dict(self.seen)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> LogCursor:
        """
        Rebuild a cursor from :meth:`to_dict`'s value.

        :param data: the dict, or ``None`` for a fresh cursor.
        """
        data = data or {}
        return cls(int(data.get("newest_ns", 0)), data.get("seen"))


def read_filter(project_id: str, job_uid: str, cursor: LogCursor) -> str:
    """
    Return the ``ListLogEntries`` filter of a job's task output from where ``cursor`` got to.

    :param project_id: the project the job runs in.
    :param job_uid: the job's uid.
    :param cursor: what has been read already.
    """
    query = task_log_filter(project_id, job_uid)
    since = cursor.since_ns()
    if since is not None:
        query += f' AND timestamp>="{rfc3339(max(since, 0))}"'
    return query


def build_logging_client(credentials: Any = None) -> Any:
    """
    Build a ``LoggingServiceV2Client``, on plaintext gRPC when ``BATCH_EMULATOR_HOST`` is set.

    :param credentials: Google credentials for the real API; unused with the emulator.
    """
    from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client

    host = emulator_host()
    if host:
        from google.cloud.logging_v2.services.logging_service_v2.transports import (
            LoggingServiceV2GrpcTransport,
        )

        from airflow_batchstream.emulator_client import emulator_channel

        transport = LoggingServiceV2GrpcTransport(channel=emulator_channel(host))
        return LoggingServiceV2Client(transport=transport)
    from airflow.providers.google.common.consts import CLIENT_INFO

    return LoggingServiceV2Client(credentials=credentials, client_info=CLIENT_INFO)


def logs_to_cloud_logging(job: Any) -> bool:
    """
    Tell whether a job sends its task output to Cloud Logging (``logsPolicy.destination``).

    :param job: a ``Job`` proto of either API version.
    """
    return job.logs_policy.destination.name == "CLOUD_LOGGING"


class JobLogFetcher:
    """
    Return a job's new task output lines on each :meth:`fetch`, in order, each line once.

    :param client: a ``LoggingServiceV2Client`` (see :func:`build_logging_client`).
    :param project_id: the project the job runs in.
    :param job_uid: the job's uid.
    :param max_lines: lines to show at most; once reached (or :data:`MAX_LOG_BYTES`), reading stops.
    :param min_interval: seconds between two live reads.
    :param log: where to warn when the logs cannot be read; the module's logger by default.
    :param state: :meth:`to_dict` of an earlier fetcher of the same job, to go on from there.
    :param clock: monotonic clock, for the read interval.
    :param sleep: how to wait between the pages of a drain.
    """

    def __init__(
        self,
        client: Any,
        project_id: str,
        job_uid: str,
        *,
        max_lines: int = DEFAULT_MAX_LOG_LINES,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        log: Any = None,
        state: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_lines < 0:
            raise ValueError(f"max_log_lines must be 0 or more, not {max_lines}")
        state = state or {}
        self.client = client
        self.project_id = project_id
        self.job_uid = job_uid
        self.max_lines = max_lines
        self.min_interval = min_interval
        self.log = log or logging.getLogger(__name__)
        self.cursor = LogCursor.from_dict(state.get("cursor"))
        self.shown: int = int(state.get("shown", 0))
        self.shown_bytes: int = int(state.get("shown_bytes", 0))
        #: Whether the cap was reached: nothing more is read.
        self.capped: bool = bool(state.get("capped", max_lines == 0))
        #: Whether a line was left out because of the cap.
        self.more: bool = bool(state.get("more", False))
        self.requests = 0
        self.disabled = False
        self._clock = clock
        self._sleep = sleep
        self._last_read: float | None = None

    def fetch(self, final: bool = False) -> list[str]:
        """
        Return the lines written since the last call, rendered with their task index.

        A live call reads nothing when the last read was less than ``min_interval`` ago, and goes
        past its first page only while pages hold nothing new (up to :data:`MAX_LIVE_PAGES`);
        ``final=True`` reads every page that is left (up to :data:`MAX_DRAIN_PAGES`), for when the
        job has ended or the task resumes. Pages after the first are a second apart (the quota).

        :param final: read everything that is left, now.
        """
        if self.disabled or self.capped:
            return []
        now = self._clock()
        if not final and self._last_read is not None and now - self._last_read < self.min_interval:
            return []
        shown: list[str] = []
        for page_lines, more in self._pages(MAX_DRAIN_PAGES if final else MAX_LIVE_PAGES):
            fresh = self.cursor.admit(page_lines)
            for line in fresh:
                text = line.render()
                size = len(text.encode("utf-8", errors="replace"))
                if self.shown >= self.max_lines or self.shown_bytes + size > MAX_LOG_BYTES:
                    self.capped = self.more = True
                    break
                self.shown += 1
                self.shown_bytes += size
                shown.append(text)
            if self.capped or not more or (fresh and not final):
                break
            self._sleep(60.0 / READ_QUOTA_PER_MINUTE)
        self._last_read = self._clock()
        return shown

    def _pages(self, max_pages: int) -> Iterator[tuple[list[TaskLogLine], bool]]:
        """Yield each page's lines and whether another page follows; stop quietly on API errors."""
        from google.api_core import exceptions as api_exceptions

        from airflow_batchstream.retry import is_transient

        request = {
            "resource_names": [f"projects/{self.project_id}"],
            "filter": read_filter(self.project_id, self.job_uid, self.cursor),
            "order_by": "timestamp asc",
            "page_size": PAGE_SIZE,
        }
        try:
            pager = self.client.list_log_entries(request=request, retry=None, timeout=60.0)
            for number, page in enumerate(pager.pages):
                self.requests += 1
                more = bool(page.next_page_token) and number + 1 < max_pages
                yield [line_from_entry(entry) for entry in page.entries], more
                if not more:
                    return
        except api_exceptions.GoogleAPICallError as error:
            if is_transient(error):
                self.log.info("Could not read the job's logs this time (%s); will try again.", error)
            else:
                self.disabled = True
                self.log.warning(
                    "Cannot read the job's logs from Cloud Logging (%s); not fetching them for this task. "
                    "The job goes on; its logs stay in Cloud Logging.",
                    error,
                )

    def skipped_message(self, logs_url: str | None = None) -> str | None:
        """
        Say that the cap kept lines out of the task log, or ``None`` when it kept none out.

        :param logs_url: where the whole output can be read.
        """
        if not self.more:
            return None
        where = f": {logs_url}" if logs_url else ""
        return (
            f"More lines of job output were not shown (max_log_lines={self.max_lines}, at most "
            f"{MAX_LOG_BYTES // (1024 * 1024)} MiB); all of it is in Cloud Logging{where}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return what this fetcher has read and shown, as plain JSON values (for deferral)."""
        return {
            "cursor": self.cursor.to_dict(),
            "shown": self.shown,
            "shown_bytes": self.shown_bytes,
            "capped": self.capped,
            "more": self.more,
        }


def fetcher_for_hook(hook: Any, project_id: str, job_uid: str, **kwargs: Any) -> JobLogFetcher:
    """
    Build a :class:`JobLogFetcher` with the credentials of a Google hook (none with the emulator).

    :param hook: a ``GoogleBaseHook`` such as ``BatchStreamHook``.
    :param project_id: the project the job runs in.
    :param job_uid: the job's uid.
    :param kwargs: :class:`JobLogFetcher`'s keyword arguments (``max_lines``, ``log``, ``state``, ...).
    """
    credentials = None if emulator_host() else hook.get_credentials()
    return JobLogFetcher(build_logging_client(credentials), project_id, job_uid, **kwargs)
