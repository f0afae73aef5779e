"""BatchStreamJobTrigger against the emulator over real gRPC (asyncio client)."""

from __future__ import annotations

import asyncio
import time

import pytest
from waiting_helpers import create_job, job_state, run_trigger

from airflow_batchstream import retry
from airflow_batchstream.emulator import Scenario
from airflow_batchstream.hooks.batch import BatchStreamAsyncHook
from airflow_batchstream.triggers.batch import BatchStreamJobTrigger

pytestmark = pytest.mark.integration


@pytest.fixture(params=[True, False], ids=["shared-poller", "per-job"])
def make_trigger(request):
    """Build a trigger that waits through the shared poller, or with one GetJob per look."""

    def make(name: str, **kwargs) -> BatchStreamJobTrigger:
        return BatchStreamJobTrigger(job_name=name, poll_interval=0.1, shared_poller=request.param, **kwargs)

    return make


def test_succeeded_job_fires_one_event_with_its_summary(make_trigger, batch_emulator):
    name = create_job(batch_emulator, "ok")
    event = run_trigger(make_trigger(name))
    assert (event["status"], event["state"]) == ("ended", "SUCCEEDED")
    assert event["summary"]["job_name"] == name
    assert event["summary"]["task_counts"] == {"SUCCEEDED": 1}


def test_failed_job_event_carries_exit_code(make_trigger, batch_emulator):
    batch_emulator.add_scenario(Scenario(exit_code=50001), job_id="preempted")
    name = create_job(batch_emulator, "preempted")
    event = run_trigger(make_trigger(name))
    assert event["state"] == "FAILED"
    assert "exit code 50001 (the VM was preempted (Spot))" in event["message"]
    assert event["summary"]["failed_exit_codes"] == [50001]


@pytest.mark.parametrize("batch_emulator_options", [{"cancel_seconds": 30, "delete_seconds": 30}])
@pytest.mark.parametrize(
    ("action", "state"),
    [("cancel_job", "CANCELLATION_IN_PROGRESS"), ("delete_job", "DELETION_IN_PROGRESS")],
)
def test_jobs_on_their_way_out_end_the_wait(make_trigger, batch_emulator, action, state):
    name = create_job(batch_emulator, "leaving")
    getattr(batch_emulator.client(), action)(name=name)
    event = run_trigger(make_trigger(name))
    assert (event["status"], event["state"]) == ("ended", state)


def test_cancelled_job(make_trigger, batch_emulator):
    name = create_job(batch_emulator, "cancelled")
    batch_emulator.client().cancel_job(name=name)
    event = run_trigger(make_trigger(name))
    assert event["state"] in {"CANCELLED", "CANCELLATION_IN_PROGRESS"}
    time.sleep(0.3)
    assert run_trigger(make_trigger(name))["state"] == "CANCELLED"


def test_vanished_job(make_trigger, batch_emulator):
    batch_emulator.add_scenario(Scenario(hold_in_queue=True), job_id="vanishing")
    name = create_job(batch_emulator, "vanishing")
    batch_emulator.vanish_job(name)
    event = run_trigger(make_trigger(name))
    assert (event["status"], event["state"]) == ("ended", "NOT_FOUND")
    assert "no longer exists" in event["message"]


def test_deadline_cancels_the_job(make_trigger, batch_emulator):
    batch_emulator.add_scenario(Scenario(hold_in_queue=True), job_id="slow")
    name = create_job(batch_emulator, "slow")
    event = run_trigger(make_trigger(name, deadline=time.time() + 0.5))
    assert (event["status"], event["cancelled"]) == ("timeout", True)
    assert "it was cancelled" in event["message"]
    assert batch_emulator.rpc_counts()["CancelJob"] == 1
    assert job_state(batch_emulator, name) in {"CANCELLATION_IN_PROGRESS", "CANCELLED"}


def test_deadline_without_cancel_leaves_the_job(make_trigger, batch_emulator):
    batch_emulator.add_scenario(Scenario(hold_in_queue=True), job_id="kept")
    name = create_job(batch_emulator, "kept")
    event = run_trigger(make_trigger(name, deadline=time.time() + 0.3, cancel_on_deadline=False))
    assert (event["status"], event["cancelled"]) == ("timeout", False)
    assert batch_emulator.rpc_counts().get("CancelJob", 0) == 0
    assert job_state(batch_emulator, name) == "QUEUED"


def test_on_kill_cancels_the_job(make_trigger, batch_emulator):
    batch_emulator.add_scenario(Scenario(hold_in_queue=True), job_id="killed")
    name = create_job(batch_emulator, "killed")
    trigger = make_trigger(name)

    async def kill_while_waiting() -> dict:
        waiting = asyncio.ensure_future(trigger.wait())
        await asyncio.sleep(0.3)
        await trigger.on_kill()
        return await asyncio.wait_for(waiting, 10)

    event = asyncio.run(kill_while_waiting())
    assert event["state"] in {"CANCELLATION_IN_PROGRESS", "CANCELLED"}
    time.sleep(0.3)
    assert job_state(batch_emulator, name) == "CANCELLED"


def test_transient_faults_are_retried_and_a_permanent_one_ends_the_wait(
    make_trigger, batch_emulator, monkeypatch
):
    monkeypatch.setattr(retry, "INITIAL_BACKOFF", 0.01)
    name = create_job(batch_emulator, "flaky")
    batch_emulator.set_faults(0.3, seed=7)
    assert run_trigger(make_trigger(name))["state"] == "SUCCEEDED"
    assert batch_emulator.faults_injected().get("GetJob", 0) > 0
    batch_emulator.clear_faults()
    batch_emulator.fail_next("GetJob", "PERMISSION_DENIED")
    event = run_trigger(make_trigger(name))
    assert (event["status"], event["state"]) == ("error", "UNKNOWN")
    assert "PermissionDenied" in event["message"]


def test_hooks_share_one_client_per_loop(batch_emulator):
    async def clients() -> tuple[object, object, object]:
        first = await BatchStreamAsyncHook().get_conn()
        second = await BatchStreamAsyncHook().get_conn()
        other_version = await BatchStreamAsyncHook(api_version="v1alpha").get_conn()
        return first, second, other_version

    first, second, alpha = asyncio.run(clients())
    assert first is second
    assert alpha is not first
    again, _, _ = asyncio.run(clients())
    assert again is not first  # a new loop gets its own channel
