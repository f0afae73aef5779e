"""Cancel, delete, list jobs and list tasks from a DAG: real Airflow (dag.test()) against the emulator."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest
from dag_files import one_task_dag, task_xcoms
from waiting_helpers import PARENT, create_job, job_state, wait_until_ended

from airflow_batchstream.emulator import Scenario
from airflow_batchstream.links.batch import BatchStreamJobLink, BatchStreamJobLogsLink
from airflow_batchstream.operators.lifecycle import BatchStreamCancelJobOperator, BatchStreamDeleteJobOperator
from airflow_batchstream.operators.listing import BatchStreamListJobsOperator, BatchStreamListTasksOperator
from airflow_batchstream.validation.violations import ArgumentError

pytestmark = pytest.mark.integration

CANCEL = "airflow_batchstream.operators.lifecycle.BatchStreamCancelJobOperator"
DELETE = "airflow_batchstream.operators.lifecycle.BatchStreamDeleteJobOperator"
LIST_JOBS = "airflow_batchstream.operators.listing.BatchStreamListJobsOperator"
LIST_TASKS = "airflow_batchstream.operators.listing.BatchStreamListTasksOperator"
WAITS = pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])


def run(dag_id: str, operator: str, **kwargs):
    """Run a one-task DAG; return its task instance and the task's XComs."""
    dag_run = one_task_dag(dag_id, operator, **kwargs).test()
    (ti,) = dag_run.get_task_instances()
    return ti, task_xcoms(dag_run, "task")


def held_job(emulator, job_id: str, **labels: str) -> str:
    """A job that stays QUEUED until released."""
    emulator.add_scenario(Scenario(hold_in_queue=True), job_id=job_id)
    return create_job(emulator, job_id, labels=labels or None)


def ended_job(emulator, job_id: str, exit_code: int = 0, **labels: str) -> str:
    """A job that has run to its end (SUCCEEDED, or FAILED with ``exit_code``)."""
    if exit_code:
        emulator.add_scenario(Scenario(exit_code=exit_code), job_id=job_id)
    name = create_job(emulator, job_id, labels=labels or None)
    wait_until_ended(emulator, name)
    return name


# ------------------------------------------------------------------------------------------ cancel


@WAITS
@pytest.mark.batch_emulator(cancel_seconds=1.5)  # the retried CancelJob finds it still cancelling
def test_cancel_waits_until_cancelled_through_lost_answers_and_flaky_reads(batch_emulator, capfd, deferrable):
    name = held_job(batch_emulator, "to-cancel")
    batch_emulator.fail_next("CancelJob", "UNAVAILABLE", after_commit=True)  # cancelled, answer lost
    batch_emulator.set_faults(rate=0.3, methods=["GetJob"], seed=3)
    ti, xcoms = run(f"cancel_{deferrable}", CANCEL, job_name=name, poll_interval=0.2, deferrable=deferrable)
    batch_emulator.clear_faults()  # the test's own reads below must not meet them
    assert ti.state == "success"
    assert xcoms["return_value"]["state"] == "CANCELLED"
    assert job_state(batch_emulator, name) == "CANCELLED"
    assert xcoms[BatchStreamJobLink.key] == BatchStreamJobLink.url(name, xcoms["return_value"]["uid"])
    assert xcoms[BatchStreamJobLogsLink.key].endswith("?project=demo-project")
    log = "".join(capfd.readouterr())
    assert ("Deferring: the triggerer waits" in log) == deferrable
    assert f"Batch job {name} is CANCELLED." in log


@pytest.mark.batch_emulator(cancel_seconds=30)
def test_a_job_deleted_while_it_is_cancelled_ends_the_wait(batch_emulator, capfd):
    name = held_job(batch_emulator, "cancel-then-vanish")

    def vanish_once_cancelling() -> None:
        deadline = time.monotonic() + 60
        while batch_emulator.rpc_counts().get("CancelJob", 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        batch_emulator.vanish_job(name)

    threading.Thread(target=vanish_once_cancelling, daemon=True).start()
    ti, xcoms = run("cancel_vanished", CANCEL, job_name=name, poll_interval=0.2)
    assert ti.state == "success"
    assert xcoms["return_value"]["state"] == "NOT_FOUND"
    assert f"Batch job {name} was deleted while it was being cancelled." in "".join(capfd.readouterr())


def test_cancel_without_waiting_returns_while_the_cancellation_runs(batch_emulator):
    batch_emulator.add_scenario(Scenario(hold_in_queue=True), job_id="slow-cancel")
    create_job(batch_emulator, "slow-cancel")
    kwargs = {"region": "us-central1", "job_id": "slow-cancel", "wait_for_completion": False}
    ti, xcoms = run("cancel_no_wait", CANCEL, **kwargs)
    assert ti.state == "success"
    assert xcoms["return_value"]["state"] == "CANCELLATION_IN_PROGRESS"


@pytest.mark.parametrize("exit_code", [0, 3], ids=["succeeded", "failed"])
def test_cancelling_a_job_that_already_ended_is_not_an_error(batch_emulator, capfd, exit_code):
    name = ended_job(batch_emulator, f"ended-{exit_code}", exit_code)
    batch_emulator.reset_counts()
    ti, xcoms = run(f"cancel_ended_{exit_code}", CANCEL, job_name=name)
    assert ti.state == "success"
    state = "FAILED" if exit_code else "SUCCEEDED"
    assert xcoms["return_value"]["state"] == state
    assert f"Batch job {name} has already ended {state}: nothing to cancel." in "".join(capfd.readouterr())
    assert "CancelJob" not in batch_emulator.rpc_counts()


def test_cancelling_a_missing_job_fails_without_retry(batch_emulator, capfd):
    ti, _ = run("cancel_missing", CANCEL, job_name=f"{PARENT}/jobs/nobody", retries=2)
    assert ti.state == "failed"
    assert f"Batch job {PARENT}/jobs/nobody does not exist: nothing to cancel." in "".join(capfd.readouterr())


def test_a_permanent_api_error_fails_the_cancel(batch_emulator, capfd):
    name = held_job(batch_emulator, "denied")
    batch_emulator.fail_next("CancelJob", "PERMISSION_DENIED")
    ti, _ = run("cancel_denied", CANCEL, job_name=name)
    assert ti.state == "failed"
    assert job_state(batch_emulator, name) == "QUEUED"


# ------------------------------------------------------------------------------------------ delete


@WAITS
@pytest.mark.batch_emulator(delete_seconds=1.5)  # the retried DeleteJob finds it still being deleted
def test_delete_waits_until_the_job_is_gone(batch_emulator, capfd, deferrable):
    name = ended_job(batch_emulator, f"to-delete-{deferrable}".lower())
    batch_emulator.fail_next("DeleteJob", "UNAVAILABLE", after_commit=True)  # deleting, answer lost
    batch_emulator.set_faults(rate=0.3, methods=["GetJob"], seed=5)
    ti, xcoms = run(f"delete_{deferrable}", DELETE, job_name=name, poll_interval=0.2, deferrable=deferrable)
    assert ti.state == "success"
    assert xcoms["return_value"] == {
        "job_name": name,
        "job_id": name.rsplit("/")[-1],
        "state": "NOT_FOUND",
        "gone": True,
    }
    assert name not in batch_emulator.job_names()
    log = "".join(capfd.readouterr())
    assert f"Asked Batch to delete job {name}, which was SUCCEEDED." in log
    assert f"Batch job {name} is gone." in log
    assert ("Deferring: the triggerer waits" in log) == deferrable


@pytest.mark.batch_emulator(cancel_seconds=0, delete_seconds=0)
@pytest.mark.parametrize("operator", [CANCEL, DELETE])
def test_a_request_done_before_its_lost_answer_is_retried_is_success(batch_emulator, capfd, operator):
    verb = "Cancel" if operator == CANCEL else "Delete"
    name = held_job(batch_emulator, f"instant-{verb.lower()}")
    batch_emulator.fail_next(f"{verb}Job", "UNAVAILABLE", after_commit=True)
    ti, xcoms = run(f"instant_{verb.lower()}", operator, job_name=name)
    assert ti.state == "success"
    assert batch_emulator.rpc_counts()[f"{verb}Job"] == 2
    log = "".join(capfd.readouterr())
    if operator == CANCEL:
        assert job_state(batch_emulator, name) == "CANCELLED"
        assert f"Batch job {name} has already ended CANCELLED: nothing to cancel." in log
    else:
        assert name not in batch_emulator.job_names()
        assert xcoms["return_value"]["gone"] is True
        assert f"Batch job {name} is gone." in log


def test_deleting_a_queued_job_stops_it(batch_emulator, capfd):
    name = held_job(batch_emulator, "queued-delete")
    ti, xcoms = run("delete_queued", DELETE, region="us-central1", job_id="queued-delete", poll_interval=0.2)
    assert ti.state == "success"
    assert xcoms["return_value"]["gone"] is True
    assert name not in batch_emulator.job_names()
    assert f"Asked Batch to delete job {name}, which was QUEUED." in "".join(capfd.readouterr())


def test_delete_without_waiting_returns_while_the_deletion_runs(batch_emulator):
    name = ended_job(batch_emulator, "slow-gone")
    ti, xcoms = run("delete_no_wait", DELETE, job_name=name, wait_for_completion=False)
    assert ti.state == "success"
    assert xcoms["return_value"]["state"] == "DELETION_IN_PROGRESS"
    assert xcoms["return_value"]["gone"] is False


@pytest.mark.parametrize(("must_exist", "expected"), [(False, "success"), (True, "failed")])
def test_a_missing_job_is_success_unless_it_must_exist(batch_emulator, capfd, must_exist, expected):
    name = f"{PARENT}/jobs/nobody"
    ti, xcoms = run(f"delete_missing_{must_exist}", DELETE, job_name=name, must_exist=must_exist)
    assert ti.state == expected
    log = "".join(capfd.readouterr())
    if must_exist:
        assert f"Batch job {name} does not exist (must_exist=True)." in log
    else:
        assert xcoms["return_value"] == {
            "job_name": name,
            "job_id": "nobody",
            "state": "NOT_FOUND",
            "gone": True,
        }
        assert f"Batch job {name} does not exist: nothing to delete." in log
    assert "DeleteJob" not in batch_emulator.rpc_counts()


@pytest.mark.batch_emulator(delete_seconds=30)
def test_a_deletion_slower_than_the_timeout_fails_the_task(batch_emulator, capfd):
    name = ended_job(batch_emulator, "slow-delete")
    ti, _ = run("delete_slow", DELETE, job_name=name, poll_interval=0.2, timeout=1)
    assert ti.state == "failed"
    assert f"Batch job {name} was still DELETION_IN_PROGRESS after timeout=1s." in "".join(capfd.readouterr())


# ------------------------------------------------------------------------------------------- lists


def test_list_jobs_by_labels_and_states_newest_first_within_limit(batch_emulator):
    old_ok = ended_job(batch_emulator, "etl-1", pipeline="etl")
    failed = ended_job(batch_emulator, "etl-2", exit_code=2, pipeline="etl")
    new_ok = ended_job(batch_emulator, "etl-3", pipeline="etl")
    held_job(batch_emulator, "etl-4", pipeline="etl")
    ended_job(batch_emulator, "other-1", pipeline="other")
    batch_emulator.fail_next("ListJobs", "UNAVAILABLE")
    kwargs = {"region": "us-central1", "labels": {"pipeline": "etl"}, "states": ["SUCCEEDED", "FAILED"]}
    ti, xcoms = run("list_etl", LIST_JOBS, **kwargs)
    assert ti.state == "success"
    summaries = xcoms["return_value"]
    assert [s["job_name"] for s in summaries] == [new_ok, failed, old_ok]
    assert [s["state"] for s in summaries] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert set(summaries[0]) >= {"job_id", "uid", "create_time", "end_time", "task_counts", "console_url"}
    assert not {"task_groups", "environment", "job"} & set(summaries[0])
    ti, xcoms = run("list_etl_limit", LIST_JOBS, limit=1, **kwargs)
    assert [s["job_name"] for s in xcoms["return_value"]] == [new_ok]


def test_list_jobs_created_before_a_time(batch_emulator):
    first = create_job(batch_emulator, "first")
    time.sleep(0.05)
    cutoff = datetime.now(timezone.utc).isoformat()
    time.sleep(0.05)
    create_job(batch_emulator, "second")
    ti, xcoms = run("list_before", LIST_JOBS, region="us-central1", created_before=cutoff)
    assert ti.state == "success"
    assert [s["job_name"] for s in xcoms["return_value"]] == [first]


def test_list_tasks_shows_which_failed_with_what_exit_code_and_retries(batch_emulator, capfd):
    batch_emulator.add_scenario(Scenario(exit_code=7, task_index=1), job_id="three-tasks")
    name = create_job(batch_emulator, "three-tasks", task_count=3, max_retry_count=1)
    assert wait_until_ended(batch_emulator, name) == "FAILED"
    ti, xcoms = run("list_tasks_all", LIST_TASKS, job_name=name)
    assert ti.state == "success"
    tasks = xcoms["return_value"]
    assert [(t["index"], t["state"], t["exit_code"], t["retry_attempts"]) for t in tasks] == [
        (0, "SUCCEEDED", 0, 0),
        (1, "FAILED", 7, 1),
        (2, "SUCCEEDED", 0, 0),
    ]
    assert all(t["start_time"] and t["end_time"] and t["start_time"] <= t["end_time"] for t in tasks)
    assert "Failed tasks: 1 (exit code 7)." in "".join(capfd.readouterr())
    batch_emulator.fail_next("ListTasks", "UNAVAILABLE")
    ti, xcoms = run("list_tasks_failed", LIST_TASKS, job_name=name, states=["FAILED"])
    assert [t["index"] for t in xcoms["return_value"]] == [1]


def test_list_tasks_of_a_missing_job_fails(batch_emulator, capfd):
    ti, _ = run("list_tasks_missing", LIST_TASKS, region="us-central1", job_id="nobody")
    assert ti.state == "failed"
    assert f"Batch job {PARENT}/jobs/nobody does not exist: no tasks to list." in "".join(capfd.readouterr())


# ------------------------------------------------------------------------------------ bad arguments


def _refused(make) -> list[tuple[str, str]]:
    """Build an operator that must be refused; return its problems as (path, rule)."""
    with pytest.raises(ArgumentError) as refused:
        make()
    return [(violation.path, violation.rule) for violation in refused.value.violations]


def test_bad_arguments_are_refused_all_at_once_when_the_dag_is_parsed():
    name = f"{PARENT}/jobs/j"
    assert _refused(
        lambda: BatchStreamCancelJobOperator(
            task_id="c", job_name=name, job_id="j", poll_interval=0, timeout=-1
        )
    ) == [("job_name", "bad-argument"), ("poll_interval", "bad-argument"), ("timeout", "bad-argument")]
    assert _refused(lambda: BatchStreamDeleteJobOperator(task_id="d", job_id="j")) == [
        ("region", "bad-argument")
    ]
    assert _refused(lambda: BatchStreamDeleteJobOperator(task_id="d", job_name=name, must_exist="yes")) == [
        ("must_exist", "bad-argument")
    ]
    assert _refused(
        lambda: BatchStreamListJobsOperator(task_id="l", region="us-central1", states=["DONE"], limit=-1)
    ) == [("states", "bad-argument"), ("limit", "bad-argument")]
    assert _refused(lambda: BatchStreamListTasksOperator(task_id="t", job_name=name, states="FAILED")) == [
        ("states", "bad-argument")
    ]


@pytest.mark.parametrize(
    ("operator", "kwargs", "problem"),
    [
        (CANCEL, {"job_name": "{{ 'jobs/j' }}"}, "job_name: [bad-job-name]"),
        (DELETE, {"region": "{{ 'us-central1-a' }}", "job_id": "j"}, "region: [bad-region]"),
        (
            LIST_JOBS,
            {"region": "us-central1", "created_before": "{{ 'last week' }}"},
            "created_before: [bad-argument]",
        ),
        (LIST_TASKS, {"region": "us-central1", "job_id": "{{ 'Job_1' }}"}, "job_id: [bad-job-id]"),
    ],
    ids=["cancel", "delete", "list-jobs", "list-tasks"],
)
def test_bad_rendered_arguments_fail_the_task_before_any_call(
    batch_emulator, capfd, operator, kwargs, problem
):
    ti, _ = run(f"rendered_{operator.rsplit('.', 1)[1].lower()}", operator, **kwargs)
    assert ti.state == "failed"
    assert problem in "".join(capfd.readouterr())
    assert batch_emulator.rpc_counts() == {}
