"""How container runnables run in the emulator: simulated by default.

The ``simulate`` runtime runs nothing: a container lasts the scenario's run time and ends with
the scenario's exit code, and it writes a few lines (the command it would run, its exit code)
so container jobs have task logs too.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from typing import Any

from airflow_batchstream.emulator.logs import LogLine


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
