"""A re-run is a new job: a clear, a retry after a normal end, a fixed job_id on another run, map indexes."""

from __future__ import annotations

import pytest
from dag_files import dags_folder, load_dag
from next_try import run_first_try_and_kill_it, run_next_try
from waiting_helpers import IMAGE, MODES, PARENT, create_job, job_state, write_dag

from airflow_batchstream.emulator import Scenario

pytestmark = pytest.mark.integration


def states(emulator) -> list[str]:
    return [job_state(emulator, name) for name in sorted(emulator.job_names())]


@MODES
def test_clearing_a_successful_task_runs_a_new_job(batch_emulator, deferrable):
    dag_run = write_dag(f"clear_success_{deferrable}", f"deferrable={deferrable}").test()
    (ti,) = dag_run.get_task_instances()
    assert ti.state == "success"
    (first,) = batch_emulator.job_names()

    ti = run_next_try(f"clear_success_{deferrable}", clear=True, expect_state="success")
    assert (ti.state, ti.try_number) == ("success", 2)
    assert batch_emulator.jobs_created() == 2
    assert states(batch_emulator) == ["SUCCEEDED", "SUCCEEDED"]
    assert ti.xcom_pull(task_ids="job")["job_name"] != first


def test_clearing_a_failed_task_runs_a_new_job(batch_emulator):
    batch_emulator.add_scenario(Scenario(exit_code=3), labels={"airflow-try-number": "1"})
    dag_run = write_dag("clear_failed", "deferrable=False").test()
    (ti,) = dag_run.get_task_instances()
    assert ti.state == "failed"

    ti = run_next_try("clear_failed", clear=True, expect_state="failed")
    assert (ti.state, ti.try_number) == ("success", 2)
    assert batch_emulator.jobs_created() == 2
    assert states(batch_emulator) == ["FAILED", "SUCCEEDED"]


def test_clearing_a_task_whose_job_still_runs_cancels_it_and_runs_a_new_one(batch_emulator):
    # A try's worker died and left its job running; the user then clears the task to re-run it: the
    # re-run does not adopt the old job, and never leaves two jobs running.
    batch_emulator.add_scenario(Scenario(hold_in_queue=True), labels={"airflow-try-number": "1"})
    write_dag("clear_running", "deferrable=True")
    run_first_try_and_kill_it("clear_running")
    (first,) = batch_emulator.job_names()

    ti = run_next_try("clear_running", clear=True, expect_state="running")
    assert (ti.state, ti.try_number) == ("success", 2)
    assert batch_emulator.jobs_created() == 2
    assert job_state(batch_emulator, first) in {"CANCELLED", "CANCELLATION_IN_PROGRESS"}


def test_a_retry_after_a_normal_failure_submits_a_new_job(batch_emulator, capfd):
    batch_emulator.add_scenario(Scenario(exit_code=1), labels={"airflow-try-number": "1"})
    dag_run = write_dag("retry_after_failure", "retries=1, retry_delay=0, deferrable=True").test()
    (ti,) = dag_run.get_task_instances()
    assert (ti.state, ti.try_number) == ("success", 2)
    assert states(batch_emulator) == ["FAILED", "SUCCEEDED"]
    assert "Reattaching" not in "".join(capfd.readouterr())


@MODES
def test_a_fixed_job_id_never_adopts_another_runs_job(batch_emulator, deferrable, capfd):
    # Day 1's job, made by another run of the same DAG and task: day 2 must not return its summary.
    labels = {"airflow-dag-id": "nightly", "airflow-task-id": "job", "airflow-run-id": "day-1"}
    create_job(batch_emulator, "nightly-etl", labels=labels)
    batch_emulator.reset_counts()
    dag_run = write_dag(
        f"nightly_{deferrable}", f"job_id='nightly-etl', retries=1, deferrable={deferrable}"
    ).test()
    (ti,) = dag_run.get_task_instances()
    assert (ti.state, ti.try_number) == ("failed", 1)  # refused before any wait, and not retried
    assert batch_emulator.rpc_counts().get("GetJob") == 1
    log = "".join(capfd.readouterr())
    assert "belongs to DAG nightly, task job, run day-1" in log
    assert 'job_id="nightly-{{ ds_nodash }}"' in log


def test_a_fixed_job_id_refuses_a_job_of_no_airflow_task(batch_emulator, capfd):
    create_job(batch_emulator, "given-id")
    dag_run = write_dag("given_id_foreign", "job_id='given-id'").test()
    (ti,) = dag_run.get_task_instances()
    assert ti.state == "failed"
    assert "belongs to no Airflow task" in "".join(capfd.readouterr())


def test_a_job_id_in_partial_gives_each_map_index_its_own_job(batch_emulator):
    dag_id = "mapped_job_id"
    (dags_folder() / f"{dag_id}.py").write_text(
        f"""
from datetime import datetime

from airflow.sdk import DAG

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    BatchStreamSubmitJobOperator.partial(
        task_id="job", region="us-central1", image_uri={IMAGE!r}, poll_interval=0.1, job_id="shard"
    ).expand(commands=[["a"], ["b"], ["c"]])
"""
    )
    dag_run = load_dag(dag_id).test()
    assert sorted(ti.state for ti in dag_run.get_task_instances()) == ["success"] * 3
    assert sorted(batch_emulator.job_names()) == [f"{PARENT}/jobs/shard-{index}" for index in range(3)]
