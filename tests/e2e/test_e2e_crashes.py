"""Components crash and users act while Batch jobs run: nothing is lost, duplicated or left running."""

from __future__ import annotations

import os
import re
import signal

import pytest
from e2e_helpers import TI_STATE_OF_JOB, jobs_of_run, wait_until

from airflow_batchstream.spec import label_value

# The first test also starts the deployment and the last one stops it: generous per-test limits.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

#: What the triggerer writes into the task's log when it starts running the task's trigger.
TRIGGER_STARTED = re.compile(r"trigger \S+ \(ID \d+\) starting")


def _start(airflow, dag_id: str) -> str:
    airflow.api.wait_for_dag(dag_id)
    airflow.api.unpause(dag_id)
    return airflow.api.trigger(dag_id)


def test_triggerer_crash_loses_no_job_and_duplicates_none(airflow, batch_client, emulator_control):
    dag_id = "e2e_triggerer_crash"
    api = airflow.api
    created_before = emulator_control.jobs_created()
    run_id = _start(airflow, dag_id)

    def all_deferred() -> bool:
        states = [ti["state"] for ti in api.task_instances(dag_id, run_id).values()]
        return len(states) == 20 and all(state == "deferred" for state in states)

    wait_until(all_deferred, 240, "20 deferred task instances")
    crashed, *survivors = airflow.triggerers
    airflow.crash_component(crashed)
    # The jobs run and end while the crashed triggerer is gone; a lone triggerer's restart takes its
    # triggers back, a second triggerer takes them over once the first one's heartbeat is stale.
    jobs = jobs_of_run(batch_client, dag_id, run_id)
    for (job,) in jobs.values():
        emulator_control.call("release_job", job=job.name)
    if not survivors:
        airflow.start_component(crashed)

    state = api.wait_for_run(dag_id, run_id, timeout=180)
    if survivors:
        airflow.start_component(crashed)

    tis = api.task_instances(dag_id, run_id)
    jobs = jobs_of_run(batch_client, dag_id, run_id)
    assert emulator_control.jobs_created() - created_before == 20
    assert {task: len(found) for task, found in jobs.items()} == {label_value(t): 1 for t in tis}
    failing = set()
    for task_id, ti in tis.items():
        (job,) = jobs[label_value(task_id)]
        job_state = job.status.state.name
        assert job_state == ("FAILED" if "emulator-exit-code" in job.labels else "SUCCEEDED"), job.name
        assert ti["state"] == TI_STATE_OF_JOB[job_state], (task_id, ti["state"], job_state)
        if job_state == "FAILED":
            failing.add(task_id)
    assert failing == {"job_02", "job_07", "job_11", "job_16"}
    assert state == "failed"


def test_killed_synchronous_task_reattaches_on_retry(airflow, batch_client, emulator_control):
    dag_id = "e2e_sync_reattach"
    api = airflow.api
    run_id = _start(airflow, dag_id)

    def running_with_job() -> dict | None:
        ti = api.task_instance(dag_id, run_id, "job")
        jobs = jobs_of_run(batch_client, dag_id, run_id).get("job", [])
        return ti if ti["state"] == "running" and ti["pid"] and jobs else None

    ti = wait_until(running_with_job, 180, "the task waiting for its submitted job")
    pid = ti["pid"]
    owner = airflow.owner(pid)
    assert owner, f"pid {pid} is not a process of this deployment"
    if owner in airflow.workers:
        # A Celery worker dies with the task: the scheduler fails the try once its heartbeat is stale.
        airflow.crash_component(owner)
    else:
        os.kill(pid, signal.SIGKILL)
    wait_until(
        lambda: api.task_instance(dag_id, run_id, "job")["try_number"] == 2,
        180,
        "the retry of the killed task",
    )
    if owner in airflow.workers:
        airflow.start_component(owner)
    (job,) = jobs_of_run(batch_client, dag_id, run_id)["job"]
    emulator_control.call("release_job", job=job.name)

    state = api.wait_for_run(dag_id, run_id, timeout=120)

    ti = api.task_instance(dag_id, run_id, "job")
    assert state == "success", airflow.diagnostics()
    assert ti["try_number"] == 2
    assert [j.name for j in jobs_of_run(batch_client, dag_id, run_id)["job"]] == [job.name]
    assert api.xcom(dag_id, run_id, "job")["job_name"] == job.name
    log = api.log_text(dag_id, run_id, "job", 2)
    assert f"Reattaching to Batch job {job.name} of a try that did not end" in log, log[-3000:]


def test_marking_a_deferred_task_failed_cancels_its_job(airflow, batch_client):
    dag_id = "e2e_mark_failed"
    api = airflow.api
    run_id = _start(airflow, dag_id)
    wait_until(
        lambda: api.task_instance(dag_id, run_id, "job")["state"] == "deferred", 180, "the deferred task"
    )
    # Airflow calls a trigger's on_kill only once the triggerer runs it: a task marked failed between
    # deferring and the triggerer picking the trigger up has its trigger deleted unseen (see README).
    wait_until(
        lambda: TRIGGER_STARTED.search(api.log_text(dag_id, run_id, "job", 1)),
        60,
        "the triggerer to start the trigger",
    )
    (job,) = jobs_of_run(batch_client, dag_id, run_id)["job"]
    assert job.status.state.name == "QUEUED"

    api.set_task_state(dag_id, run_id, "job", "failed")

    wait_until(
        lambda: batch_client.get_job(name=job.name).status.state.name == "CANCELLED",
        60,
        f"{job.name} CANCELLED",
    )
    assert api.task_instance(dag_id, run_id, "job")["state"] == "failed"
    assert f"Task killed: cancelling Batch job {job.name}" in api.log_text(dag_id, run_id, "job", 1)
