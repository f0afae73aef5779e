"""A worker dies after CreateJob: the next try reattaches to the job (or returns it if it succeeded)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dag_files import dags_folder, load_dag
from waiting_helpers import IMAGE, job_state

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
WORKER = """
import sys
sys.path.insert(0, {tests!r})
from dag_files import load_dag
load_dag({dag_id!r}).test()
"""


def run_first_try_and_kill_it(dag_id: str) -> None:
    """Run the DAG in a child process; SIGKILL it once the task logged its submission."""
    script = WORKER.format(tests=str(Path(__file__).parents[1]), dag_id=dag_id)
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
        text=True,
    )
    try:
        assert child.stdout is not None
        for line in child.stdout:  # bounded by the child: it ends, or logs the submission
            if "Submitted Batch job" in line:
                break
        else:
            pytest.fail("the first try never submitted its job")
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)


def run_next_try(dag_id: str):
    """Give the killed task instance its next try and run it the way dag.test() runs a try."""
    from airflow.models.dagrun import DagRun
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    dag = load_dag(dag_id)
    with create_session() as session:
        (dag_run,) = session.query(DagRun).filter_by(dag_id=dag_id).all()
        (ti,) = dag_run.get_task_instances(session=session)
        assert (ti.state, ti.try_number) == ("running", 1)  # the dead worker never reported back
        # What the scheduler does with a task whose worker died: another try.
        ti.try_number += 1
        ti.state = TaskInstanceState.SCHEDULED
        session.merge(ti)
    with create_session() as session:
        (dag_run,) = session.query(DagRun).filter_by(dag_id=dag_id).all()
        (ti,) = dag_run.get_task_instances(session=session)
        session.expunge_all()
    _run_task(ti=ti, task=dag.task_dict["job"], run_triggerer=True)
    with create_session() as session:
        (dag_run,) = session.query(DagRun).filter_by(dag_id=dag_id).all()
        (ti,) = dag_run.get_task_instances(session=session)
        return ti.state, ti.try_number


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

    assert run_next_try(dag_id) == ("success", 2)
    assert batch_emulator.jobs_created() == 1
    assert batch_emulator.job_names() == [name]
    assert job_state(batch_emulator, name) == "SUCCEEDED"
    assert f"Reattaching to Batch job {name} of try 1" in "".join(capfd.readouterr())
