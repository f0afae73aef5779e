"""The emulator's data model: states, errors, timings, scenarios, job and operation records,
the status-event texts the real service writes, and small shared helpers (paging, timestamps)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.cloud import batch_v1alpha

from airflow_batchstream.emulator.logs import LogLine

JobState = batch_v1alpha.JobStatus.State
TaskState = batch_v1alpha.TaskStatus.State

JOB_STATES: dict[str, int] = {
    s.name: int(s) for s in JobState.__members__.values() if s.name != "STATE_UNSPECIFIED"
}
TASK_STATES: dict[str, int] = {
    s.name: int(s) for s in TaskState.__members__.values() if s.name != "STATE_UNSPECIFIED"
}
ACTIVE_TASK_STATES = frozenset({int(TaskState.ASSIGNED), int(TaskState.RUNNING)})
TERMINAL_JOB_STATES = frozenset({int(JobState.SUCCEEDED), int(JobState.FAILED), int(JobState.CANCELLED)})

# Protobuf classes behind the proto-plus wrappers: the engine works on raw messages (fast).
CLOUD_LOGGING = int(batch_v1alpha.LogsPolicy.Destination.CLOUD_LOGGING)

JobPb: Any = batch_v1alpha.Job.pb()
TaskPb: Any = batch_v1alpha.Task.pb()
CreateJobRequestPb: Any = batch_v1alpha.CreateJobRequest.pb()
OperationMetadataPb: Any = batch_v1alpha.OperationMetadata.pb()
CancelJobResponsePb: Any = batch_v1alpha.CancelJobResponse.pb()

JOB_ID_RE = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
PARENT_RE = re.compile(r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)$")
JOB_NAME_RE = re.compile(r"^projects/[^/]+/locations/[^/]+/jobs/[^/]+$")
TASK_GROUP_RE = re.compile(
    r"^(?P<job>projects/[^/]+/locations/[^/]+/jobs/[^/]+)/taskGroups/(?P<group>[^/]+)$"
)
TASK_NAME_RE = re.compile(
    r"^(?P<group>projects/[^/]+/locations/[^/]+/jobs/[^/]+/taskGroups/[^/]+)/tasks/(?P<index>\d+)$"
)

REQUEST_ID_WINDOW_SECONDS = 3600.0
TIMEOUT_EXIT_CODE = 50005
PREEMPTION_EXIT_CODE = 50001
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
GROUP_ID = "group0"
#: The label Batch adds to every job ("Organize resources using labels"); a job may not set it.
JOB_ID_LABEL = "batch-job-id"
#: ``ComputeResource.cpu_milli`` when a task spec leaves it out (the field's documented default).
DEFAULT_CPU_MILLI = 2000
#: The machine type reported in ``status.task_groups[...].instances`` when the job names none (our choice:
#: Batch picks one; its choice is not documented).
DEFAULT_MACHINE_TYPE = "e2-standard-4"
#: The key of a structured output line that adds a custom status event ("Configure custom status events").
CUSTOM_EVENT_KEY = "batch/custom/event"

# Labels a job may carry to ask the emulator for a scenario (useful from outside the process).
LABEL_EXIT_CODE = "emulator-exit-code"
LABEL_HOLD = "emulator-hold"
LABEL_RUN_SECONDS = "emulator-run-seconds"


class EmulatorError(Exception):
    """An error the gRPC layer turns into a status code.

    :param code: the gRPC status code to return.
    :param message: the human-readable detail.
    """

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Timings:
    """How long each simulated phase lasts, in seconds.

    :param queued_seconds: time a job stays QUEUED.
    :param scheduled_seconds: time a job stays SCHEDULED before its first task runs.
    :param run_seconds: time a simulated container runnable runs.
    :param cancel_seconds: time a job stays CANCELLATION_IN_PROGRESS.
    :param delete_seconds: time a job stays DELETION_IN_PROGRESS before it is gone.
    """

    queued_seconds: float = 0.5
    scheduled_seconds: float = 0.5
    run_seconds: float = 1.0
    cancel_seconds: float = 0.3
    delete_seconds: float = 0.3

    def poll_interval(self) -> float:
        """A poll interval that notices each phase change soon: half the shortest phase, at least 0.05 s.

        The pytest plugin and ``batchstream-emulator --env-file`` give it to waiting tasks as
        ``BATCHSTREAM_MAX_POLL_INTERVAL``.
        """
        phases = [self.queued_seconds, self.scheduled_seconds, self.run_seconds]
        return max(0.05, min((p for p in phases if p > 0), default=0.0) / 2)


@dataclass(frozen=True)
class Scenario:
    """What should happen to a job's simulated work.

    :param exit_code: exit code of the simulated container runnables of the affected tasks.
    :param task_index: the affected task; ``None`` affects every task.
    :param run_seconds: how long each simulated container runs (``None``: the emulator default).
    :param hold_in_queue: keep the job QUEUED until :meth:`Engine.release_job` is called.
    """

    exit_code: int = 0
    task_index: int | None = 0
    run_seconds: float | None = None
    hold_in_queue: bool = False

    def exit_code_for(self, task_index: int) -> int:
        """Exit code of a simulated container in the given task.

        :param task_index: the task's index in its group.
        """
        if self.task_index is None or self.task_index == task_index:
            return self.exit_code
        return 0


@dataclass
class Event:
    time: float
    description: str
    job_state: int | None = None
    task_index: int | None = None
    task_state: int | None = None
    exit_code: int | None = None
    job_level: bool = True
    type: str = "STATUS_CHANGED"


@dataclass
class Operation:
    name: str
    target: str
    verb: str
    api_version: str
    create_time: float
    done_time: float
    requested_cancellation: bool = False


@dataclass
class JobRecord:
    name: str
    job_id: str
    parent: str
    location: str
    uid: str
    create_time: float
    spec: Any
    labels: dict[str, str]
    task_count: int
    parallelism: int
    scenario: Scenario
    request_id: str = ""
    events: list[Event] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    held: bool = False
    leave_queue: float | None = None
    stopped: bool = False
    gone_at: float | None = None
    cancel_op: Operation | None = None
    delete_op: Operation | None = None
    logs: list[LogLine] = field(default_factory=list)
    log_bytes: int = 0
    log_capped: bool = False
    stop_event: threading.Event = field(default_factory=threading.Event)
    procs: set[subprocess.Popen[bytes]] = field(default_factory=set)
    driver: threading.Thread | None = None
    cache_key: tuple[int, int] | None = None
    cache_bytes: bytes = b""


def to_ts(msg: Any, t: float) -> None:
    msg.FromNanoseconds(int(t * 1e9))


def instance_for(job: JobRecord, task_index: int) -> str:
    digest = hashlib.sha256(f"{job.uid}/{task_index}".encode()).hexdigest()
    return f"zones/{job.location}-a/instances/{int(digest[:15], 16)}"


def job_event(job: JobRecord, t: float, old: int, new: int, extra: str = "") -> Event:
    text = f"Job state is set from {JobState(old).name} to {JobState(new).name} for job {job.name}.{extra}"
    return Event(t, text, job_state=new)


def task_event(
    job: JobRecord, t: float, index: int, old: int, new: int, exit_code: int | None = None
) -> Event:
    where = instance_for(job, index)
    text = f"Task state is updated from {TaskState(old).name} to {TaskState(new).name} on {where}"
    if exit_code is not None and new == TaskState.FAILED:
        text += f" with exit code {exit_code}"
    text += "."
    return Event(
        t,
        text,
        task_index=index,
        task_state=new,
        exit_code=exit_code,
        job_level=new == TaskState.FAILED,
    )


def runnable_event(t: float, index: int, description: str) -> Event:
    """A task-level custom status event (a runnable's display name, a barrier, a structured log line).

    :param t: when it happened.
    :param index: the task it belongs to.
    :param description: the event's text.
    """
    return Event(t, description, task_index=index, job_level=False, type="CUSTOM_EVENT")


def runnable_started(name: str) -> str:
    """The custom status event text when a task starts a runnable with a display name.

    :param name: the runnable's ``display_name``.
    """
    return f"Runnable {name} started."


def runnable_finished(name: str, exit_code: int) -> str:
    """The custom status event text when a task finishes a runnable with a display name.

    :param name: the runnable's ``display_name``.
    :param exit_code: the runnable's exit code.
    """
    return f"Runnable {name} finished with exit code {exit_code}."


def barrier_reached(name: str) -> str:
    """The custom status event text when a task reaches a barrier runnable with a display name.

    :param name: the barrier's ``display_name``.
    """
    return f"Barrier {name} reached."


def custom_event_of(text: str) -> str | None:
    """The description of a ``{"batch/custom/event": "..."}`` output line, or ``None`` for other lines.

    :param text: one output line of a task.
    """
    stripped = text.strip()
    if not (stripped.startswith("{") and CUSTOM_EVENT_KEY in stripped):
        return None
    try:
        document = json.loads(stripped)
    except ValueError:
        return None
    value = document.get(CUSTOM_EVENT_KEY) if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


def failed_job_extra(index: int, code: int) -> str:
    return (
        " Job failed due to task failure. "
        f"Specifically, task with index {index} failed with exit code {code}."
    )


def fill_status_event(msg: Any, event: Event) -> None:
    msg.type_ = event.type
    msg.description = event.description
    to_ts(msg.event_time, event.time)
    if event.task_state is not None:
        msg.task_state = event.task_state
    if event.exit_code is not None:
        msg.task_execution.exit_code = event.exit_code


def seconds_of(duration: Any) -> float:
    return float(duration.seconds) + duration.nanos / 1e9


def check_request_id(request_id: str) -> None:
    try:
        parsed = uuid.UUID(request_id)
    except ValueError:
        parsed = None
    if parsed is None or parsed.int == 0:
        raise EmulatorError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"request_id {request_id!r} must be a non-zero UUID",
        )


def page_window(scope: str, token: str, page_size: int, total: int) -> tuple[int, int, str]:
    """Decode a page token (offset bound to the query) and encode the next one."""
    if page_size < 0:
        raise EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, "page_size must not be negative")
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    digest = hashlib.sha256(scope.encode()).hexdigest()[:8]
    start = 0
    if token:
        try:
            raw_offset, raw_digest = base64.urlsafe_b64decode(token.encode()).decode().split(":")
            start = int(raw_offset)
        except (ValueError, UnicodeDecodeError):
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT, f"page_token {token!r} is invalid"
            ) from None
        if raw_digest != digest:
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "page_token belongs to a request with another parent or filter",
            )
    end = min(start + size, total)
    next_token = base64.urlsafe_b64encode(f"{end}:{digest}".encode()).decode() if end < total else ""
    return start, end, next_token


def kill_process(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def kill_all(job: JobRecord) -> None:
    for proc in list(job.procs):
        kill_process(proc)
