"""A worker dies after CreateJob: the next try reattaches to the job (or returns it if it succeeded).

Before Airflow 3.3 (no task state store) the next try cannot tell a dead try from a cleared one: it
cancels the earlier job if still active and submits its own.
"""

from __future__ import annotations

import time

import pytest
from dag_files import dags_folder
from next_try import TASK_STATE_STORE, run_first_try_and_kill_it, run_next_try
from waiting_helpers import IMAGE, job_state

from airflow_batchstream.emulator import Scenario

pytestmark = pytest.mark.integration

DAG_SOURCE = """
from datetime import datetime

from airflow.sdk import DAG

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    BatchStreamSubmitJobOperator(
        task_id="job",
        region="us-central1",
        image_uri={image!r},
        poll_interval=0.1,
        retries=1,
        deferrable={deferrable!r},
        labels={{"emulator-run-seconds": "2"}},
    )
"""


@pytest.mark.parametrize(
    ("deferrable", "finished_meanwhile"),
    # A child process costs ~10 s of Airflow start-up: two cover both reattach outcomes and both
    # waiting modes (which job to wait for is decided before, and independently of, the mode).
    [(True, False), (False, True)],
    ids=["deferrable-reattach", "sync-succeeded-meanwhile"],
)
def test_next_try_reattaches_to_the_dead_workers_job(batch_emulator, deferrable, finished_meanwhile, capfd):
    dag_id = f"worker_death_{deferrable}_{finished_meanwhile}"
    (dags_folder() / f"{dag_id}.py").write_text(
        DAG_SOURCE.format(dag_id=dag_id, image=IMAGE, deferrable=deferrable)
    )
    if not TASK_STATE_STORE and not finished_meanwhile:
        # Try 1's job must still be active when try 2 looks (Airflow's start-up takes longer than the job).
        batch_emulator.add_scenario(Scenario(hold_in_queue=True), labels={"airflow-try-number": "1"})
    run_first_try_and_kill_it(dag_id)
    (name,) = batch_emulator.job_names()
    assert name.endswith("-t1")
    if finished_meanwhile:
        deadline = time.monotonic() + 30
        while job_state(batch_emulator, name) != "SUCCEEDED" and time.monotonic() < deadline:
            time.sleep(0.2)
    else:
        assert job_state(batch_emulator, name) in {"QUEUED", "SCHEDULED", "RUNNING"}
    capfd.readouterr()

    ti = run_next_try(dag_id, clear=False, expect_state="running")  # the dead worker never reported back
    assert (ti.state, ti.try_number) == ("success", 2)
    if not TASK_STATE_STORE:
        (second,) = [other for other in batch_emulator.job_names() if other != name]
        assert second.endswith("-t2")
        assert job_state(batch_emulator, second) == "SUCCEEDED"
        if finished_meanwhile:
            assert job_state(batch_emulator, name) == "SUCCEEDED"
        else:
            assert job_state(batch_emulator, name) in {"CANCELLED", "CANCELLATION_IN_PROGRESS"}
            assert f"Cancelling Batch job {name}" in "".join(capfd.readouterr())
        return
    assert batch_emulator.jobs_created() == 1
    assert batch_emulator.job_names() == [name]
    assert job_state(batch_emulator, name) == "SUCCEEDED"
    assert f"Reattaching to Batch job {name}" in "".join(capfd.readouterr())
