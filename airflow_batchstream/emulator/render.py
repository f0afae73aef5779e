"""Rendering a job record at a moment: its state, status (events, counts, run duration) and tasks."""

from __future__ import annotations

import bisect
from typing import Any

from airflow_batchstream.emulator.defaults import fill_instances
from airflow_batchstream.emulator.model import (
    GROUP_ID,
    JobPb,
    JobRecord,
    JobState,
    TaskPb,
    TaskState,
    fill_status_event,
    to_ts,
)


def job_state(job: JobRecord, now: float) -> int:
    """The job state at ``now``."""
    for event in reversed(job.events[: bisect.bisect_right(job.times, now)]):
        if event.job_state is not None:
            return event.job_state
    return int(JobState.QUEUED)


def task_states(job: JobRecord, now: float) -> list[int]:
    """Each task's state at ``now``."""
    states = [int(TaskState.PENDING)] * job.task_count
    for event in job.events[: bisect.bisect_right(job.times, now)]:
        if event.task_index is not None and event.task_state is not None:
            states[event.task_index] = event.task_state
    return states


def render_job(job: JobRecord, now: float) -> bytes:
    """The serialized Job at ``now`` (cached until the next event, or the next second while RUNNING)."""
    applied = bisect.bisect_right(job.times, now)
    state = job_state(job, now)
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
    scheduled = False
    for event in job.events[:applied]:
        update = event.time
        if event.job_state == JobState.SCHEDULED:
            scheduled = True
        if event.job_state is not None:
            if event.job_state == JobState.RUNNING:
                run_start = event.time
            elif run_start is not None and run_end is None:
                run_end = event.time
        if event.task_index is not None and event.task_state is not None:
            task_states[event.task_index] = event.task_state
        if event.job_level:
            fill_status_event(status.status_events.add(), event)
    status.state = state
    counts = status.task_groups[GROUP_ID].counts
    for task_state in task_states:
        task_name = TaskState(task_state).name
        counts[task_name] = counts[task_name] + 1 if task_name in counts else 1
    if scheduled:
        fill_instances(status, job.spec, job.task_count)
    if run_start is not None:
        status.run_duration.FromNanoseconds(
            int(((run_end if run_end is not None else now) - run_start) * 1e9)
        )
    to_ts(msg.update_time, update)
    job.cache_key = key
    job.cache_bytes = bytes(msg.SerializeToString())
    return job.cache_bytes


def render_tasks(job: JobRecord, now: float) -> list[Any]:
    """Task messages of the job's group at ``now``."""
    group = f"{job.name}/taskGroups/{GROUP_ID}"
    tasks = [TaskPb(name=f"{group}/tasks/{i}") for i in range(job.task_count)]
    for task in tasks:
        task.status.state = TaskState.PENDING
    for event in job.events[: bisect.bisect_right(job.times, now)]:
        if event.task_index is not None:
            task = tasks[event.task_index]
            if event.task_state is not None:
                task.status.state = event.task_state
            fill_status_event(task.status.status_events.add(), event)
    return tasks
