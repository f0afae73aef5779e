"""The emulator's job store and lifecycle engine.

Design, chosen so that thousands of live jobs cost almost nothing:

* Every job holds a time-ordered list of *events* (job state changes, task state changes).
  For simulated work (container and barrier runnables) the whole future is planned at
  creation, with future timestamps; a read shows the events whose time has come. No thread
  or timer exists per job, and the rendered bytes of a job are cached until the next event.
* Only jobs whose work really runs (script runnables, or containers under a non-simulated
  runtime) get a driver thread, which runs it in subprocesses and appends events as they happen.
* Cancel, delete and scenarios (fail, preempt, hold) truncate the future events and append new ones.

Bounds, so that no client can exhaust the machine: Batch's own job limits (at most 100,000 tasks
per task group, 5,000 parallel tasks, ``max_retry_count`` 0 to 10: "Quotas and limits" and the
``TaskSpec`` reference); a job is planned outside the engine's lock; real task work runs in one
pool of at most ``max_task_workers`` threads for all jobs; at most ``max_jobs`` jobs are stored
(the oldest ended ones are forgotten first; when all are active, CreateJob answers
RESOURCE_EXHAUSTED); request ids are kept for their 60-minute window only.

Neighbouring modules hold the rest: :mod:`.model` (records, states, event texts),
:mod:`.render` (a record as Job/Task messages), :mod:`.operations` (cancel/delete LROs),
:mod:`.scenarios`, :mod:`.faults`, :mod:`.logs` and :mod:`.tasklogs`, :mod:`.images`, :mod:`.runtime`
and :mod:`.runner` (really running a task).

The store keeps jobs as ``google.cloud.batch.v1alpha`` protobuf messages. The ``v1``
messages the emulator serves are a wire-compatible subset of them (a unit test checks field
numbers and types), so the same bytes answer both API versions.
"""

from __future__ import annotations

import bisect
import heapq
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import grpc
from cachetools import TTLCache

from airflow_batchstream.emulator.defaults import apply_defaults, check_labels
from airflow_batchstream.emulator.filters import JOB_FIELDS, TASK_FIELDS, FilterError, Subject, compile_filter
from airflow_batchstream.emulator.images import ImageCatalog
from airflow_batchstream.emulator.logs import (
    LogLine,
)
from airflow_batchstream.emulator.model import (
    ACTIVE_TASK_STATES,
    GROUP_ID,
    JOB_ID_RE,
    JOB_NAME_RE,
    JOB_STATES,
    PARENT_RE,
    REQUEST_ID_WINDOW_SECONDS,
    TASK_GROUP_RE,
    TASK_NAME_RE,
    TASK_STATES,
    TERMINAL_JOB_STATES,
    TIMEOUT_EXIT_CODE,
    EmulatorError,
    Event,
    JobPb,
    JobRecord,
    JobState,
    Operation,
    Scenario,
    TaskState,
    Timings,
    check_request_id,
    custom_event_of,
    failed_job_extra,
    job_event,
    kill_all,
    kill_process,
    page_window,
    runnable_event,
    seconds_of,
    task_event,
    to_ts,
)
from airflow_batchstream.emulator.operations import OperationStore
from airflow_batchstream.emulator.render import job_state, render_job, render_tasks, task_states
from airflow_batchstream.emulator.runtime import (
    ContainerRuntime,
    SimulatedRuntime,
    simulated_events,
    simulated_lines,
)
from airflow_batchstream.emulator.scenarios import ScenarioBook
from airflow_batchstream.emulator.tasklogs import JOB_LOG_BUDGET, TaskLogs
from airflow_batchstream.validation.rules import MAX_PARALLEL_TASKS, MAX_TASKS_PER_GROUP

#: ``TaskSpec.max_retry_count``: "The valid value range is [0, 10]" (Batch API reference).
MAX_RETRY_COUNT = 10
#: Jobs the emulator stores at most (see the module docstring).
MAX_JOBS = 10_000
#: Threads that run real task work (scripts, non-simulated containers), for all jobs together.
MAX_TASK_WORKERS = 16


class Repeat(Exception):
    """A CreateJob repeated a ``request_id``: the answer is the job it created.

    :param job: the serialized job.
    """

    def __init__(self, job: bytes) -> None:
        super().__init__("repeated request_id")
        self.job = job


@dataclass
class Plan:
    """A job's future from leaving QUEUED on, computed without the engine's lock.

    :param leave_queue: when the job leaves QUEUED.
    :param run_at: when a driven job's work starts (after the image pull).
    :param events: the planned events of a simulated job (its first is QUEUED → SCHEDULED).
    :param lines: the lines its simulated containers write.
    """

    leave_queue: float
    run_at: float
    events: list[Event] = field(default_factory=list)
    lines: list[LogLine] = field(default_factory=list)


class Engine:
    """Stores jobs and operations and computes their state from the clock.

    :param timings: the phase durations.
    :param clock: a function returning the current time in epoch seconds (tests may fake it).
    :param images: image sizes and the pull model (default: 512 MiB images at 1 GiB/s).
    :param runtime: how container runnables run (default: simulated).
    :param max_jobs: jobs stored at most; the oldest ended ones are forgotten first.
    :param max_task_workers: threads running real task work, for all jobs together.
    :param log_budget: bytes of output kept per job; the rest is dropped after a marker line.
    """

    def __init__(
        self,
        timings: Timings | None = None,
        clock: Callable[[], float] = time.time,
        images: ImageCatalog | None = None,
        runtime: ContainerRuntime | None = None,
        max_jobs: int = MAX_JOBS,
        max_task_workers: int = MAX_TASK_WORKERS,
        log_budget: int = JOB_LOG_BUDGET,
    ) -> None:
        self.timings = timings or Timings()
        self.clock = clock
        self.images = images or ImageCatalog()
        self.runtime = runtime or SimulatedRuntime()
        self.max_jobs = max_jobs
        self._lock = threading.RLock()
        self._jobs: dict[str, JobRecord] = {}
        self._requests: TTLCache[tuple[str, str], tuple[str, float]] = TTLCache(
            max_jobs * 2, REQUEST_ID_WINDOW_SECONDS, timer=clock
        )
        self._task_pool = ThreadPoolExecutor(max_workers=max_task_workers, thread_name_prefix="emulator-task")
        self.operations = OperationStore(clock)
        self.scenarios = ScenarioBook()
        self._closed = False
        self._created = 0
        self.cloud_logs = TaskLogs(log_budget)
        #: Called with (job, event) for every event added, under the engine's lock (notifications).
        self.listener: Callable[[JobRecord, Event], None] | None = None

    # ------------------------------------------------------------------ jobs

    def create_job(self, request: Any) -> bytes:
        """Create a job from a ``CreateJobRequest`` message and return the serialized Job.

        :param request: a v1alpha (or wire-compatible v1) ``CreateJobRequest`` protobuf message.
        """
        try:
            return self._create(request)
        except Repeat as repeat:
            return repeat.job

    def _create(self, request: Any) -> bytes:
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
            check_request_id(request.request_id)
        self._validate_spec(request.job)
        name = f"{request.parent}/jobs/{job_id}"
        now = self.clock()
        with self._lock:
            self._refuse_repeat(request, name, job_id, now)
        # Planning a large job takes a while: it happens outside the lock, then the checks run again.
        job = self._new_job(request, name, job_id, match.group("location"), now)
        plan = None if job.scenario.hold_in_queue else self._prepare(job, now + self.timings.queued_seconds)
        with self._lock:
            self._refuse_repeat(request, name, job_id, now)
            self._make_room(now)
            self._jobs[name] = job
            self._created += 1
            if request.request_id:
                self._requests[(request.parent, request.request_id)] = (name, now)
            if plan is None:
                job.held = True
            else:
                self._apply(job, plan)
            return render_job(job, now)

    def _refuse_repeat(self, request: Any, name: str, job_id: str, now: float) -> None:
        """Answer a repeated ``request_id`` with its job (as :class:`Repeat`); refuse an existing job."""
        if request.request_id:
            seen = self._requests.get((request.parent, request.request_id))
            if seen is not None and now - seen[1] < REQUEST_ID_WINDOW_SECONDS:
                job = self._live(seen[0], now)
                if job is not None and job.job_id == job_id:
                    raise Repeat(render_job(job, now))
                if job is not None:
                    raise EmulatorError(
                        grpc.StatusCode.ALREADY_EXISTS,
                        f"request_id {request.request_id} was already used to create {job.name}",
                    )
        if self._live(name, now) is not None:
            raise EmulatorError(grpc.StatusCode.ALREADY_EXISTS, f"Job {name} already exists")

    def _make_room(self, now: float) -> None:
        """Forget the oldest ended jobs when the store is full; refuse when every job is active."""
        if len(self._jobs) < self.max_jobs:
            return
        keep = max(self.max_jobs - max(self.max_jobs // 10, 1), 0)
        for rec in list(self._jobs.values()):
            if len(self._jobs) <= keep:
                break
            if self._live(rec.name, now) is None:
                continue
            if job_state(rec, now) in TERMINAL_JOB_STATES and not rec.procs:
                self._purge(rec)
        if len(self._jobs) >= self.max_jobs:
            raise EmulatorError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the emulator holds {len(self._jobs)} jobs (its limit) and none has ended; "
                "delete some, or start it with a larger max_jobs",
            )

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
        check_labels(spec)
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
        tasks = len(group.task_environments) or group.task_count
        if tasks > MAX_TASKS_PER_GROUP:
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"job.task_groups[0].task_count: {tasks} tasks; Batch allows at most "
                f"{MAX_TASKS_PER_GROUP:,} per task group",
            )
        if group.parallelism > MAX_PARALLEL_TASKS:
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"job.task_groups[0].parallelism: {group.parallelism}; Batch allows at most "
                f"{MAX_PARALLEL_TASKS:,} parallel tasks per job",
            )
        retries = group.task_spec.max_retry_count
        if not 0 <= retries <= MAX_RETRY_COUNT:
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"job.task_groups[0].task_spec.max_retry_count: {retries}; "
                f"the valid range is 0 to {MAX_RETRY_COUNT}",
            )

    def _new_job(self, request: Any, name: str, job_id: str, location: str, now: float) -> JobRecord:
        spec = JobPb()
        spec.CopyFrom(request.job)
        spec.ClearField("status")
        spec.name = name
        spec.uid = f"j-{uuid.uuid4()}"
        to_ts(spec.create_time, now)
        group = spec.task_groups[0]
        group.name = f"{name}/taskGroups/{GROUP_ID}"
        if len(group.task_environments):
            group.task_count = len(group.task_environments)
        if group.task_count == 0:
            group.task_count = 1
        if group.parallelism == 0:
            group.parallelism = min(group.task_count, MAX_PARALLEL_TASKS)
        apply_defaults(spec, job_id, request.parent.split("/")[1], location)
        labels = dict(spec.labels)
        return JobRecord(
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
            scenario=self.scenarios.for_job(job_id, labels),
            request_id=request.request_id,
        )

    def get_job(self, name: str) -> bytes:
        """Return the serialized Job, or raise NOT_FOUND.

        :param name: the job's full resource name.
        """
        now = self.clock()
        with self._lock:
            return render_job(self._require(name, now), now)

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
            predicate = compile_filter(filter_text, JOB_FIELDS, JOB_STATES)
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
        any_location = match.group("location") == "-"
        prefix = f"projects/{match.group('project')}/locations/"
        now = self.clock()
        with self._lock:
            selected = [
                job
                for job in list(self._jobs.values())
                if (job.parent == parent or (any_location and job.parent.startswith(prefix)))
                and self._live(job.name, now) is not None
                and predicate(_subject(job, now))
            ]
            key = order_by.strip()
            if key.startswith("name"):
                selected.sort(key=lambda j: j.name, reverse=key.endswith("desc"))
            elif key.endswith("desc"):
                selected.reverse()
            start, end, next_token = page_window(
                parent + "|" + filter_text + "|" + order_by,
                page_token,
                page_size,
                len(selected),
            )
            return [render_job(job, now) for job in selected[start:end]], next_token

    def list_tasks(
        self, parent: str, filter_text: str, page_size: int, page_token: str
    ) -> tuple[list[bytes], str]:
        """Return one page of serialized tasks of a task group.

        :param parent: ``projects/P/locations/L/jobs/J/taskGroups/group0``.
        :param filter_text: a filter on ``name`` and ``status.state`` (see :mod:`.filters`).
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
            predicate = compile_filter(filter_text, TASK_FIELDS, TASK_STATES)
        except FilterError as exc:
            raise EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        now = self.clock()
        with self._lock:
            job = self._require(match.group("job"), now)
            if match.group("group") != GROUP_ID:
                raise EmulatorError(grpc.StatusCode.NOT_FOUND, f"TaskGroup {parent} not found")
            tasks = render_tasks(job, now)
            selected = [t for t in tasks if predicate(Subject(t.name, state=t.status.state))]
            start, end, next_token = page_window(
                parent + "|" + filter_text, page_token, page_size, len(selected)
            )
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
            return bytes(render_tasks(job, now)[index].SerializeToString())

    # ------------------------------------------------------ cancel and delete

    def cancel_job(self, name: str, request_id: str, api_version: str) -> bytes:
        """Start cancelling a job; return the serialized long-running Operation.

        :param name: the job's full resource name.
        :param request_id: optional idempotency key; a repeat returns the same operation.
        :param api_version: ``"v1alpha"`` or ``"v1"``, for the operation's type URLs.
        """

        def begin(job: JobRecord, now: float) -> Operation:
            state = job_state(job, now)
            if state == JobState.CANCELLATION_IN_PROGRESS and job.cancel_op is not None:
                return job.cancel_op
            if state in TERMINAL_JOB_STATES or state == JobState.DELETION_IN_PROGRESS:
                raise EmulatorError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"Job {name} is {JobState(state).name} and cannot be cancelled",
                )
            self._stop(job, now)
            done = now + self.timings.cancel_seconds
            self._add(job, job_event(job, now, state, JobState.CANCELLATION_IN_PROGRESS))
            self._end_active_tasks(job, done)
            self._add(job, job_event(job, done, JobState.CANCELLATION_IN_PROGRESS, JobState.CANCELLED))
            job.cancel_op = self.operations.new(job, "cancel", api_version, now, done, request_id)
            return job.cancel_op

        return self._operate(name, "cancel", request_id, begin)

    def delete_job(self, name: str, request_id: str, api_version: str) -> bytes:
        """Start deleting a job; return the serialized long-running Operation.

        :param name: the job's full resource name.
        :param request_id: optional idempotency key; a repeat returns the same operation.
        :param api_version: ``"v1alpha"`` or ``"v1"``, for the operation's type URLs.
        """

        def begin(job: JobRecord, now: float) -> Operation:
            if job.delete_op is not None:
                return job.delete_op
            state = job_state(job, now)
            self._stop(job, now)
            job.gone_at = now + self.timings.delete_seconds
            self._add(job, job_event(job, now, state, JobState.DELETION_IN_PROGRESS))
            job.delete_op = self.operations.new(job, "delete", api_version, now, job.gone_at, request_id)
            return job.delete_op

        return self._operate(name, "delete", request_id, begin)

    def _operate(
        self, name: str, verb: str, request_id: str, begin: Callable[[JobRecord, float], Operation]
    ) -> bytes:
        """Check the request id, then return the operation an earlier request with it started, or begin one.

        :param name: the job's full resource name.
        :param verb: ``"cancel"`` or ``"delete"``.
        :param request_id: optional idempotency key.
        :param begin: starts the change on the job (under the engine's lock) and returns its operation.
        """
        if request_id:
            check_request_id(request_id)
        now = self.clock()
        with self._lock:
            job = self._require(name, now)
            operation = self.operations.repeat(name, verb, request_id)
            return self.operations.render(begin(job, now) if operation is None else operation, now)

    # ------------------------------------------------------------ scenarios

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
                self.scenarios.remember(job.rsplit("/", 1)[-1], scenario)
                return
            state = job_state(rec, now)
            if state in TERMINAL_JOB_STATES or state in (
                JobState.DELETION_IN_PROGRESS,
                JobState.CANCELLATION_IN_PROGRESS,
            ):
                raise ValueError(f"job {rec.name} is {JobState(state).name}; it can no longer fail")
            rec.scenario = replace(scenario, run_seconds=rec.scenario.run_seconds)
            if state == JobState.RUNNING:
                self._stop(rec, now)
                current = task_states(rec, now)
                active = [i for i, st in enumerate(current) if st in ACTIVE_TASK_STATES]
                if task_index is None:
                    failing = active
                elif task_index < rec.task_count and current[task_index] in ACTIVE_TASK_STATES:
                    failing = [task_index]
                else:
                    failing = active[:1]
                failing = failing or [task_index or 0]
                for index in failing:
                    self._add(rec, task_event(rec, now, index, current[index], TaskState.FAILED, exit_code))
                self._end_active_tasks(rec, now)
                extra = failed_job_extra(failing[0], exit_code)
                self._add(rec, job_event(rec, now, state, JobState.FAILED, extra))
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
                self.scenarios.remember(job.rsplit("/", 1)[-1], Scenario(hold_in_queue=True))
                return
            if job_state(rec, now) != JobState.QUEUED:
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

    def job_states(self) -> dict[str, str]:
        """The state name of every live job, by full name."""
        now = self.clock()
        with self._lock:
            live = [j for j in list(self._jobs.values()) if self._live(j.name, now) is not None]
            return {j.name: JobState(job_state(j, now)).name for j in live}

    def still_planned(self, job: JobRecord, event: Event) -> bool:
        """Whether ``event`` is still one of the job's events (a cancel or scenario may have removed it).

        :param job: the job.
        :param event: an event the engine added to it.
        """
        with self._lock:
            return any(e is event for e in job.events)

    def close(self) -> None:
        """Stop every script job's subprocesses and driver threads."""
        with self._lock:
            self._closed = True
            jobs = list(self._jobs.values())
            for job in jobs:
                job.stop_event.set()
                kill_all(job)
        self._task_pool.shutdown(wait=False, cancel_futures=True)
        for job in jobs:
            if job.driver is not None:
                job.driver.join(timeout=5)

    # ------------------------------------------------------------- planning

    def _plan(self, job: JobRecord, leave_queue: float, after: float | None = None) -> None:
        """Add the events from leaving QUEUED on; ``after`` keeps only events later than it."""
        self._apply(job, self._prepare(job, leave_queue), after)

    def _prepare(self, job: JobRecord, leave_queue: float) -> Plan:
        """Compute a job's future from leaving QUEUED on; needs no lock (reads only the job's spec)."""
        t_assign = leave_queue + self.timings.scheduled_seconds
        pull = self.images.pull_seconds(job.spec.task_groups[0].task_spec.runnables)
        plan = Plan(leave_queue, t_assign + pull)
        plan.events.append(job_event(job, leave_queue, JobState.QUEUED, JobState.SCHEDULED))
        if not self._needs_driver(job):
            planned, plan.lines = self._simulate(job, t_assign, pull)
            plan.events.extend(planned)
        return plan

    def _apply(self, job: JobRecord, plan: Plan, after: float | None = None) -> None:
        """Store a plan's events and lines (under the lock), or start the driver of a driven job."""
        job.leave_queue = plan.leave_queue
        if self._needs_driver(job) and after is None:
            job.driver = threading.Thread(
                target=self._drive,
                args=(job, plan.run_at, job.stop_event),
                name=f"emulator-{job.job_id}",
                daemon=True,
            )
            job.driver.start()
        for line in plan.lines:
            if after is None or line.time > after:
                self.cloud_logs.emit(job, line)
        events = [event for event in plan.events if after is None or event.time > after]
        if events:  # one stable sort instead of an insertion per event (a large job has 300,000)
            job.events = sorted([*job.events, *events], key=lambda event: event.time)
            job.times = [event.time for event in job.events]
            job.cache_key = None
            if self.listener is not None:
                for event in events:
                    if event.job_state is not None:  # only job-state changes are notified
                        self.listener(job, event)

    def _needs_driver(self, job: JobRecord) -> bool:
        """Whether a thread must really run the job's work (scripts, or containers off the simulator)."""
        kinds = {r.WhichOneof("executable") for r in job.spec.task_groups[0].task_spec.runnables}
        return "script" in kinds or ("container" in kinds and self.runtime.name != "simulate")

    def _simulate(self, job: JobRecord, t_assign: float, pull: float) -> tuple[list[Event], list[LogLine]]:
        """Plan simulated tasks in ``parallelism`` slots (one VM each); retries rerun a failed task.

        A slot's first task waits ``pull`` seconds between ASSIGNED and RUNNING (the image
        download); later tasks on the same slot find the image cached. The job turns RUNNING
        when its first task does. Returns the events and the lines the containers write.
        """
        spec = job.spec.task_groups[0].task_spec
        lines: list[LogLine] = []
        containers = sum(1 for r in spec.runnables if r.WhichOneof("executable") == "container")
        per_container = (
            job.scenario.run_seconds if job.scenario.run_seconds is not None else self.timings.run_seconds
        )
        duration = containers * per_container
        limit = seconds_of(spec.max_run_duration) or None
        free = [(t_assign, slot) for slot in range(job.parallelism)]  # a heap: the earliest free slot first
        pulled = [False] * job.parallelism
        events: list[Event] = [job_event(job, t_assign + pull, JobState.SCHEDULED, JobState.RUNNING)]
        first_failure: tuple[int, int] | None = None
        end = t_assign + pull
        for index in range(job.task_count):
            for attempt in range(spec.max_retry_count + 1):
                assigned, slot = heapq.heappop(free)
                start = assigned if pulled[slot] else assigned + pull
                pulled[slot] = True
                code = job.scenario.exit_code_for(index) if containers else 0
                finish = start + duration
                if limit is not None and duration > limit:
                    code, finish = TIMEOUT_EXIT_CODE, start + limit
                heapq.heappush(free, (finish, slot))
                end = max(end, finish)
                lines.extend(simulated_lines(spec.runnables, start, finish, index, attempt, code))
                events.append(task_event(job, assigned, index, TaskState.PENDING, TaskState.ASSIGNED))
                events.append(task_event(job, start, index, TaskState.ASSIGNED, TaskState.RUNNING))
                events.extend(simulated_events(spec.runnables, start, finish, index, per_container, code))
                if code == 0:
                    events.append(task_event(job, finish, index, TaskState.RUNNING, TaskState.SUCCEEDED))
                    break
                events.append(task_event(job, finish, index, TaskState.RUNNING, TaskState.FAILED, code))
                if attempt == spec.max_retry_count and first_failure is None:
                    first_failure = (index, code)
        if first_failure is None:
            events.append(job_event(job, end, JobState.RUNNING, JobState.SUCCEEDED))
        else:
            events.append(
                job_event(
                    job,
                    end,
                    JobState.RUNNING,
                    JobState.FAILED,
                    failed_job_extra(*first_failure),
                )
            )
        lines.sort(key=lambda line: line.time)
        return events, lines

    # -------------------------------------------------------- script driver

    def _drive(self, job: JobRecord, t_run: float, stop: threading.Event) -> None:
        from airflow_batchstream.emulator.runner import run_task

        if stop.wait(max(0.0, t_run - self.clock())):
            return
        with self._lock:
            if job.stopped:
                return
            self._add(job, job_event(job, self.clock(), JobState.SCHEDULED, JobState.RUNNING))
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
                        task_event(job, now, index, TaskState.PENDING, TaskState.ASSIGNED),
                    )
                    self._add(
                        job,
                        task_event(job, now, index, TaskState.ASSIGNED, TaskState.RUNNING),
                    )
                code = run_task(self, job, index, attempt)
                with self._lock:
                    if job.stopped:
                        return
                    new = TaskState.SUCCEEDED if code == 0 else TaskState.FAILED
                    self._add(
                        job,
                        task_event(
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

        slots = threading.BoundedSemaphore(job.parallelism)
        running: list[Future[None]] = []
        for index in range(job.task_count):
            while not slots.acquire(timeout=0.5):
                if stop.is_set():
                    break
            if stop.is_set():
                break
            try:
                future = self._task_pool.submit(one, index)
            except RuntimeError:  # the engine closed
                return
            future.add_done_callback(lambda _: slots.release())
            running.append(future)
        try:
            for future in running:
                future.result()
        except CancelledError:  # the engine closed
            return
        with self._lock:
            if job.stopped:
                return
            failed = [(i, c) for i, c in sorted(results.items()) if c != 0]
            now = self.clock()
            if failed:
                self._add(
                    job,
                    job_event(
                        job,
                        now,
                        JobState.RUNNING,
                        JobState.FAILED,
                        failed_job_extra(*failed[0]),
                    ),
                )
            else:
                self._add(job, job_event(job, now, JobState.RUNNING, JobState.SUCCEEDED))
            job.stopped = True

    def record_log(self, job: JobRecord, line: LogLine) -> None:
        """Store one output line of a task (called by the script runner).

        :param job: the job the line belongs to.
        :param line: the line.
        """
        description = custom_event_of(line.text)
        with self._lock:
            self.cloud_logs.emit(job, line)
            if description is not None and not job.stopped:
                self._add(job, runnable_event(line.time, line.task_index, description))

    def record_event(self, job: JobRecord, event: Event) -> None:
        """Store a task-level event of a really running task (a runnable started or ended, a barrier).

        :param job: the job the event belongs to.
        :param event: the event.
        """
        with self._lock:
            if not job.stopped:
                self._add(job, event)

    def register_process(self, job: JobRecord, proc: subprocess.Popen[bytes] | None, running: bool) -> bool:
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
                kill_process(proc)
            return not job.stopped

    # ------------------------------------------------------------ internals

    def _add(self, job: JobRecord, event: Event) -> None:
        index = bisect.bisect_right(job.times, event.time)
        job.times.insert(index, event.time)
        job.events.insert(index, event)
        job.cache_key = None
        if self.listener is not None:
            self.listener(job, event)

    def _end_active_tasks(self, job: JobRecord, t: float) -> None:
        """A job that ends early leaves no task behind: running ones fail, pending ones are unexecuted.

        These events are task-level only (no exit code, not in the job's status events), so the
        job's own failure reason stays the task that caused it.
        """
        for index, state in enumerate(task_states(job, t)):
            if state in ACTIVE_TASK_STATES:
                event = task_event(job, t, index, state, TaskState.FAILED)
            elif state == TaskState.PENDING:
                event = task_event(job, t, index, state, TaskState.UNEXECUTED)
            else:
                continue
            event.job_level = False
            self._add(job, event)

    def _truncate(self, job: JobRecord, now: float) -> None:
        keep = bisect.bisect_right(job.times, now)
        del job.times[keep:]
        del job.events[keep:]
        job.cache_key = None
        if job.logs and job.logs[-1].time > now:
            job.logs = [line for line in job.logs if line.time <= now]
            self.cloud_logs.store.truncate(job.uid, now)

    def _stop(self, job: JobRecord, now: float) -> None:
        self._truncate(job, now)
        job.stopped = True
        job.held = False
        job.stop_event.set()
        kill_all(job)

    def _purge(self, job: JobRecord) -> None:
        self._jobs.pop(job.name, None)
        if job.request_id:
            self._requests.pop((job.parent, job.request_id), None)

    def _live(self, name: str, now: float) -> JobRecord | None:
        job = self._jobs.get(name)
        if job is not None and job.gone_at is not None and now >= job.gone_at:
            self._purge(job)
            return None
        return job

    def _require(self, name: str, now: float) -> JobRecord:
        if not JOB_NAME_RE.match(name):
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"job name {name!r} must look like projects/P/locations/L/jobs/ID",
            )
        job = self._live(name, now)
        if job is None:
            raise EmulatorError(grpc.StatusCode.NOT_FOUND, f"Job {name} not found")
        return job

    def _find(self, job: str, now: float) -> JobRecord | None:
        if "/" in job:
            return self._live(job, now)
        for rec in list(self._jobs.values()):
            if rec.job_id == job and self._live(rec.name, now) is not None:
                return rec
        return None


def _subject(job: JobRecord, now: float) -> Subject:
    """What a ListJobs filter sees of a job at ``now``."""
    applied = bisect.bisect_right(job.times, now)
    return Subject(
        name=job.name,
        uid=job.uid,
        labels=job.labels,
        state=job_state(job, now),
        create_time=job.create_time,
        update_time=job.times[applied - 1] if applied else job.create_time,
    )
