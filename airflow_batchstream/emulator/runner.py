"""Running one task of a driven job: scripts in real subprocesses, containers through the runtime.

Each script runs as ``/bin/sh -c TEXT`` (or ``/bin/sh PATH``) in its own process group, with a
minimal environment: ``PATH`` and ``HOME``, the Batch task variables (``BATCH_TASK_INDEX``,
``BATCH_TASK_COUNT``, ``BATCH_TASK_RETRY_ATTEMPT``, ``BATCH_HOSTS_FILE`` when the group asks for
it, and the emulator's own ``BATCH_JOB_ID`` and ``BATCH_JOB_UID``), plus the task group's, task
spec's and runnable's environment variables; never the emulator's own environment. Output lines
are stored with timestamps, each cut at 256 KB.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from airflow_batchstream.emulator.logs import LogLine
from airflow_batchstream.emulator.model import (
    TIMEOUT_EXIT_CODE,
    barrier_reached,
    kill_process,
    runnable_event,
    runnable_finished,
    runnable_started,
    seconds_of,
)
from airflow_batchstream.emulator.runtime import simulated_lines
from airflow_batchstream.emulator.tasklogs import MAX_LINE_BYTES

if TYPE_CHECKING:
    from airflow_batchstream.emulator.engine import Engine
    from airflow_batchstream.emulator.model import JobRecord

KILLED_EXIT_CODE = 50000
#: A container the runtime cannot start (as a shell reports a missing command).
CANNOT_RUN_EXIT_CODE = 127


def host_environment() -> dict[str, str]:
    """The only variables of the emulator's own environment a task sees: ``PATH`` and ``HOME``."""
    return {"PATH": os.environ.get("PATH") or os.defpath, "HOME": os.environ.get("HOME") or "/"}


def task_environment(job: JobRecord, index: int, attempt: int) -> dict[str, str]:
    """The environment a task's runnables see (before a runnable's own variables).

    :param job: the job record.
    :param index: the task index.
    :param attempt: the retry attempt, from 0.
    """
    group = job.spec.task_groups[0]
    env = host_environment()
    env.update(group.task_spec.environments)
    env.update(group.task_spec.environment.variables)
    if index < len(group.task_environments):
        env.update(group.task_environments[index].variables)
    env.update(
        {
            "BATCH_TASK_INDEX": str(index),
            "BATCH_TASK_COUNT": str(job.task_count),
            "BATCH_TASK_RETRY_ATTEMPT": str(attempt),
            "BATCH_JOB_ID": job.job_id,
            "BATCH_JOB_UID": job.uid,
        }
    )
    if group.require_hosts_file:
        hosts = os.path.join(tempfile.gettempdir(), f"batchstream-emulator-{job.uid}-hosts")
        with open(hosts, "w") as handle:
            handle.write("127.0.0.1\n")
        env["BATCH_HOSTS_FILE"] = hosts
    return env


def run_task(engine: Engine, job: JobRecord, index: int, attempt: int) -> int:
    """Run a task's runnables in order and return the task's exit code.

    A failing runnable ends the task unless it has ``ignore_exit_status``; ``always_run``
    runnables run even after a failure. The task's ``max_run_duration`` (and a runnable's
    ``timeout``) kill the process and give exit code 50005.

    :param engine: the engine that stores logs and tracks processes.
    :param job: the job record.
    :param index: the task index.
    :param attempt: the retry attempt, from 0.
    """
    spec = job.spec.task_groups[0].task_spec
    limit = seconds_of(spec.max_run_duration)
    deadline = time.monotonic() + limit if limit > 0 else None
    base_env = task_environment(job, index, attempt)
    background: list[subprocess.Popen[bytes]] = []
    code = 0
    has_container = False
    try:
        for runnable in spec.runnables:
            if code != 0 and not runnable.always_run:
                continue
            kind = runnable.WhichOneof("executable")
            name = runnable.display_name
            result = 0
            if name and kind == "barrier":
                engine.record_event(job, runnable_event(time.time(), index, barrier_reached(name)))
            elif name:
                engine.record_event(job, runnable_event(time.time(), index, runnable_started(name)))
            if kind == "script":
                env = dict(base_env)
                env.update(runnable.environment.variables)
                argv = (
                    ["/bin/sh", "-c", runnable.script.text]
                    if runnable.script.text
                    else ["/bin/sh", runnable.script.path]
                )
                own = seconds_of(runnable.timeout)
                end = deadline
                if own > 0:
                    end = (
                        min(deadline, time.monotonic() + own)
                        if deadline is not None
                        else time.monotonic() + own
                    )
                result = _run_script(
                    engine,
                    job,
                    index,
                    attempt,
                    argv,
                    env,
                    end,
                    background if runnable.background else None,
                )
            elif kind == "container":
                has_container = True
                env = dict(base_env)
                env.update(runnable.environment.variables)
                result = _run_container(engine, job, index, attempt, runnable, env, deadline)
            if name and kind in ("script", "container"):
                engine.record_event(job, runnable_event(time.time(), index, runnable_finished(name, result)))
            if result != 0 and not runnable.ignore_exit_status and code == 0:
                code = result
            if result == TIMEOUT_EXIT_CODE:
                code = TIMEOUT_EXIT_CODE
                break
    finally:
        for proc in background:
            kill_process(proc)
            proc.wait()
            engine.register_process(job, proc, running=False)
    if code == 0 and not has_container:
        code = job.scenario.exit_code_for(index)
    return code


def _run_container(
    engine: Engine,
    job: JobRecord,
    index: int,
    attempt: int,
    runnable: Any,
    env: dict[str, str],
    deadline: float | None,
) -> int:
    """Run one container runnable with the engine's runtime; simulated ones just wait."""
    if engine.runtime.name == "simulate":
        seconds = (
            job.scenario.run_seconds if job.scenario.run_seconds is not None else engine.timings.run_seconds
        )
        start = time.time()
        if deadline is not None and time.monotonic() + seconds > deadline:
            job.stop_event.wait(max(0.0, deadline - time.monotonic()))
            result = TIMEOUT_EXIT_CODE
        else:
            job.stop_event.wait(seconds)
            result = job.scenario.exit_code_for(index)
        for line in simulated_lines([runnable], start, time.time(), index, attempt, result):
            engine.record_log(job, line)
        return result
    runtime = engine.runtime
    host = host_environment()
    own = {k: v for k, v in env.items() if host.get(k) != v} if runtime.isolated else env
    with contextlib.ExitStack() as stack:
        try:
            argv = stack.enter_context(runtime.command(runnable.container, own))
        except ValueError as exc:
            engine.record_log(job, LogLine(time.time(), index, attempt, "stderr", str(exc)))
            return CANNOT_RUN_EXIT_CODE
        proc_env = dict(os.environ) if runtime.isolated else env
        return _run_script(engine, job, index, attempt, argv, proc_env, deadline, None)
    raise AssertionError("unreachable")


def _run_script(
    engine: Engine,
    job: JobRecord,
    index: int,
    attempt: int,
    argv: list[str],
    env: dict[str, str],
    deadline: float | None,
    background: list[subprocess.Popen[bytes]] | None,
) -> int:
    if not engine.register_process(job, None, running=True):
        return KILLED_EXIT_CODE
    try:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        engine.record_log(job, LogLine(time.time(), index, attempt, "stderr", f"cannot run {argv[0]}: {exc}"))
        return CANNOT_RUN_EXIT_CODE
    engine.register_process(job, proc, running=True)
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(
            target=_pump,
            args=(engine, job, index, attempt, "stdout", proc.stdout),
            daemon=True,
        ),
        threading.Thread(
            target=_pump,
            args=(engine, job, index, attempt, "stderr", proc.stderr),
            daemon=True,
        ),
    ]
    for reader in readers:
        reader.start()
    if background is not None:
        background.append(proc)
        return 0
    timed_out = False
    try:
        proc.wait(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_process(proc)
        proc.wait()
    for reader in readers:
        reader.join(timeout=2)
    engine.register_process(job, proc, running=False)
    if timed_out:
        return TIMEOUT_EXIT_CODE
    return proc.returncode if proc.returncode >= 0 else KILLED_EXIT_CODE


def bounded_lines(pipe: IO[bytes], limit: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """
    Yield a pipe's lines without their newline, each cut to ``limit`` + 1 bytes (the rest is skipped).

    A line longer than ``limit`` is never held whole in memory; :func:`cap_line` marks the cut.

    :param pipe: the pipe to read.
    :param limit: the most bytes of a line kept.
    """
    while chunk := pipe.readline(limit + 1):
        if len(chunk) > limit and not chunk.endswith(b"\n"):
            while (rest := pipe.readline(limit + 1)) and not rest.endswith(b"\n"):
                pass
        yield chunk.rstrip(b"\n")


def _pump(engine: Engine, job: JobRecord, index: int, attempt: int, stream: str, pipe: IO[bytes]) -> None:
    with pipe:
        for raw in bounded_lines(pipe):
            text = raw.decode("utf-8", errors="replace")
            engine.record_log(job, LogLine(time.time(), index, attempt, stream, text))
