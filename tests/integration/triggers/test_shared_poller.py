"""The shared poller against the emulator: no missed, duplicated or stalled events, leavers, late joiners."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud import batch_v1alpha

from airflow_batchstream.emulator.model import LABEL_EXIT_CODE, LABEL_RUN_SECONDS
from airflow_batchstream.triggers.poller import DONE_STATES, PollGroup, SharedJobPoller

pytestmark = pytest.mark.integration

PROJECT, REGION = "demo-project", "us-central1"
INTERVAL = 0.2


def _group(emulator: Any) -> PollGroup:
    return PollGroup(emulator.address, "anonymous", PROJECT, REGION, "v1alpha")


def _create(emulator: Any, job_id: str, *, run: float = 0.3, exit_code: int = 0, managed: bool = True) -> str:
    labels = {LABEL_RUN_SECONDS: str(run).replace(".", "_"), LABEL_EXIT_CODE: str(exit_code)}
    if managed:
        labels["managed-by"] = "airflow-batchstream"
    runnable = batch_v1alpha.Runnable(container=batch_v1alpha.Runnable.Container(image_uri="debian:12"))
    job = batch_v1alpha.Job(
        task_groups=[batch_v1alpha.TaskGroup(task_spec=batch_v1alpha.TaskSpec(runnables=[runnable]))],
        labels=labels,
    )
    created = emulator.client().create_job(
        parent=f"projects/{PROJECT}/locations/{REGION}", job_id=job_id, job=job
    )
    return str(created.name)


async def _states(poller: SharedJobPoller, name: str) -> list[str]:
    return [job.status.state.name async for job in poller.watch(name, INTERVAL)]


def test_every_watcher_gets_each_change_once_and_one_final_state(batch_emulator):
    outcomes = {f"job-{i}": (0.1 * (i % 7), 1 if i % 4 == 0 else 0) for i in range(40)}
    names = {
        job_id: _create(batch_emulator, job_id, run=run, exit_code=code)
        for job_id, (run, code) in outcomes.items()
    }
    batch_emulator.reset_counts()

    async def main() -> tuple[list[list[str]], SharedJobPoller]:
        poller = SharedJobPoller.for_group(_group(batch_emulator), batch_emulator.async_client)
        seen = await asyncio.wait_for(asyncio.gather(*(_states(poller, n) for n in names.values())), 30)
        return seen, poller

    seen, poller = asyncio.run(main())
    for job_id, states in zip(names, seen, strict=True):
        assert states[-1] == ("FAILED" if outcomes[job_id][1] else "SUCCEEDED"), (job_id, states)
        assert all(state not in DONE_STATES for state in states[:-1])
        assert len(states) == len(set(states)), f"{job_id} got a state twice: {states}"
    counts = batch_emulator.rpc_counts()
    # One GetJob per job confirms its end (a few more when a job moves between lists mid-round).
    assert counts["GetJob"] == poller.stats.get_calls < 2 * len(names)
    assert counts["ListJobs"] == poller.stats.list_calls <= 3 * poller.stats.rounds


def test_a_leaving_watcher_does_not_stall_the_others(batch_emulator):
    held = _create(batch_emulator, "held", run=0.2)
    batch_emulator.hold_job(held)
    quick = [_create(batch_emulator, f"quick-{i}", run=0.2) for i in range(3)]

    async def main() -> tuple[list[str], int]:
        poller = SharedJobPoller.for_group(_group(batch_emulator), batch_emulator.async_client)
        stuck = asyncio.create_task(poller.wait(held, INTERVAL))
        finals = await asyncio.wait_for(asyncio.gather(*(poller.wait(n, INTERVAL) for n in quick)), 10)
        stuck.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stuck
        await asyncio.wait_for(poller._task, 5)  # the loop ends once no one is left
        return [job.status.state.name for job in finals], poller.watched

    states, watched = asyncio.run(main())
    assert states == ["SUCCEEDED"] * 3
    assert watched == 0


def test_late_joiners_restart_the_group_and_see_jobs_that_ended_meanwhile(batch_emulator):
    first = _create(batch_emulator, "first", run=0.1)
    ended = _create(batch_emulator, "ended", run=0.1)

    async def main() -> list[str]:
        group = _group(batch_emulator)
        poller = SharedJobPoller.for_group(group, batch_emulator.async_client)
        one = await asyncio.wait_for(poller.wait(first, INTERVAL), 10)
        await asyncio.wait_for(poller._task, 5)
        # As after a triggerer restart: a new watcher of a job that ended while no one watched.
        again = SharedJobPoller.for_group(group, batch_emulator.async_client)
        two = await asyncio.wait_for(again.wait(ended, INTERVAL), 10)
        return [again is poller, one.status.state.name, two.status.state.name]

    assert asyncio.run(main()) == [True, "SUCCEEDED", "SUCCEEDED"]


def test_two_watchers_of_one_job_and_an_unlabelled_job(batch_emulator):
    shared = _create(batch_emulator, "shared", run=0.3)
    foreign = _create(batch_emulator, "foreign", run=0.3, managed=False)

    async def main() -> Counter[str]:
        poller = SharedJobPoller.for_group(_group(batch_emulator), batch_emulator.async_client)
        finals = await asyncio.wait_for(
            asyncio.gather(*(poller.wait(n, INTERVAL) for n in (shared, shared, foreign))), 10
        )
        return Counter(f"{job.name.rsplit('/', 1)[1]}:{job.status.state.name}" for job in finals)

    assert asyncio.run(main()) == Counter({"shared:SUCCEEDED": 2, "foreign:SUCCEEDED": 1})


def test_a_vanished_job_raises_not_found_and_others_go_on(batch_emulator):
    doomed = _create(batch_emulator, "doomed", run=5)
    fine = _create(batch_emulator, "fine", run=0.3)

    async def main() -> tuple[BaseException | Any, ...]:
        poller = SharedJobPoller.for_group(_group(batch_emulator), batch_emulator.async_client)
        doomed_wait = asyncio.create_task(poller.wait(doomed, INTERVAL))
        await asyncio.sleep(0.3)
        batch_emulator.vanish_job(doomed)
        return tuple(
            await asyncio.wait_for(
                asyncio.gather(doomed_wait, poller.wait(fine, INTERVAL), return_exceptions=True), 10
            )
        )

    vanished, finished = asyncio.run(main())
    assert isinstance(vanished, exceptions.NotFound)
    assert finished.status.state.name == "SUCCEEDED"


def test_a_job_of_another_region_is_refused_before_any_call(batch_emulator):
    async def main() -> None:
        poller = SharedJobPoller.for_group(_group(batch_emulator), batch_emulator.async_client)
        await poller.wait(f"projects/{PROJECT}/locations/europe-west1/jobs/x", INTERVAL)

    with pytest.raises(ValueError, match="is not a job of"):
        asyncio.run(main())
    assert batch_emulator.rpc_counts() == {}


def test_triggers_share_one_poll_loop_and_each_fires_its_own_event(batch_emulator):
    from airflow_batchstream.triggers.batch import BatchStreamJobTrigger

    names = [_create(batch_emulator, f"trig-{i}", run=0.2 + 0.1 * i, exit_code=i % 2) for i in range(12)]
    batch_emulator.reset_counts()

    async def fire(name: str) -> dict[str, Any]:
        kwargs = BatchStreamJobTrigger(job_name=name, poll_interval=INTERVAL).serialize()[1]
        events = [event.payload async for event in BatchStreamJobTrigger(**kwargs).run()]
        assert len(events) == 1
        return events[0]

    async def main() -> list[dict[str, Any]]:
        return await asyncio.wait_for(asyncio.gather(*(fire(n) for n in names)), 30)

    events = asyncio.run(main())
    assert [(e["job_name"], e["state"]) for e in events] == [
        (name, "FAILED" if i % 2 else "SUCCEEDED") for i, name in enumerate(names)
    ]
    # One GetJob per job confirms its end; the looks in between were shared ListJobs calls.
    assert batch_emulator.rpc_counts()["GetJob"] < 2 * len(names)


def test_a_listing_error_falls_back_to_get_job_for_that_round(batch_emulator):
    names = [_create(batch_emulator, f"faulty-{i}", run=0.3) for i in range(4)]
    batch_emulator.fail_next("ListJobs", "PERMISSION_DENIED", times=3)

    async def main() -> list[str]:
        poller = SharedJobPoller.for_group(_group(batch_emulator), batch_emulator.async_client)
        finals = await asyncio.wait_for(asyncio.gather(*(poller.wait(n, INTERVAL) for n in names)), 30)
        return [job.status.state.name for job in finals]

    assert asyncio.run(main()) == ["SUCCEEDED"] * 4
    assert batch_emulator.faults_injected()["ListJobs"] == 3
    assert batch_emulator.rpc_counts()["GetJob"] >= 3 * len(names)  # asked for each job while listing failed
