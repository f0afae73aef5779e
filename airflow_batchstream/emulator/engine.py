"""The emulator's job store and lifecycle engine.

Design, chosen so that thousands of live jobs cost almost nothing:

* Every job holds a time-ordered list of *events* (job state changes, task state changes).
  For simulated work (container and barrier runnables) the whole future is planned at
  creation, with future timestamps; a read shows the events whose time has come. No thread
  or timer exists per job, and the rendered bytes of a job are cached until the next event.
* Only jobs with script runnables get a driver thread, which really runs the scripts in
  subprocesses and appends events as they happen.
* Cancel, delete and fault injection truncate the future events and append new ones.

The store keeps jobs as ``google.cloud.batch.v1alpha`` protobuf messages. The ``v1``
messages the emulator serves are a wire-compatible subset of them (a unit test checks field
numbers and types), so the same bytes answer both API versions.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import hashlib
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import grpc
from google.cloud import batch_v1alpha
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, empty_pb2

from airflow_batchstream.emulator.filters import FilterError, matcher, parse_filter
from airflow_batchstream.emulator.logs import (
    LogEntry,
    LogFilterError,
    LogLine,
    LogStore,
    parse_log_filter,
    parse_order_by,
)
from airflow_batchstream.emulator.runtime import simulated_lines

JobState = batch_v1alpha.JobStatus.State
TaskState = batch_v1alpha.TaskStatus.State

JOB_STATES: dict[str, int] = {
    s.name: int(s) for s in JobState.__members__.values() if s.name != "STATE_UNSPECIFIED"
}
TASK_STATES: dict[str, int] = {
    s.name: int(s) for s in TaskState.__members__.values() if s.name != "STATE_UNSPECIFIED"
}
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
class _Event:
    time: float
    description: str
    job_state: int | None = None
    task_index: int | None = None
    task_state: int | None = None
    exit_code: int | None = None
    job_level: bool = True
    type: str = "STATUS_CHANGED"


@dataclass
class _Operation:
    name: str
    target: str
    verb: str
    api_version: str
    create_time: float
    done_time: float
    requested_cancellation: bool = False


@dataclass
class _Job:
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
    events: list[_Event] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    held: bool = False
    leave_queue: float | None = None
    stopped: bool = False
    gone_at: float | None = None
    cancel_op: _Operation | None = None
    delete_op: _Operation | None = None
    logs: list[LogLine] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)
    procs: set[subprocess.Popen[bytes]] = field(default_factory=set)
    driver: threading.Thread | None = None
    cache_key: tuple[int, int] | None = None
    cache_bytes: bytes = b""

    @property
    def has_scripts(self) -> bool:
        return any(
            r.WhichOneof("executable") == "script" for r in self.spec.task_groups[0].task_spec.runnables
        )


def _to_ts(msg: Any, t: float) -> None:
    msg.FromNanoseconds(int(t * 1e9))


def _instance_for(job: _Job, task_index: int) -> str:
    digest = hashlib.sha256(f"{job.uid}/{task_index}".encode()).hexdigest()
    return f"zones/{job.location}-a/instances/{int(digest[:15], 16)}"


def _job_event(job: _Job, t: float, old: int, new: int, extra: str = "") -> _Event:
    text = f"Job state is set from {JobState(old).name} to {JobState(new).name} for job {job.name}.{extra}"
    return _Event(t, text, job_state=new)


def _task_event(job: _Job, t: float, index: int, old: int, new: int, exit_code: int | None = None) -> _Event:
    where = _instance_for(job, index)
    text = f"Task state is updated from {TaskState(old).name} to {TaskState(new).name} on {where}"
    if exit_code is not None and new == TaskState.FAILED:
        text += f" with exit code {exit_code}"
    text += "."
    return _Event(
        t,
        text,
        task_index=index,
        task_state=new,
        exit_code=exit_code,
        job_level=new == TaskState.FAILED,
    )


def _failed_job_extra(index: int, code: int) -> str:
    return (
        " Job failed due to task failure. "
        f"Specifically, task with index {index} failed with exit code {code}."
    )


class Engine:
    """Stores jobs and operations and computes their state from the clock.

    :param timings: the phase durations.
    :param clock: a function returning the current time in epoch seconds (tests may fake it).
    """

    def __init__(self, timings: Timings | None = None, clock: Callable[[], float] = time.time) -> None:
        self.timings = timings or Timings()
        self.clock = clock
        self._lock = threading.RLock()
        self._jobs: dict[str, _Job] = {}
        self._requests: dict[tuple[str, str], tuple[str, float]] = {}
        self._operations: dict[str, _Operation] = {}
        self._op_requests: dict[tuple[str, str, str], str] = {}
        self._job_scenarios: dict[str, Scenario] = {}
        self._label_scenarios: list[tuple[dict[str, str], Scenario]] = []
        self._closed = False
        self._created = 0
        self.log_store = LogStore()

    # ------------------------------------------------------------------ jobs

    def create_job(self, request: Any) -> bytes:
        """Create a job from a ``CreateJobRequest`` message and return the serialized Job.

        :param request: a v1alpha (or wire-compatible v1) ``CreateJobRequest`` protobuf message.
        """
        match = PARENT_RE.match(request.parent)
        if match is None or match.group("location") == "-":
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"parent {request.parent!r} must look like projects/PROJECT/locations/REGION",
            )
        job_id = request.job_id or f"job-{uuid.uuid4().hex[:12]}"
        if len(job_id) > 63 or not JOB_ID_RE.match(job_id):
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"job_id {job_id!r} is invalid: at most 63 characters, start with a lowercase letter, "
                "only lowercase letters, digits and '-', and not end with '-'",
            )
        if request.request_id:
            _check_request_id(request.request_id)
        self._validate_spec(request.job)
        name = f"{request.parent}/jobs/{job_id}"
        now = self.clock()
        with self._lock:
            if request.request_id:
                seen = self._requests.get((request.parent, request.request_id))
                if seen is not None and now - seen[1] < REQUEST_ID_WINDOW_SECONDS:
                    job = self._live(seen[0], now)
                    if job is not None and job.job_id == job_id:
                        return self._render(job, now)
                    if job is not None:
                        raise EmulatorError(
                            grpc.StatusCode.ALREADY_EXISTS,
                            f"request_id {request.request_id} was already used to create {job.name}",
                        )
            if self._live(name, now) is not None:
                raise EmulatorError(grpc.StatusCode.ALREADY_EXISTS, f"Job {name} already exists")
            job = self._new_job(request, name, job_id, match.group("location"), now)
            self._jobs[name] = job
            self._created += 1
            if request.request_id:
                self._requests[(request.parent, request.request_id)] = (name, now)
            if job.scenario.hold_in_queue:
                job.held = True
            else:
                self._plan(job, now + self.timings.queued_seconds)
            return self._render(job, now)

    def _validate_spec(self, spec: Any) -> None:
        if len(spec.task_groups) == 0:
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "job.task_groups: exactly one task group is required",
            )
        if len(spec.task_groups) > 1:
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "job.task_groups: only one task group per job is supported",
            )
        group = spec.task_groups[0]
        if len(group.task_spec.runnables) == 0:
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "job.task_groups[0].task_spec.runnables: at least one runnable is required",
            )
        for i, runnable in enumerate(group.task_spec.runnables):
            path = f"job.task_groups[0].task_spec.runnables[{i}]"
            kind = runnable.WhichOneof("executable")
            if kind is None:
                raise EmulatorError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{path}: set one of container, script or barrier",
                )
            if kind == "container" and not runnable.container.image_uri:
                raise EmulatorError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{path}.container.image_uri is required",
                )
            if kind == "script" and not (runnable.script.text or runnable.script.path):
                raise EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, f"{path}.script: set text or path")
        if group.task_count < 0 or group.parallelism < 0:
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "job.task_groups[0]: task_count and parallelism must not be negative",
            )

    def _new_job(self, request: Any, name: str, job_id: str, location: str, now: float) -> _Job:
        spec = JobPb()
        spec.CopyFrom(request.job)
        spec.ClearField("status")
        spec.name = name
        spec.uid = f"j-{uuid.uuid4()}"
        _to_ts(spec.create_time, now)
        group = spec.task_groups[0]
        group.name = f"{name}/taskGroups/{GROUP_ID}"
        if len(group.task_environments):
            group.task_count = len(group.task_environments)
        if group.task_count == 0:
            group.task_count = 1
        if group.parallelism == 0:
            group.parallelism = group.task_count
        labels = dict(spec.labels)
        return _Job(
            name=name,
            job_id=job_id,
            parent=request.parent,
            location=location,
            uid=spec.uid,
            create_time=now,
            spec=spec,
            labels=labels,
            task_count=group.task_count,
            parallelism=min(group.parallelism, group.task_count),
            scenario=self._scenario_for(job_id, labels),
            request_id=request.request_id,
        )

    def get_job(self, name: str) -> bytes:
        """Return the serialized Job, or raise NOT_FOUND.

        :param name: the job's full resource name.
        """
        now = self.clock()
        with self._lock:
            return self._render(self._require(name, now), now)

    def list_jobs(
        self,
        parent: str,
        filter_text: str,
        page_size: int,
        page_token: str,
        order_by: str = "",
    ) -> tuple[list[bytes], str]:
        """Return one page of serialized jobs and the next page token.

        :param parent: ``projects/P/locations/L``; ``L`` may be ``-`` for every location.
        :param filter_text: a filter in the supported subset (see :mod:`.filters`).
        :param page_size: the maximum number of jobs to return (0: the default of 100).
        :param page_token: the token from the previous page, or empty.
        :param order_by: empty, ``create_time``, ``create_time desc``, ``name`` or ``name desc``.
        """
        match = PARENT_RE.match(parent)
        if match is None:
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"parent {parent!r} must look like projects/PROJECT/locations/REGION",
            )
        try:
            terms = parse_filter(filter_text, allowed_states=JOB_STATES)
        except FilterError as exc:
            raise EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        if order_by.strip() not in (
            "",
            "create_time",
            "create_time desc",
            "name",
            "name desc",
        ):
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"order_by {order_by!r} is not supported; use create_time or name, optionally with ' desc'",
            )
        predicate = matcher(terms, state_names=JOB_STATES)
        any_location = match.group("location") == "-"
        prefix = f"projects/{match.group('project')}/locations/"
        now = self.clock()
        with self._lock:
            selected = [
                job
                for job in list(self._jobs.values())
                if (job.parent == parent or (any_location and job.parent.startswith(prefix)))
                and self._live(job.name, now) is not None
                and predicate(job.name, job.labels, self._state(job, now))
            ]
            key = order_by.strip()
            if key.startswith("name"):
                selected.sort(key=lambda j: j.name, reverse=key.endswith("desc"))
            elif key.endswith("desc"):
                selected.reverse()
            start, end, next_token = _page(
                parent + "|" + filter_text + "|" + order_by,
                page_token,
                page_size,
                len(selected),
            )
            return [self._render(job, now) for job in selected[start:end]], next_token

    def list_tasks(
        self, parent: str, filter_text: str, page_size: int, page_token: str
    ) -> tuple[list[bytes], str]:
        """Return one page of serialized tasks of a task group.

        :param parent: ``projects/P/locations/L/jobs/J/taskGroups/group0``.
        :param filter_text: empty or ``status.state="STATE"`` terms.
        :param page_size: the maximum number of tasks to return (0: the default of 100).
        :param page_token: the token from the previous page, or empty.
        """
        match = TASK_GROUP_RE.match(parent)
        if match is None:
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"parent {parent!r} must look like projects/P/locations/L/jobs/J/taskGroups/{GROUP_ID}",
            )
        try:
            terms = parse_filter(filter_text, allowed_states=TASK_STATES, allow_labels=False)
        except FilterError as exc:
            raise EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        predicate = matcher(terms, state_names=TASK_STATES)
        now = self.clock()
        with self._lock:
            job = self._require(match.group("job"), now)
            if match.group("group") != GROUP_ID:
                raise EmulatorError(grpc.StatusCode.NOT_FOUND, f"TaskGroup {parent} not found")
            tasks = self._tasks(job, now)
            selected = [t for t in tasks if predicate("", {}, t.status.state)]
            start, end, next_token = _page(parent + "|" + filter_text, page_token, page_size, len(selected))
            return [t.SerializeToString() for t in selected[start:end]], next_token

    def get_task(self, name: str) -> bytes:
        """Return a serialized Task, or raise NOT_FOUND.

        :param name: ``projects/P/locations/L/jobs/J/taskGroups/group0/tasks/N``.
        """
        match = TASK_NAME_RE.match(name)
        if match is None:
            raise EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, f"task name {name!r} is malformed")
        group = TASK_GROUP_RE.match(match.group("group"))
        assert group is not None
        now = self.clock()
        with self._lock:
            job = self._require(group.group("job"), now)
            index = int(match.group("index"))
            if group.group("group") != GROUP_ID or index >= job.task_count:
                raise EmulatorError(grpc.StatusCode.NOT_FOUND, f"Task {name} not found")
            return bytes(self._tasks(job, now)[index].SerializeToString())

    # ------------------------------------------------------ cancel and delete

    def cancel_job(self, name: str, request_id: str, api_version: str) -> bytes:
        """Start cancelling a job; return the serialized long-running Operation.

        :param name: the job's full resource name.
        :param request_id: optional idempotency key; a repeat returns the same operation.
        :param api_version: ``"v1alpha"`` or ``"v1"``, for the operation's type URLs.
        """
        if request_id:
            _check_request_id(request_id)
        now = self.clock()
        with self._lock:
            job = self._require(name, now)
            repeat = self._op_requests.get((name, "cancel", request_id)) if request_id else None
            if repeat is not None and repeat in self._operations:
                return self._render_op(self._operations[repeat], now)
            state = self._state(job, now)
            if state == JobState.CANCELLATION_IN_PROGRESS and job.cancel_op is not None:
                return self._render_op(job.cancel_op, now)
            if state in TERMINAL_JOB_STATES or state == JobState.DELETION_IN_PROGRESS:
                raise EmulatorError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"Job {name} is {JobState(state).name} and cannot be cancelled",
                )
            self._stop(job, now)
            done = now + self.timings.cancel_seconds
            self._add(job, _job_event(job, now, state, JobState.CANCELLATION_IN_PROGRESS))
            self._add(
                job,
                _job_event(job, done, JobState.CANCELLATION_IN_PROGRESS, JobState.CANCELLED),
            )
            job.cancel_op = self._new_op(job, "cancel", api_version, now, done, request_id)
            return self._render_op(job.cancel_op, now)

    def delete_job(self, name: str, request_id: str, api_version: str) -> bytes:
        """Start deleting a job; return the serialized long-running Operation.

        :param name: the job's full resource name.
        :param request_id: optional idempotency key; a repeat returns the same operation.
        :param api_version: ``"v1alpha"`` or ``"v1"``, for the operation's type URLs.
        """
        if request_id:
            _check_request_id(request_id)
        now = self.clock()
        with self._lock:
            job = self._require(name, now)
            repeat = self._op_requests.get((name, "delete", request_id)) if request_id else None
            if repeat is not None and repeat in self._operations:
                return self._render_op(self._operations[repeat], now)
            if job.delete_op is not None:
                return self._render_op(job.delete_op, now)
            state = self._state(job, now)
            self._stop(job, now)
            job.gone_at = now + self.timings.delete_seconds
            self._add(job, _job_event(job, now, state, JobState.DELETION_IN_PROGRESS))
            job.delete_op = self._new_op(job, "delete", api_version, now, job.gone_at, request_id)
            return self._render_op(job.delete_op, now)

    # ----------------------------------------------------------- operations

    def get_operation(self, name: str) -> bytes:
        """Return a serialized ``google.longrunning.Operation``.

        :param name: the operation's resource name.
        """
        now = self.clock()
        with self._lock:
            op = self._operations.get(name)
            if op is None:
                raise EmulatorError(grpc.StatusCode.NOT_FOUND, f"Operation {name} not found")
            return self._render_op(op, now)

    def list_operations(self, name: str, page_size: int, page_token: str) -> tuple[list[bytes], str]:
        """Return one page of operations under a collection.

        :param name: ``projects/P/locations/L`` (or ``.../operations``); empty lists all.
        :param page_size: the maximum number of operations to return.
        :param page_token: the token from the previous page, or empty.
        """
        prefix = name.removesuffix("/operations")
        now = self.clock()
        with self._lock:
            ops = [op for op in self._operations.values() if op.name.startswith(prefix + "/") or not prefix]
            start, end, token = _page("ops|" + name, page_token, page_size, len(ops))
            return [self._render_op(op, now) for op in ops[start:end]], token

    def delete_operation(self, name: str) -> None:
        """Forget an operation.

        :param name: the operation's resource name.
        """
        with self._lock:
            if self._operations.pop(name, None) is None:
                raise EmulatorError(grpc.StatusCode.NOT_FOUND, f"Operation {name} not found")

    def cancel_operation(self, name: str) -> None:
        """Record a cancellation request; cancel and delete operations cannot be undone.

        :param name: the operation's resource name.
        """
        with self._lock:
            op = self._operations.get(name)
            if op is None:
                raise EmulatorError(grpc.StatusCode.NOT_FOUND, f"Operation {name} not found")
            op.requested_cancellation = True

    def operation_remaining(self, name: str) -> float:
        """Seconds until an operation is done (0 when done).

        :param name: the operation's resource name.
        """
        with self._lock:
            op = self._operations.get(name)
            if op is None:
                raise EmulatorError(grpc.StatusCode.NOT_FOUND, f"Operation {name} not found")
            return max(0.0, op.done_time - self.clock())

    def _new_op(
        self,
        job: _Job,
        verb: str,
        api_version: str,
        now: float,
        done: float,
        request_id: str,
    ) -> _Operation:
        name = f"{job.parent}/operations/operation-{int(now * 1000)}-{uuid.uuid4().hex[:12]}"
        op = _Operation(name, job.name, verb, api_version, now, done)
        self._operations[name] = op
        if request_id:
            self._op_requests[(job.name, verb, request_id)] = name
        return op

    def _render_op(self, op: _Operation, now: float) -> bytes:
        meta = OperationMetadataPb(target=op.target, verb=op.verb, api_version=op.api_version)
        meta.requested_cancellation = op.requested_cancellation
        _to_ts(meta.create_time, op.create_time)
        done = now >= op.done_time
        if done:
            _to_ts(meta.end_time, op.done_time)
        prefix = f"type.googleapis.com/google.cloud.batch.{op.api_version}"
        msg = operations_pb2.Operation(
            name=op.name,
            done=done,
            metadata=any_pb2.Any(type_url=f"{prefix}.OperationMetadata", value=meta.SerializeToString()),
        )
        if done:
            if op.verb == "cancel":
                msg.response.CopyFrom(
                    any_pb2.Any(
                        type_url=f"{prefix}.CancelJobResponse",
                        value=CancelJobResponsePb().SerializeToString(),
                    )
                )
            else:
                msg.response.Pack(empty_pb2.Empty())
        return bytes(msg.SerializeToString())

    # ------------------------------------------------------------ scenarios

    def add_scenario(
        self,
        scenario: Scenario,
        *,
        job_id: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Register a scenario for a job id that is yet to be created, or for jobs carrying labels.

        :param scenario: what should happen.
        :param job_id: apply to the job with this id (its first creation).
        :param labels: apply to every new job whose labels include all of these.
        """
        if (job_id is None) == (labels is None):
            raise ValueError("give exactly one of job_id or labels")
        with self._lock:
            if job_id is not None:
                self._job_scenarios[job_id] = scenario
            else:
                self._label_scenarios.append((dict(labels or {}), scenario))

    def clear_scenarios(self) -> None:
        """Forget every registered scenario (jobs already created keep theirs)."""
        with self._lock:
            self._job_scenarios.clear()
            self._label_scenarios.clear()

    def _scenario_for(self, job_id: str, labels: Mapping[str, str]) -> Scenario:
        if job_id in self._job_scenarios:
            return self._job_scenarios.pop(job_id)
        for wanted, scenario in self._label_scenarios:
            if all(labels.get(k) == v for k, v in wanted.items()):
                return scenario
        scenario = Scenario()
        try:
            if LABEL_EXIT_CODE in labels:
                scenario = replace(scenario, exit_code=int(labels[LABEL_EXIT_CODE]), task_index=None)
            if LABEL_RUN_SECONDS in labels:
                scenario = replace(
                    scenario,
                    run_seconds=float(labels[LABEL_RUN_SECONDS].replace("_", ".")),
                )
        except ValueError:
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"labels {LABEL_EXIT_CODE} must be an integer and {LABEL_RUN_SECONDS} a number (use _ for .)",
            ) from None
        if labels.get(LABEL_HOLD) == "true":
            scenario = replace(scenario, hold_in_queue=True)
        return scenario

    def fail_job(self, job: str, exit_code: int, task_index: int | None = 0) -> None:
        """Make a job's task fail with an exit code: later if not running yet, now if running.

        A job that does not exist yet gets the failure when it is created.

        :param job: the job id or full name.
        :param exit_code: the exit code the task reports (50001 for a spot preemption).
        :param task_index: the failing task; ``None`` for every task.
        """
        scenario = Scenario(exit_code=exit_code, task_index=task_index)
        now = self.clock()
        with self._lock:
            rec = self._find(job, now)
            if rec is None:
                self._job_scenarios[job.rsplit("/", 1)[-1]] = scenario
                return
            state = self._state(rec, now)
            if state in TERMINAL_JOB_STATES or state in (
                JobState.DELETION_IN_PROGRESS,
                JobState.CANCELLATION_IN_PROGRESS,
            ):
                raise ValueError(f"job {rec.name} is {JobState(state).name}; it can no longer fail")
            rec.scenario = replace(scenario, run_seconds=rec.scenario.run_seconds)
            if state == JobState.RUNNING:
                index = task_index or 0
                self._stop(rec, now)
                old = self._task_states(rec, now)[index]
                self._add(rec, _task_event(rec, now, index, old, TaskState.FAILED, exit_code))
                self._add(
                    rec,
                    _job_event(
                        rec,
                        now,
                        state,
                        JobState.FAILED,
                        _failed_job_extra(index, exit_code),
                    ),
                )
            elif not rec.held:
                self._truncate(rec, now)
                self._plan(
                    rec,
                    rec.leave_queue if rec.leave_queue is not None else now,
                    after=now,
                )

    def hold_job(self, job: str) -> None:
        """Keep a job QUEUED until :meth:`release_job` (a job not created yet is held when it is).

        :param job: the job id or full name.
        """
        now = self.clock()
        with self._lock:
            rec = self._find(job, now)
            if rec is None:
                self._job_scenarios[job.rsplit("/", 1)[-1]] = Scenario(hold_in_queue=True)
                return
            if self._state(rec, now) != JobState.QUEUED:
                raise ValueError(f"job {rec.name} has left QUEUED; it cannot be held")
            self._truncate(rec, now)
            rec.held = True
            rec.leave_queue = None
            rec.stop_event.set()  # a script job's driver waiting to start gives up
            rec.stop_event = threading.Event()
            rec.driver = None

    def release_job(self, job: str) -> None:
        """Let a held job continue: it leaves QUEUED now.

        :param job: the job id or full name.
        """
        now = self.clock()
        with self._lock:
            rec = self._find(job, now)
            if rec is None or not rec.held:
                raise ValueError(f"job {job} is not held")
            rec.held = False
            self._plan(rec, now)

    def vanish_job(self, job: str) -> None:
        """Delete a job at once, without an operation (a job deleted under a watcher).

        :param job: the job id or full name.
        """
        now = self.clock()
        with self._lock:
            rec = self._find(job, now)
            if rec is None:
                raise ValueError(f"job {job} does not exist")
            self._stop(rec, now)
            self._purge(rec)

    def logs(self, job: str) -> list[LogLine]:
        """The lines the job's scripts wrote so far.

        :param job: the job id or full name.
        """
        now = self.clock()
        with self._lock:
            rec = self._find(job, now)
            if rec is None:
                raise KeyError(job)
            return [line for line in rec.logs if line.time <= now]

    @property
    def jobs_created(self) -> int:
        """How many jobs CreateJob really stored (an idempotent repeat or a refusal stores none)."""
        with self._lock:
            return self._created

    def reset_created(self) -> None:
        """Set :attr:`jobs_created` back to zero."""
        with self._lock:
            self._created = 0

    def job_names(self) -> list[str]:
        """Full names of the live jobs, oldest first."""
        now = self.clock()
        with self._lock:
            return [j.name for j in list(self._jobs.values()) if self._live(j.name, now) is not None]

    def close(self) -> None:
        """Stop every script job's subprocesses and driver threads."""
        with self._lock:
            self._closed = True
            jobs = list(self._jobs.values())
            for job in jobs:
                job.stop_event.set()
                _kill_all(job)
        for job in jobs:
            if job.driver is not None:
                job.driver.join(timeout=5)

    # ------------------------------------------------------------- planning

    def _plan(self, job: _Job, leave_queue: float, after: float | None = None) -> None:
        """Add the events from leaving QUEUED on; ``after`` keeps only events later than it."""
        job.leave_queue = leave_queue
        t_run = leave_queue + self.timings.scheduled_seconds
        events = [_job_event(job, leave_queue, JobState.QUEUED, JobState.SCHEDULED)]
        if job.has_scripts:
            if after is None:
                job.driver = threading.Thread(
                    target=self._drive,
                    args=(job, t_run, job.stop_event),
                    name=f"emulator-{job.job_id}",
                    daemon=True,
                )
                job.driver.start()
        else:
            planned, lines = self._simulate(job, t_run)
            events.extend(planned)
            for line in lines:
                if after is None or line.time > after:
                    self._emit(job, line)
        for event in events:
            if after is None or event.time > after:
                self._add(job, event)

    def _simulate(self, job: _Job, t_run: float) -> tuple[list[_Event], list[LogLine]]:
        """Plan simulated tasks in ``parallelism`` slots; retries rerun a failed task.

        Returns the events and the log lines the simulated containers write.
        """
        spec = job.spec.task_groups[0].task_spec
        lines: list[LogLine] = []
        containers = sum(1 for r in spec.runnables if r.WhichOneof("executable") == "container")
        per_container = (
            job.scenario.run_seconds if job.scenario.run_seconds is not None else self.timings.run_seconds
        )
        duration = containers * per_container
        limit = _seconds(spec.max_run_duration) or None
        slots = [t_run] * job.parallelism
        events: list[_Event] = [_job_event(job, t_run, JobState.SCHEDULED, JobState.RUNNING)]
        first_failure: tuple[int, int] | None = None
        end = t_run
        for index in range(job.task_count):
            for attempt in range(spec.max_retry_count + 1):
                slot = min(range(len(slots)), key=slots.__getitem__)
                start = slots[slot]
                code = job.scenario.exit_code_for(index) if containers else 0
                finish = start + duration
                if limit is not None and duration > limit:
                    code, finish = TIMEOUT_EXIT_CODE, start + limit
                slots[slot] = finish
                end = max(end, finish)
                lines.extend(simulated_lines(spec.runnables, start, finish, index, attempt, code))
                events.append(_task_event(job, start, index, TaskState.PENDING, TaskState.ASSIGNED))
                events.append(_task_event(job, start, index, TaskState.ASSIGNED, TaskState.RUNNING))
                if code == 0:
                    events.append(_task_event(job, finish, index, TaskState.RUNNING, TaskState.SUCCEEDED))
                    break
                events.append(_task_event(job, finish, index, TaskState.RUNNING, TaskState.FAILED, code))
                if attempt == spec.max_retry_count and first_failure is None:
                    first_failure = (index, code)
        if first_failure is None:
            events.append(_job_event(job, end, JobState.RUNNING, JobState.SUCCEEDED))
        else:
            events.append(
                _job_event(
                    job,
                    end,
                    JobState.RUNNING,
                    JobState.FAILED,
                    _failed_job_extra(*first_failure),
                )
            )
        lines.sort(key=lambda line: line.time)
        return events, lines

    # -------------------------------------------------------- script driver

    def _drive(self, job: _Job, t_run: float, stop: threading.Event) -> None:
        from airflow_batchstream.emulator.runner import run_task

        if stop.wait(max(0.0, t_run - self.clock())):
            return
        with self._lock:
            if job.stopped:
                return
            self._add(job, _job_event(job, self.clock(), JobState.SCHEDULED, JobState.RUNNING))
        results: dict[int, int] = {}

        def one(index: int) -> None:
            spec = job.spec.task_groups[0].task_spec
            for attempt in range(spec.max_retry_count + 1):
                with self._lock:
                    if job.stopped:
                        return
                    now = self.clock()
                    self._add(
                        job,
                        _task_event(job, now, index, TaskState.PENDING, TaskState.ASSIGNED),
                    )
                    self._add(
                        job,
                        _task_event(job, now, index, TaskState.ASSIGNED, TaskState.RUNNING),
                    )
                code = run_task(self, job, index, attempt)
                with self._lock:
                    if job.stopped:
                        return
                    new = TaskState.SUCCEEDED if code == 0 else TaskState.FAILED
                    self._add(
                        job,
                        _task_event(
                            job,
                            self.clock(),
                            index,
                            TaskState.RUNNING,
                            new,
                            code or None,
                        ),
                    )
                results[index] = code
                if code == 0:
                    return

        with ThreadPoolExecutor(
            max_workers=job.parallelism, thread_name_prefix=f"emulator-{job.job_id}"
        ) as pool:
            list(pool.map(one, range(job.task_count)))
        with self._lock:
            if job.stopped:
                return
            failed = [(i, c) for i, c in sorted(results.items()) if c != 0]
            now = self.clock()
            if failed:
                self._add(
                    job,
                    _job_event(
                        job,
                        now,
                        JobState.RUNNING,
                        JobState.FAILED,
                        _failed_job_extra(*failed[0]),
                    ),
                )
            else:
                self._add(job, _job_event(job, now, JobState.RUNNING, JobState.SUCCEEDED))
            job.stopped = True

    def record_log(self, job: _Job, line: LogLine) -> None:
        """Store one output line of a task (called by the script runner).

        :param job: the job the line belongs to.
        :param line: the line.
        """
        with self._lock:
            self._emit(job, line)

    def _emit(self, job: _Job, line: LogLine) -> None:
        """Keep a line on the job and, when the job logs to Cloud Logging, as a log entry."""
        job.logs.append(line)
        if job.spec.logs_policy.destination != CLOUD_LOGGING:
            return
        task_id = f"task/{job.uid}-{GROUP_ID}-{line.task_index}/{line.attempt}/0"
        labels = dict(job.labels)
        labels.update(
            {
                "job_uid": job.uid,
                "task_id": task_id,
                "hostname": _instance_for(job, line.task_index).rsplit("/", 1)[-1],
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
        self.log_store.add(line.time, project, line.text, line.stream, labels, resource)

    def list_log_entries(
        self, resource_names: list[str], filter_text: str, order_by: str, page_size: int, page_token: str
    ) -> tuple[list[LogEntry], str]:
        """One page of Cloud Logging entries (``ListLogEntries``) and the next page token.

        :param resource_names: ``projects/P`` names to search (at least one).
        :param filter_text: a filter in the subset of :mod:`.logs`.
        :param order_by: ``timestamp asc`` (default) or ``timestamp desc``.
        :param page_size: the maximum number of entries (0: 100; at most 1000).
        :param page_token: the previous page's token, or empty.
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
        found = self.log_store.select(projects, predicate, self.clock(), descending)
        scope = "|".join(sorted(resource_names)) + "|" + filter_text + "|" + order_by
        start, end, token = _page(scope, page_token, page_size, len(found))
        return found[start:end], token

    def register_process(self, job: _Job, proc: subprocess.Popen[bytes] | None, running: bool) -> bool:
        """Track a task's subprocess so cancel can kill it; returns False if the job was stopped.

        :param job: the job the process belongs to.
        :param proc: the process (``None`` only to ask whether the job is still going).
        :param running: True when the process starts, False when it has ended.
        """
        with self._lock:
            if proc is not None:
                if running:
                    job.procs.add(proc)
                else:
                    job.procs.discard(proc)
            if job.stopped and proc is not None and running:
                _kill(proc)
            return not job.stopped

    # ------------------------------------------------------------ internals

    def _add(self, job: _Job, event: _Event) -> None:
        index = bisect.bisect_right(job.times, event.time)
        job.times.insert(index, event.time)
        job.events.insert(index, event)
        job.cache_key = None

    def _truncate(self, job: _Job, now: float) -> None:
        keep = bisect.bisect_right(job.times, now)
        del job.times[keep:]
        del job.events[keep:]
        job.cache_key = None
        if job.logs and job.logs[-1].time > now:
            job.logs = [line for line in job.logs if line.time <= now]
            self.log_store.truncate(job.uid, now)

    def _stop(self, job: _Job, now: float) -> None:
        self._truncate(job, now)
        job.stopped = True
        job.held = False
        job.stop_event.set()
        _kill_all(job)

    def _purge(self, job: _Job) -> None:
        self._jobs.pop(job.name, None)
        if job.request_id:
            self._requests.pop((job.parent, job.request_id), None)

    def _live(self, name: str, now: float) -> _Job | None:
        job = self._jobs.get(name)
        if job is not None and job.gone_at is not None and now >= job.gone_at:
            self._purge(job)
            return None
        return job

    def _require(self, name: str, now: float) -> _Job:
        if not JOB_NAME_RE.match(name):
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"job name {name!r} must look like projects/P/locations/L/jobs/ID",
            )
        job = self._live(name, now)
        if job is None:
            raise EmulatorError(grpc.StatusCode.NOT_FOUND, f"Job {name} not found")
        return job

    def _find(self, job: str, now: float) -> _Job | None:
        if "/" in job:
            return self._live(job, now)
        for rec in list(self._jobs.values()):
            if rec.job_id == job and self._live(rec.name, now) is not None:
                return rec
        return None

    def _state(self, job: _Job, now: float) -> int:
        for event in reversed(job.events[: bisect.bisect_right(job.times, now)]):
            if event.job_state is not None:
                return event.job_state
        return int(JobState.QUEUED)

    def _task_states(self, job: _Job, now: float) -> list[int]:
        states = [int(TaskState.PENDING)] * job.task_count
        for event in job.events[: bisect.bisect_right(job.times, now)]:
            if event.task_index is not None and event.task_state is not None:
                states[event.task_index] = event.task_state
        return states

    def _render(self, job: _Job, now: float) -> bytes:
        applied = bisect.bisect_right(job.times, now)
        state = self._state(job, now)
        key = (applied, int(now) if state == JobState.RUNNING else -1)
        if job.cache_key == key:
            return job.cache_bytes
        msg = JobPb()
        msg.CopyFrom(job.spec)
        status = msg.status
        task_states = [int(TaskState.PENDING)] * job.task_count
        run_start: float | None = None
        run_end: float | None = None
        update = job.create_time
        for event in job.events[:applied]:
            update = event.time
            if event.job_state is not None:
                if event.job_state == JobState.RUNNING:
                    run_start = event.time
                elif run_start is not None and run_end is None:
                    run_end = event.time
            if event.task_index is not None and event.task_state is not None:
                task_states[event.task_index] = event.task_state
            if event.job_level:
                _fill_status_event(status.status_events.add(), event)
        status.state = state
        counts = status.task_groups[GROUP_ID].counts
        for task_state in task_states:
            task_name = TaskState(task_state).name
            counts[task_name] = counts[task_name] + 1 if task_name in counts else 1
        if run_start is not None:
            status.run_duration.FromNanoseconds(
                int(((run_end if run_end is not None else now) - run_start) * 1e9)
            )
        _to_ts(msg.update_time, update)
        job.cache_key = key
        job.cache_bytes = bytes(msg.SerializeToString())
        return job.cache_bytes

    def _tasks(self, job: _Job, now: float) -> list[Any]:
        group = f"{job.name}/taskGroups/{GROUP_ID}"
        tasks = [TaskPb(name=f"{group}/tasks/{i}") for i in range(job.task_count)]
        for task in tasks:
            task.status.state = TaskState.PENDING
        for event in job.events[: bisect.bisect_right(job.times, now)]:
            if event.task_index is not None and event.task_state is not None:
                task = tasks[event.task_index]
                task.status.state = event.task_state
                _fill_status_event(task.status.status_events.add(), event)
        return tasks


def _fill_status_event(msg: Any, event: _Event) -> None:
    msg.type_ = event.type
    msg.description = event.description
    _to_ts(msg.event_time, event.time)
    if event.task_state is not None:
        msg.task_state = event.task_state
    if event.exit_code is not None:
        msg.task_execution.exit_code = event.exit_code


def _seconds(duration: Any) -> float:
    return float(duration.seconds) + duration.nanos / 1e9


def _check_request_id(request_id: str) -> None:
    try:
        parsed = uuid.UUID(request_id)
    except ValueError:
        parsed = None
    if parsed is None or parsed.int == 0:
        raise EmulatorError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"request_id {request_id!r} must be a non-zero UUID",
        )


def _page(scope: str, token: str, page_size: int, total: int) -> tuple[int, int, str]:
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


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _kill_all(job: _Job) -> None:
    for proc in list(job.procs):
        _kill(proc)
