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
from airflow_batchstream.polling import MAX_POLL_INTERVAL_ENV
from airflow_batchstream.triggers import poller as poller_module
from airflow_batchstream.triggers.poller import DONE_STATES, PollGroup, SharedJobPoller

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _intervals_as_given(batch_emulator, monkeypatch):
    """These tests are about the poller's own intervals: the emulator fixture's cap is lifted."""
    monkeypatch.delenv(MAX_POLL_INTERVAL_ENV)


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
    # At most one GetJob per job confirms its end (a few more when a job moves between lists
    # mid-round); every ListJobs page was the poller's, at most one per state listed per round.
    assert counts["GetJob"] == poller.stats.get_calls < 2 * len(names)
    assert counts["ListJobs"] == poller.stats.list_calls <= 6 * poller.stats.rounds


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


def test_jobs_ending_together_are_confirmed_by_the_ended_lists_not_a_get_each(batch_emulator):
    # 30 jobs end within one poll interval: 24 succeed, 4 fail, 2 are cancelled while running.
    names = [_create(batch_emulator, f"burst-{i}", run=0.6, exit_code=int(i < 4)) for i in range(28)]
    cancelled = [_create(batch_emulator, f"burst-cancel-{i}", run=30) for i in range(2)]
    batch_emulator.reset_counts()

    async def main() -> tuple[list[str], SharedJobPoller]:
        poller = SharedJobPoller.for_group(_group(batch_emulator), batch_emulator.async_client)
        waits = [poller.wait(n, 1.0) for n in names + cancelled]
        cancel_later = asyncio.get_running_loop().call_later(
            0.5, lambda: [batch_emulator.client().cancel_job(name=n) for n in cancelled]
        )
        finals = await asyncio.wait_for(asyncio.gather(*waits), 30)
        cancel_later.cancel()
        return [job.status.state.name for job in finals], poller

    states, poller = asyncio.run(main())
    assert states == ["FAILED"] * 4 + ["SUCCEEDED"] * 24 + ["CANCELLED"] * 2
    counts = batch_emulator.rpc_counts()
    assert poller.stats.listed_ends >= 24  # the succeeded ones came from the SUCCEEDED list at least
    # No GetJob at all is possible (every end confirmed by a list): the count is then absent.
    assert counts.get("GetJob", 0) == poller.stats.get_calls <= 30 - poller.stats.listed_ends + 4
    assert counts["ListJobs"] == poller.stats.list_calls


def test_ended_jobs_buried_under_newer_ones_are_still_confirmed(batch_emulator, monkeypatch):
    # Pages of 2: the watched jobs are older than 12 newer succeeded jobs, 6 pages down the
    # SUCCEEDED list; reading pages stops at the budget (no more pages than jobs missing) and
    # GetJob confirms the rest.
    monkeypatch.setattr(poller_module, "LIST_PAGE_SIZE", 2)
    watched = [_create(batch_emulator, f"old-{i}", run=1.0) for i in range(4)]
    for i in range(12):
        _create(batch_emulator, f"new-{i}", run=0.05)

    async def main() -> tuple[list[str], SharedJobPoller]:
        poller = SharedJobPoller.for_group(_group(batch_emulator), batch_emulator.async_client)
        finals = await asyncio.wait_for(asyncio.gather(*(poller.wait(n, 2.0) for n in watched)), 30)
        return [job.status.state.name for job in finals], poller

    batch_emulator.reset_counts()
    states, poller = asyncio.run(main())
    assert states == ["SUCCEEDED"] * 4
    assert (poller.stats.listed_ends, poller.stats.get_calls) == (0, 4)
    assert poller.stats.ended_list_calls <= 4  # the budget: no more pages than jobs missing
    assert batch_emulator.rpc_counts()["ListJobs"] == poller.stats.list_calls


class _NoOrderBy:
    """A real client in front of a service that refuses ``order_by`` (as an older API might)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.refused = 0

    async def list_jobs(self, request: dict[str, Any], **kwargs: Any) -> Any:
        if request.get("order_by"):
            self.refused += 1
            raise exceptions.InvalidArgument("order_by is not supported")
        return await self.client.list_jobs(request=request, **kwargs)

    async def get_job(self, **kwargs: Any) -> Any:
        return await self.client.get_job(**kwargs)


def test_a_refused_ended_listing_is_not_asked_again_and_get_job_confirms(batch_emulator):
    names = [_create(batch_emulator, f"plain-{i}", run=0.4 + 0.2 * (i % 2)) for i in range(12)]

    async def main() -> tuple[list[str], int]:
        client = _NoOrderBy(batch_emulator.async_client())
        poller = SharedJobPoller.for_group(_group(batch_emulator), lambda: client)
        finals = await asyncio.wait_for(asyncio.gather(*(poller.wait(n, 1.0) for n in names)), 30)
        return [job.status.state.name for job in finals], client.refused

    batch_emulator.reset_counts()
    assert asyncio.run(main()) == (["SUCCEEDED"] * 12, 1)
    assert batch_emulator.rpc_counts()["GetJob"] >= 12
