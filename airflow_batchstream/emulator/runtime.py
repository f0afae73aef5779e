"""How container runnables run in the emulator: a pluggable runtime, simulated by default.

* ``simulate`` (default) runs nothing: a container lasts the scenario's run time and ends with
  the scenario's exit code, writing a few lines (the command it would run, its exit code) so
  container jobs have task logs too.
* ``local`` (opt-in) runs ``entrypoint`` + ``commands`` on the host as a subprocess with the
  Batch task variables; the image is ignored.
* ``docker`` / ``podman`` (opt-in) run the image with that engine; chosen only when
  ``ENGINE info`` succeeds, refused with a clear error otherwise. The variables go through an
  env file readable by this user only (never ``-e K=V``, which ``ps`` shows), and ``--`` ends the
  engine's options before the image, so an image named ``--privileged`` is not an option.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airflow_batchstream.emulator.logs import LogLine
from airflow_batchstream.emulator.model import (
    Event,
    barrier_reached,
    runnable_event,
    runnable_finished,
    runnable_started,
)


def command_line(container: Any) -> str:
    """The command a container runnable would run, as a shell-quoted string.

    :param container: a ``Runnable.Container`` protobuf message.
    """
    argv = ([container.entrypoint] if container.entrypoint else []) + list(container.commands)
    return shlex.join(argv) if argv else "(the image's default command)"


def simulated_lines(
    runnables: Iterable[Any], start: float, finish: float, index: int, attempt: int, code: int
) -> list[LogLine]:
    """The lines simulated container runnables of one task attempt write.

    :param runnables: the task's runnables (protobuf messages); only containers write lines.
    :param start: when the attempt starts.
    :param finish: when it ends.
    :param index: the task index.
    :param attempt: the retry attempt.
    :param code: the attempt's exit code.
    """
    lines = []
    for runnable in runnables:
        if runnable.WhichOneof("executable") == "container":
            container = runnable.container
            text = f"[simulated] {container.image_uri}: {command_line(container)}"
            lines.append(LogLine(start, index, attempt, "stdout", text))
    if lines:
        stream = "stdout" if code == 0 else "stderr"
        lines.append(LogLine(finish, index, attempt, stream, f"[simulated] exit code {code}"))
    return lines


def simulated_events(
    runnables: Iterable[Any], start: float, finish: float, index: int, per_container: float, code: int
) -> list[Event]:
    """The custom status events of one simulated task attempt (runnables with a ``display_name``).

    Containers run one after the other for ``per_container`` seconds each; the last one (or one
    cut short at ``finish``) ends with ``code``, earlier ones with 0. Barriers are reached at once.

    :param runnables: the task's runnables (protobuf messages).
    :param start: when the attempt starts.
    :param finish: when it ends.
    :param index: the task index.
    :param per_container: seconds each simulated container runs.
    :param code: the attempt's exit code.
    """
    runnables = list(runnables)
    containers = [i for i, r in enumerate(runnables) if r.WhichOneof("executable") == "container"]
    events: list[Event] = []
    t = start
    for position, runnable in enumerate(runnables):
        kind, name = runnable.WhichOneof("executable"), runnable.display_name
        if kind == "barrier" and name:
            events.append(runnable_event(t, index, barrier_reached(name)))
        elif kind == "container":
            end = min(t + per_container, finish)
            exit_code = code if position == containers[-1] or end >= finish else 0
            if name:
                events.append(runnable_event(t, index, runnable_started(name)))
                events.append(runnable_event(end, index, runnable_finished(name, exit_code)))
            t = end
            if exit_code != 0:
                break
    return events


class ContainerRuntime:
    """How container runnables run. The base class is the ``simulate`` runtime's interface."""

    name = "simulate"
    #: Whether the work runs isolated from the host (a container engine): the engine's own command
    #: then runs with the emulator's environment, and the job's variables go into the container only.
    isolated = False

    @contextlib.contextmanager
    def command(self, container: Any, env: Mapping[str, str]) -> Iterator[list[str]]:
        """The host command that runs a container runnable, valid inside the ``with`` (real runtimes only).

        :param container: a ``Runnable.Container`` protobuf message.
        :param env: the variables the container must see (Batch task variables and the job's own).
        :raises ValueError: when this runtime cannot run the container.
        """
        raise NotImplementedError(f"the {self.name} runtime runs nothing")
        yield []


class SimulatedRuntime(ContainerRuntime):
    """Run nothing: the scenario decides duration and exit code (the default)."""

    name = "simulate"


class LocalRuntime(ContainerRuntime):
    """Run ``entrypoint`` + ``commands`` on the host as a subprocess, ignoring the image.

    Useful when the image's tools are installed locally. A container with neither an
    entrypoint nor commands cannot run this way (the image's default command is unknown).
    """

    name = "local"

    @contextlib.contextmanager
    def command(self, container: Any, env: Mapping[str, str]) -> Iterator[list[str]]:
        """``[entrypoint, *commands]``.

        :param container: a ``Runnable.Container`` protobuf message.
        :param env: unused: the subprocess gets the task environment.
        """
        argv = ([container.entrypoint] if container.entrypoint else []) + list(container.commands)
        if not argv:
            raise ValueError(
                f"the local runtime cannot run {container.image_uri}: set entrypoint or commands "
                "(the image's default command is unknown outside a container engine)"
            )
        yield argv


class EngineRuntime(ContainerRuntime):
    """Run the container with a local container engine (``docker`` or ``podman``).

    :param engine: the engine's command name.
    """

    isolated = True

    def __init__(self, engine: str) -> None:
        self.name = engine

    @contextlib.contextmanager
    def command(self, container: Any, env: Mapping[str, str]) -> Iterator[list[str]]:
        """``ENGINE run --rm --env-file FILE [--entrypoint E] -- IMAGE COMMANDS...``.

        The env file (mode 0600) exists while the ``with`` lasts.

        :param container: a ``Runnable.Container`` protobuf message.
        :param env: the variables the container sees, written to the env file.
        """
        for key, value in env.items():
            if "\n" in key or "\n" in value or "=" in key:
                raise ValueError(
                    f"the {self.name} runtime cannot pass the variable {key!r}: an env file takes no "
                    "line breaks, and no '=' in a name"
                )
        handle, path = tempfile.mkstemp(prefix="batchstream-env-", text=True)  # mode 0600
        try:
            with os.fdopen(handle, "w") as env_file:
                env_file.writelines(f"{key}={value}\n" for key, value in env.items())
            argv = [self.name, "run", "--rm", "--env-file", path]
            if container.entrypoint:
                argv += ["--entrypoint", container.entrypoint]
            yield [*argv, "--", container.image_uri, *container.commands]
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


RUNTIMES = ("simulate", "local", "docker", "podman")


def select_runtime(name: str, probe_timeout: float = 10.0) -> ContainerRuntime:
    """The runtime called ``name``; a container engine must answer ``ENGINE info`` first.

    :param name: one of :data:`RUNTIMES`.
    :param probe_timeout: seconds ``ENGINE info`` may take.
    :raises ValueError: for an unknown name or an engine that is not usable here.
    """
    if name == "simulate":
        return SimulatedRuntime()
    if name == "local":
        return LocalRuntime()
    if name not in RUNTIMES:
        raise ValueError(f"container runtime must be one of {', '.join(RUNTIMES)}, not {name!r}")
    if shutil.which(name) is None:
        raise ValueError(
            f"container runtime {name!r} is not installed (no {name!r} on PATH); use 'simulate' or 'local'"
        )
    try:
        probe = subprocess.run(
            [name, "info"], capture_output=True, text=True, timeout=probe_timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise ValueError(f"container runtime {name!r} did not answer '{name} info' in time") from None
    if probe.returncode != 0:
        reason = (probe.stderr or probe.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ValueError(f"container runtime {name!r} is not usable here: {reason[0]}")
    return EngineRuntime(name)
