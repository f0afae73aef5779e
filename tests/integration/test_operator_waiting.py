"""The operator's waiting in real Airflow (dag.test()): every ending, timeout, on_kill, retries, reattach."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from waiting_helpers import MODES, job_state, write_dag

from airflow_batchstream.emulator import Scenario

pytestmark = pytest.mark.integration


def the_ti(dag_run):
    (ti,) = dag_run.get_task_instances()
    return ti


def when_job_exists(emulator, action: Callable[[str], None]) -> threading.Thread:
    """In a thread: wait (bounded) until the emulator holds a job, then call ``action(job_name)``."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            names = emulator.job_names()
            if names:
                action(names[0])
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@MODES
def test_timeout_cancels_the_job_and_is_written_into_it(batch_emulator, deferrable):
    batch_emulator.add_scenario(Scenario(hold_in_queue=True), labels={"airflow-task-id": "job"})
    dag_run = write_dag(f"timeout_{deferrable}", f"timeout=1.5, deferrable={deferrable}").test()
    assert the_ti(dag_run).state == "failed"
    (name,) = batch_emulator.job_names()
    time.sleep(0.3)
    job = batch_emulator.client().get_job(name=name)
    assert job.status.state.name == "CANCELLED"
    assert job.task_groups[0].task_spec.max_run_duration.total_seconds() == 1.5


def test_on_kill_cancels_the_job(batch_emulator):
    # Airflow's own execution_timeout calls on_kill() in the task process: the real kill path.
    batch_emulator.add_scenario(Scenario(hold_in_queue=True), labels={"airflow-task-id": "job"})
    dag_run = write_dag("killed_sync", "execution_timeout=timedelta(seconds=2), deferrable=False").test()
    assert the_ti(dag_run).state == "failed"
    (name,) = batch_emulator.job_names()
    time.sleep(0.3)
    assert job_state(batch_emulator, name) == "CANCELLED"
    assert batch_emulator.rpc_counts()["CancelJob"] == 1


def test_execution_timeout_cancels_a_deferred_job_and_is_retried_like_airflows_own(
    batch_emulator, capfd, caplog
):
    # Airflow does not enforce execution_timeout while a task is deferred: the trigger's deadline does.
    batch_emulator.add_scenario(Scenario(hold_in_queue=True), labels={"airflow-try-number": "1"})
    dag_run = write_dag(
        "execution_timeout_deferred",
        "execution_timeout=timedelta(seconds=6), retries=1, retry_delay=0, deferrable=True",
    ).test()
    ti = the_ti(dag_run)
    assert (ti.state, ti.try_number) == ("success", 2)
    first = next(name for name in batch_emulator.job_names() if name.endswith("-t1"))
    time.sleep(0.3)
    assert job_state(batch_emulator, first) == "CANCELLED"
    # (The exception is Airflow's own AirflowTaskTimeout: tests/unit/operators/test_execute_complete.py.)


@MODES
def test_cancelled_job_fails_without_retry_unless_asked(batch_emulator, deferrable):
    batch_emulator.add_scenario(Scenario(run_seconds=30), labels={"airflow-try-number": "1"})
    when_job_exists(batch_emulator, lambda name: batch_emulator.client().cancel_job(name=name))
    dag_run = write_dag(
        f"cancelled_{deferrable}", f"retries=2, retry_delay=0, deferrable={deferrable}"
    ).test()
    ti = the_ti(dag_run)
    assert (ti.state, ti.try_number) == ("failed", 1)
    assert batch_emulator.jobs_created() == 1

    batch_emulator.reset_counts()
    for name in batch_emulator.job_names():
        batch_emulator.vanish_job(name)
    when_job_exists(batch_emulator, lambda name: batch_emulator.client().cancel_job(name=name))
    dag_run = write_dag(
        f"cancelled_retried_{deferrable}",
        f"retries=1, retry_delay=0, retry_on_cancel=True, deferrable={deferrable}",
    ).test()
    ti = the_ti(dag_run)
    assert (ti.state, ti.try_number) == ("success", 2)
    assert batch_emulator.jobs_created() == 2  # the cancelled job of try 1 is left alone


@MODES
def test_spot_preemption_is_retried_with_a_new_job(batch_emulator, deferrable):
    batch_emulator.add_scenario(Scenario(exit_code=50001), labels={"airflow-try-number": "1"})
    dag_run = write_dag(
        f"preempted_{deferrable}", f"retries=1, retry_delay=0, deferrable={deferrable}"
    ).test()
    ti = the_ti(dag_run)
    assert (ti.state, ti.try_number) == ("success", 2)
    states = sorted(job_state(batch_emulator, name) for name in batch_emulator.job_names())
    assert states == ["FAILED", "SUCCEEDED"]


@pytest.mark.parametrize("batch_emulator_options", [{"run_seconds": 30, "delete_seconds": 30}])
@MODES
@pytest.mark.parametrize("how", ["vanish_job", "delete_job"])
def test_a_job_deleted_under_the_task_fails_it(batch_emulator, deferrable, how, capfd):
    def remove(name: str) -> None:
        time.sleep(0.3)
        if how == "vanish_job":
            batch_emulator.vanish_job(name)
        else:
            batch_emulator.client().delete_job(name=name)

    when_job_exists(batch_emulator, remove)
    dag_run = write_dag(f"deleted_{how}_{deferrable}", f"deferrable={deferrable}").test()
    assert the_ti(dag_run).state == "failed"
    log = "".join(capfd.readouterr())
    assert ("no longer exists" if how == "vanish_job" else "ended DELETION_IN_PROGRESS") in log


def test_wait_for_completion_false_returns_at_once(batch_emulator, capfd):
    batch_emulator.add_scenario(Scenario(hold_in_queue=True), labels={"airflow-task-id": "job"})
    dag_run = write_dag("fire_and_forget", "wait_for_completion=False, deferrable=True").test()
    assert the_ti(dag_run).state == "success"
    (name,) = batch_emulator.job_names()
    assert job_state(batch_emulator, name) == "QUEUED"
    assert "Deferring" not in "".join(capfd.readouterr())
