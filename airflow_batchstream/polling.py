"""Adaptive poll delays: look soon after submitting, then back off to the user's poll interval."""

from __future__ import annotations

import random
from collections.abc import Iterator

#: The first delay, in seconds; each next one doubles until it reaches the poll interval.
FIRST_POLL_DELAY = 0.5
#: Each delay is spread by up to this fraction, so that many waiters do not poll in step.
JITTER = 0.1


def poll_delays(poll_interval: float, first: float = FIRST_POLL_DELAY) -> Iterator[float]:
    """
    Yield delays in seconds between two looks at a job: ``first``, doubling, capped at ``poll_interval``.

    :param poll_interval: the longest delay, the steady polling period.
    :param first: the first delay (capped at ``poll_interval`` too).
    """
    delay = min(first, poll_interval)
    while True:
        yield delay * random.uniform(1 - JITTER, 1 + JITTER)
        delay = min(delay * 2, poll_interval)
