"""What a waiting trigger costs: one retry layer under injected faults, and no closed event loop kept."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref

import pytest
from tenacity import stop_after_attempt
from waiting_helpers import create_job, job_state

from airflow_batchstream.emulator import Scenario
from airflow_batchstream.hooks import batch as hook_module
from airflow_batchstream.triggers.batch import BatchStreamJobTrigger
from airflow_batchstream.triggers.poller import SharedJobPoller

pytestmark = pytest.mark.integration


def _succeeded_job(emulator, job_id: str) -> str:
    name = create_job(emulator, job_id, labels={"managed-by": "airflow-batchstream"})
    deadline = time.monotonic() + 30
    while job_state(emulator, name) != "SUCCEEDED" and time.monotonic() < deadline:
        time.sleep(0.1)
    return name


def test_twenty_deferrals_in_separate_event_loops_keep_at_most_one_loop(batch_emulator):
    name = _succeeded_job(batch_emulator, "loops")
    clients: list[weakref.ref] = []

    async def defer_once(shared: bool) -> str:
        trigger = BatchStreamJobTrigger(job_name=name, poll_interval=0.1, shared_poller=shared)
        state = (await trigger.wait())["state"]
        clients.append(weakref.ref(await trigger.poller().get_conn()))  # type: ignore[attr-defined]
        return state

    for index in range(20):
        assert asyncio.run(defer_once(shared=index % 2 == 0)) == "SUCCEEDED"
    gc.collect()
    assert len(hook_module._CLIENTS_BY_LOOP) <= 1
    assert len(SharedJobPoller._registry) <= 1
    # The clients (and their gRPC channels) of closed loops are gone, not just unlisted. (grpc's own
    # completion queue still maps each loop it served to a small handle: its code, not our caches.)
    assert sum(ref() is not None for ref in clients) <= 1


@pytest.fixture
def one_tenacity_attempt(monkeypatch):
    """Let tenacity make one attempt per call: any further RPC would be another retry layer's."""
    from airflow_batchstream import retry

    kwargs = retry._retry_kwargs
    monkeypatch.setattr(
        retry,
        "_retry_kwargs",
        lambda deadline, attempts: {**kwargs(deadline, attempts), "stop": stop_after_attempt(1)},
    )


@pytest.mark.usefixtures("one_tenacity_attempt")
@pytest.mark.parametrize("shared", [True, False], ids=["shared-poller", "per-job"])
def test_the_trigger_and_the_poller_make_one_rpc_per_tenacity_attempt(batch_emulator, shared):
    batch_emulator.add_scenario(Scenario(hold_in_queue=True), job_id="flaky")
    name = create_job(batch_emulator, "flaky", labels={"managed-by": "airflow-batchstream"})
    batch_emulator.reset_counts()
    for method in ("GetJob", "ListJobs", "CancelJob"):
        batch_emulator.fail_next(method, "UNAVAILABLE")
    trigger = BatchStreamJobTrigger(
        job_name=name, poll_interval=0.2, deadline=time.time() + 2, shared_poller=shared
    )
    event = asyncio.run(trigger.wait())
    counts = batch_emulator.rpc_counts()
    if shared:
        # Round 1: ListJobs fails, so the poller asks GetJob, which fails and waits for the next round;
        # then every round lists the three active states. A library retry of that first ListJobs would
        # have answered it, and no GetJob would have been asked. (The loop's end may cut the last round
        # short, so the ListJobs count need not be 1 plus a multiple of 3.)
        assert counts["GetJob"] == 1
        assert counts["ListJobs"] >= 4
        assert (event["status"], event["cancelled"]) == ("timeout", False)  # the one CancelJob failed
        assert counts["CancelJob"] == 1
    else:
        assert event["status"] == "error"
        assert counts == {"GetJob": 1}


@pytest.mark.usefixtures("one_tenacity_attempt")
def test_the_sensors_calls_make_one_rpc_per_tenacity_attempt(batch_emulator):
    from google.api_core.exceptions import ServiceUnavailable

    from airflow_batchstream.hooks.batch import BatchStreamHook

    hook = BatchStreamHook()
    batch_emulator.reset_counts()
    for method in ("GetJob", "ListJobs"):
        batch_emulator.fail_next(method, "UNAVAILABLE")
    with pytest.raises(ServiceUnavailable):
        hook.list_jobs(region="us-central1", project_id="demo-project", limit=1, order_by="create_time desc")
    with pytest.raises(ServiceUnavailable):
        hook.get_job("projects/demo-project/locations/us-central1/jobs/any")
    assert batch_emulator.rpc_counts() == {"ListJobs": 1, "GetJob": 1}
