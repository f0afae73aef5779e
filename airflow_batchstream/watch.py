"""What the task log shows while a job runs and when it ends: progress, the job's output, its times.

The operator's waits call :class:`JobWatcher` (synchronous wait) or :func:`report_resumed`
(a deferred task resuming); both keep their state in plain JSON values (:meth:`JobWatcher.to_dict`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_batchstream.logs import JobLogFetcher, fetcher_for_hook, logs_to_cloud_logging
from airflow_batchstream.progress import ProgressTracker


def timing_line(summary: Mapping[str, Any]) -> str:
    """
    Describe how long a finished job queued, took to start and ran.

    :param summary: the job's summary (:func:`airflow_batchstream.summary.summarize_job`).
    """

    def seconds(key: str) -> str:
        value = summary.get(key)
        return "unknown" if value is None else f"{value:.1f} s"

    how = "image streaming" if summary.get("image_streaming") else "image pull"
    return (
        f"Batch job {summary['job_id']} ended {summary['state']}: queued {seconds('queued_seconds')}, "
        f"started in {seconds('startup_seconds')} ({how}), ran {seconds('run_seconds')}."
    )


class JobWatcher:
    """
    Write a job's progress and output to a task log during a wait, each once.

    :param log: the task's logger.
    :param fetcher: the job's log reader, or ``None`` when logs are not fetched.
    :param progress: the tracker of state and task counts; a fresh one by default.
    """

    def __init__(
        self, log: Any, fetcher: JobLogFetcher | None, progress: ProgressTracker | None = None
    ) -> None:
        self.log = log
        self.fetcher = fetcher
        self.progress = progress or ProgressTracker()

    @classmethod
    def for_job(cls, log: Any, hook: Any, job: Any, fetch_logs: bool, max_log_lines: int) -> JobWatcher:
        """
        Build the watcher of a job just created (or reattached).

        :param log: the task's logger.
        :param hook: the ``BatchStreamHook`` (its credentials read the logs).
        :param job: the ``Job`` as CreateJob or GetJob returned it.
        :param fetch_logs: read the job's task output into the task log.
        :param max_log_lines: lines of output to show at most.
        """
        fetcher = None
        if fetch_logs and logs_to_cloud_logging(job):
            project_id = job.name.split("/")[1]
            fetcher = fetcher_for_hook(hook, project_id, job.uid, max_lines=max_log_lines, log=log)
        elif fetch_logs:
            log.info(
                "Job %s does not send its output to Cloud Logging (logsPolicy.destination is not "
                "CLOUD_LOGGING); its output will not appear here.",
                job.name,
            )
        return cls(log, fetcher)

    def observe(self, job: Any) -> None:
        """
        Log a progress line if the job's state or task counts changed, then any new output lines.

        :param job: the ``Job`` as the last GetJob returned it.
        """
        line = self.progress.update_from_job(job)
        if line:
            self.log.info("%s", line)
        if self.fetcher is not None and self.progress.state == "RUNNING":  # no output before that
            for text in self.fetcher.fetch():
                self.log.info("%s", text)

    def finish(self, summary: Mapping[str, Any]) -> None:
        """
        Log the last progress, every output line left, how many the cap hid, and the job's times.

        :param summary: the ended job's summary (:func:`airflow_batchstream.summary.summarize_job`).
        """
        line = self.progress.update(summary["job_name"], summary["state"], summary["task_counts"])
        if line:
            self.log.info("%s", line)
        if self.fetcher is not None:
            for text in self.fetcher.fetch(final=True):
                self.log.info("%s", text)
            note = self.fetcher.skipped_message(summary.get("logs_url"))
            if note:
                self.log.warning("%s", note)
        self.log.info("%s", timing_line(summary))

    def to_dict(self) -> dict[str, Any]:
        """Return the progress and log-reading state as plain JSON values (to carry across deferral)."""
        return {
            "progress": self.progress.to_dict(),
            "logs": self.fetcher.to_dict() if self.fetcher is not None else None,
        }


def report_resumed(
    log: Any,
    hook: Any,
    summary: Mapping[str, Any],
    fetch_logs: bool,
    max_log_lines: int,
    state: Mapping[str, Any] | None = None,
) -> JobWatcher:
    """
    For a task resuming after deferral: log the job's output since it started, then its times.

    Lines already shown before deferring (``state``, a :meth:`JobWatcher.to_dict` value) are not
    shown again, and the line cap counts them.

    :param log: the task's logger.
    :param hook: the ``BatchStreamHook`` (its credentials read the logs).
    :param summary: the ended job's summary, as the trigger's event carries it.
    :param fetch_logs: read the job's task output into the task log.
    :param max_log_lines: lines of output to show at most.
    :param state: what was shown before deferring, if anything.
    """
    state = state or {}
    fetcher = None
    if fetch_logs:
        project_id = summary["job_name"].split("/")[1]
        fetcher = fetcher_for_hook(
            hook, project_id, summary["uid"], max_lines=max_log_lines, log=log, state=state.get("logs")
        )
    watcher = JobWatcher(log, fetcher, ProgressTracker.from_dict(state.get("progress")))
    watcher.finish(summary)
    return watcher
