"""Task output as Cloud Logging entries: writing them for a job, and answering ``ListLogEntries``.

The entry format and the filter subset are described in :mod:`.logs`. Output is bounded: a line
longer than Cloud Logging's 256 KB entry limit is cut (with a marker), and a job keeps at most
``budget`` bytes of output, then one marker line, then nothing.
"""

from __future__ import annotations

import re
from dataclasses import replace

import grpc

from airflow_batchstream.emulator.logs import (
    LogEntry,
    LogFilterError,
    LogLine,
    LogStore,
    parse_log_filter,
    parse_order_by,
)
from airflow_batchstream.emulator.model import (
    CLOUD_LOGGING,
    GROUP_ID,
    EmulatorError,
    JobRecord,
    instance_for,
    page_window,
)

#: Longest line kept, in bytes: Cloud Logging's limit on one entry ("Quotas and limits": 256 KB).
MAX_LINE_BYTES = 256 * 1024
#: Text bytes one ``ListLogEntries`` page holds at most, so it fits gRPC's default 4 MiB message.
MAX_PAGE_BYTES = 3 * 1024 * 1024
#: Default bytes of output one job keeps.
JOB_LOG_BUDGET = 16 * 1024 * 1024


def cap_line(text: str, limit: int = MAX_LINE_BYTES) -> str:
    """
    Return a line cut to ``limit`` bytes of UTF-8, with a marker saying so when it was longer.

    :param text: the line.
    :param limit: the most bytes kept.
    """
    raw = text.encode("utf-8", errors="replace")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", errors="ignore") + f" [line cut by the emulator at {limit} bytes]"


class TaskLogs:
    """The emulator's Cloud Logging side: one store of entries for every project.

    :param budget: bytes of output one job keeps.
    """

    def __init__(self, budget: int = JOB_LOG_BUDGET) -> None:
        self.store = LogStore()
        self.budget = budget

    def emit(self, job: JobRecord, line: LogLine) -> None:
        """Keep a line on the job and, when the job logs to Cloud Logging, as a log entry.

        Lines past the job's byte budget are dropped, after one line that says so.

        :param job: the job that wrote it.
        :param line: the line.
        """
        if job.log_capped:
            return
        line = replace(line, text=cap_line(line.text))
        job.log_bytes += len(line.text.encode("utf-8", errors="replace"))
        if job.log_bytes > self.budget:
            job.log_capped = True
            text = f"[the emulator keeps {self.budget} bytes of output per job; the rest is dropped]"
            line = replace(line, stream="stderr", text=text)
        job.logs.append(line)
        if job.spec.logs_policy.destination != CLOUD_LOGGING:
            return
        task_id = f"task/{job.uid}-{GROUP_ID}-{line.task_index}/{line.attempt}/0"
        labels = dict(job.labels)
        labels.update(
            {
                "job_uid": job.uid,
                "task_id": task_id,
                "hostname": instance_for(job, line.task_index).rsplit("/", 1)[-1],
            }
        )
        project = job.parent.split("/")[1]
        resource = {
            "project_id": project,
            "location": job.location,
            "namespace": "",
            "job": job.job_id,
            "task_id": task_id,
        }
        self.store.add(line.time, project, line.text, line.stream, labels, resource)

    def list(
        self,
        resource_names: list[str],
        filter_text: str,
        order_by: str,
        page_size: int,
        page_token: str,
        now: float,
    ) -> tuple[list[LogEntry], str]:
        """One page of Cloud Logging entries (``ListLogEntries``) and the next page token.

        :param resource_names: ``projects/P`` names to search (at least one).
        :param filter_text: a filter in the subset of :mod:`.logs`.
        :param order_by: ``timestamp asc`` (default) or ``timestamp desc``.
        :param page_size: the maximum number of entries (0: 100; at most 1000).
        :param page_token: the previous page's token, or empty.
        :param now: the current time; later entries are not written yet.
        """
        if not resource_names:
            raise EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, "resource_names: give at least one")
        projects = set()
        for name in resource_names:
            match = re.match(r"^projects/([^/]+)$", name)
            if match is None:
                raise EmulatorError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"resource name {name!r} is not supported; the emulator serves projects/PROJECT",
                )
            projects.add(match.group(1))
        try:
            predicate = parse_log_filter(filter_text)
            descending = parse_order_by(order_by)
        except LogFilterError as exc:
            raise EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        found = self.store.select(projects, predicate, now, descending)
        scope = "|".join(sorted(resource_names)) + "|" + filter_text + "|" + order_by
        start, end, token = page_window(scope, page_token, page_size, len(found))
        total, cut = 0, start
        while cut < end and (cut == start or total + len(found[cut].text) <= MAX_PAGE_BYTES):
            total += len(found[cut].text)
            cut += 1
        if cut < end:  # a page must fit in one gRPC message: fewer entries, and a token for the rest
            start, end, token = page_window(scope, page_token, cut - start, len(found))
        return found[start:end], token
