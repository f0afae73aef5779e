"""A trigger never hands a negative deadline to the hook, even on a look just after the deadline."""

from __future__ import annotations

import asyncio
import time

from airflow_batchstream.triggers.batch import BatchStreamJobTrigger

NAME = "projects/p/locations/us-central1/jobs/j"


class _RecordingPoller:
    """Records the deadline of each GetJob (the hook refuses a negative one before any call)."""

    def __init__(self) -> None:
        self.deadlines: list[float | None] = []

    async def get_job(self, name: str, deadline: float | None = None) -> str:
        self.deadlines.append(deadline)
        return name


def test_a_look_after_the_deadline_asks_with_no_time_left_not_less():
    trigger = BatchStreamJobTrigger(NAME, deadline=time.time() - 1.0, shared_poller=False)
    poller = _RecordingPoller()

    async def first_look() -> None:
        looks = trigger._own_looks(poller)  # type: ignore[arg-type]
        await anext(looks)
        await looks.aclose()

    asyncio.run(first_look())
    assert poller.deadlines == [0.0]
