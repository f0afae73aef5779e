"""Re-runs mean what an Airflow user means: a clear runs a new job, a second date never gets the first
date's job, ``execution_timeout`` cancels a deferred job, and quick deferred jobs keep their success.

A worker killed after CreateJob reattaching with one job in all is
``test_e2e_crashes.py::test_killed_synchronous_task_reattaches_on_retry``. DAGs: ``dags/e2e_reruns.py``.
"""

from __future__ import annotations

import re
import statistics
from datetime import datetime

import pytest
from e2e_helpers import PARENT, jobs_of_run, start_run

from airflow_batchstream.spec import label_value

# The first test also starts the deployment and the last one stops it: generous per-test limits.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

#: The DAGs' poll interval, seconds.
POLL_INTERVAL = 2.0
#: What the scheduler logs when it drains an executor event (Airflow's ``process_executor_events``).
EXECUTOR_SUCCESS = re.compile(
    r"^(?P<time>\S+) .*Received executor event with state success for task instance "
    r"TaskInstanceKey\(dag_id='(?P<dag_id>[^']+)', task_id='(?P<task_id>[^']+)', run_id='(?P<run_id>[^']+)'"
)


def test_clearing_an_ended_task_runs_a_new_job(airflow, batch_client):
    dag_id = "e2e_clear"
    api = airflow.api
    run_id = start_run(api, dag_id)
    assert api.wait_for_run(dag_id, run_id, timeout=180) == "failed"  # ``fails`` failed
    first = jobs_of_run(batch_client, dag_id, run_id)

    api.clear_tasks(dag_id, run_id, ["succeeds", "fails"])

    assert api.wait_for_run(dag_id, run_id, timeout=180) == "failed", airflow.diagnostics()
    jobs = jobs_of_run(batch_client, dag_id, run_id)
    tis = api.task_instances(dag_id, run_id)
    for task_id, job_state, ti_state in (("succeeds", "SUCCEEDED", "success"), ("fails", "FAILED", "failed")):
        (old,) = first[task_id]
        assert old.status.state.name == job_state
        earlier, new = sorted(jobs[task_id], key=lambda job: int(job.labels["airflow-try-number"]))
        assert earlier.name == old.name
        assert new.name != old.name
        assert new.labels["airflow-try-number"] == "2"
        assert new.status.state.name == job_state
        assert (tis[task_id]["state"], tis[task_id]["try_number"]) == (ti_state, 2)
        log = api.log_text(dag_id, run_id, task_id, 2)
        assert f"Submitted Batch job {new.name}" in log, log[-3000:]
        assert "Reattaching" not in log
        if task_id == "succeeds":
            assert api.xcom(dag_id, run_id, task_id)["job_name"] == new.name


def test_a_fixed_job_id_never_returns_another_dates_job(airflow, batch_client, emulator_control):
    dag_id = "e2e_fixed_job_id"
    api = airflow.api
    runs: list[str] = []
    try:
        for day in ("2026-03-01", "2026-03-02"):
            runs.append(start_run(api, dag_id, logical_date=f"{day}T00:00:00+00:00"))
            api.wait_for_run(dag_id, runs[-1], timeout=180)
        day_1, day_2 = runs

        fixed = batch_client.get_job(name=f"{PARENT}/jobs/e2e-fixed-job-id")
        assert fixed.labels["airflow-run-id"] == label_value(day_1)
        assert api.xcom(dag_id, day_1, "fixed")["job_name"] == fixed.name
        assert api.task_instance(dag_id, day_2, "fixed")["state"] == "failed"
        assert "fixed" not in jobs_of_run(batch_client, dag_id, day_2)
        path = f"{api.task_path(dag_id, day_2, 'fixed')}/xcomEntries/return_value"
        xcom = api.request("GET", path, expect=0)
        assert xcom.status_code == 404, xcom.text
        log = api.log_text(dag_id, day_2, "fixed", 1)
        assert f"Batch job {fixed.name} already exists and belongs to" in log, log[-3000:]
        assert f"run {label_value(day_1)}" in log
        # The fix the message gives: a job id templated per logical date.
        for run_id, day in zip(runs, ("20260301", "20260302"), strict=True):
            assert api.task_instance(dag_id, run_id, "templated")["state"] == "success"
            assert api.xcom(dag_id, run_id, "templated")["job_name"] == f"{PARENT}/jobs/e2e-daily-{day}"
    finally:
        # The emulator outlives this deployment: the next one must not meet these fixed ids.
        for run_id in runs:
            for jobs in jobs_of_run(batch_client, dag_id, run_id).values():
                for job in jobs:
                    emulator_control.call("vanish_job", job=job.name)


def test_execution_timeout_cancels_a_deferred_job(airflow, batch_client):
    dag_id = "e2e_execution_timeout"
    api = airflow.api
    run_id = start_run(api, dag_id)

    assert api.wait_for_run(dag_id, run_id, timeout=180) == "failed"

    ti = api.task_instance(dag_id, run_id, "job")
    (job,) = jobs_of_run(batch_client, dag_id, run_id)["job"]
    assert job.status.state.name == "CANCELLED"
    cancelled = next(
        event.event_time
        for event in job.status.status_events
        if re.match(r"Job state is set from \w+ to CANCELLATION_IN_PROGRESS", event.description)
    )
    log = api.log_text(dag_id, run_id, "job", 1)
    started = datetime.fromisoformat(ti["start_date"])
    submitted_line = next(line for line in log.splitlines() if "Submitted Batch job" in line)
    submitted = datetime.fromisoformat(submitted_line.split()[0])
    # The trigger's deadline is the try's start as the task's process saw it, plus execution_timeout: that
    # start follows the one the API shows by the process's start-up (3 s on a loaded machine) and precedes
    # the submission. The cancel comes at the deadline, at the latest one poll interval later.
    assert (cancelled - started).total_seconds() >= 20, (started, cancelled)
    assert (cancelled - submitted).total_seconds() <= 20 + POLL_INTERVAL, (submitted, cancelled)
    assert (ti["state"], ti["try_number"]) == ("failed", 1)
    assert "Deferring" in log
    assert "execution_timeout=0:00:20 passed" in log, log[-3000:]


def test_quick_deferred_jobs_keep_their_success(airflow, batch_client):
    if airflow.shape != "local":
        pytest.skip(
            "local only: the race was met, and its window measured, with the LocalExecutor (airflow "
            "standalone); 20 tasks one after another take minutes"
        )
    dag_id = "e2e_quick_deferred"
    api = airflow.api
    run_id = start_run(api, dag_id)

    state = api.wait_for_run(dag_id, run_id, timeout=600)

    tis = api.task_instances(dag_id, run_id)
    jobs = jobs_of_run(batch_client, dag_id, run_id)
    assert state == "success", ({t: ti["state"] for t, ti in tis.items()}, airflow.diagnostics())
    assert len(tis) == 20
    for task_id, ti in tis.items():
        (job,) = jobs[task_id]
        assert (ti["state"], ti["try_number"], job.status.state.name) == ("success", 1, "SUCCEEDED")
        assert "Deferring" in api.log_text(dag_id, run_id, task_id, 1), task_id
    _print_resume_window(airflow, dag_id, run_id)


def _print_resume_window(airflow, dag_id: str, run_id: str) -> None:
    """Print how long after each deferral the scheduler drained the deferring process's stale success."""
    api = airflow.api
    deferred: dict[str, datetime] = {}
    for task_id in api.task_instances(dag_id, run_id):
        for line in api.log_text(dag_id, run_id, task_id, 1).splitlines():
            if "Deferring: the triggerer waits" in line:
                deferred[task_id] = datetime.fromisoformat(line.split()[0])
                break
    drained: dict[str, datetime] = {}
    for line in airflow.log_path("scheduler").read_text(errors="replace").splitlines():
        found = EXECUTOR_SUCCESS.search(line)
        if found and found["dag_id"] == dag_id and found["run_id"] == run_id:
            task_id = found["task_id"]
            when = datetime.fromisoformat(found["time"])
            if task_id in deferred and task_id not in drained and when >= deferred[task_id]:
                drained[task_id] = when
    windows = sorted((drained[t] - deferred[t]).total_seconds() for t in drained)
    print(
        f"\n{airflow.shape}: {len(deferred)} of 20 tasks deferred; stale executor success drained after "
        f"deferral: median {statistics.median(windows) if windows else float('nan'):.2f} s, "
        f"max {max(windows, default=float('nan')):.2f} s ({windows})"
    )
