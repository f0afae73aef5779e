"""Adaptive poll delays: look soon after submitting, then back off to the user's poll interval."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

#: The first delay, in seconds; each next one doubles until it reaches the poll interval.
FIRST_POLL_DELAY = 0.5
#: A deferrable task watches a job this young (seconds since its creation) itself before deferring: the
#: looks at 0.5, 1.5 and 3.5 s; a job that ends by then never pays the trigger's resume hold.
YOUNG_JOB_SECONDS = 3.5
#: Each delay is spread by up to this fraction, so that many waiters do not poll in step.
JITTER = 0.1
#: Seconds; when set, no wait between two looks at a job is longer, whatever a task's
#: ``poll_interval`` says. The pytest plugin and ``batchstream-emulator --env-file`` set it from the
#: emulator's timings, so that a DAG waits as long as the emulator's jobs take, not 10 s a look.
MAX_POLL_INTERVAL_ENV = "BATCHSTREAM_MAX_POLL_INTERVAL"


def env_seconds(name: str) -> float | None:
    """
    Return the seconds the environment variable ``name`` sets, or ``None`` when it is unset or empty.

    :param name: the variable, such as ``BATCHSTREAM_MAX_POLL_INTERVAL``.
    """
    value = os.environ.get(name)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number of seconds") from None


def effective_poll_interval(poll_interval: float) -> float:
    """
    Return ``poll_interval``, lowered to ``BATCHSTREAM_MAX_POLL_INTERVAL`` when that is set and smaller.

    :param poll_interval: the task's own poll interval, in seconds.
    """
    limit = env_seconds(MAX_POLL_INTERVAL_ENV)
    if limit is None or limit <= 0:
        return poll_interval
    return min(poll_interval, limit)


def poll_delays(poll_interval: float, first: float = FIRST_POLL_DELAY) -> Iterator[float]:
    """
    Yield delays in seconds between two looks at a job: ``first``, doubling, capped at ``poll_interval``.

    :param poll_interval: the longest delay, the steady polling period (see :func:`effective_poll_interval`).
    :param first: the first delay (capped at ``poll_interval`` too).
    """
    poll_interval = effective_poll_interval(poll_interval)
    delay = min(first, poll_interval)
    while True:
        yield delay * random.uniform(1 - JITTER, 1 + JITTER)
        delay = min(delay * 2, poll_interval)
