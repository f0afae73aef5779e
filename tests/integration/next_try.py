"""Give a DAG run's one task instance its next try, as the scheduler would after a crash or a clear."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from dag_files import load_dag

from airflow_batchstream.airflow_version import installed_airflow_version, release

#: Whether this Airflow has the task state store (3.3+) a try records its job in, so a later try can
#: reattach; before it, a try cancels its earlier tries' active jobs and submits its own.
TASK_STATE_STORE = release(installed_airflow_version() or "") >= (3, 3)

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


def run_next_try(dag_id: str, *, clear: bool, expect_state: str | None = None) -> Any:
    """
    Give the task instance of the DAG's one run its next try and run it the way ``dag.test()`` runs a try.

    :param dag_id: a DAG with one task, ``job``, and one run in the database.
    :param clear: clear it the way the UI's Clear does (a re-run); otherwise hand it the next try the
        way the scheduler does after the try's worker died.
    :param expect_state: the state the task instance must be in before, when given.
    :return: the task instance after the try.
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import clear_task_instances
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState

    def the_ti(session: Any) -> Any:
        (dag_run,) = session.query(DagRun).filter_by(dag_id=dag_id).all()
        (ti,) = dag_run.get_task_instances(session=session)
        return ti

    dag = load_dag(dag_id)
    with create_session() as session:
        ti = the_ti(session)
        if expect_state is not None:
            assert ti.state == expect_state
        if clear:
            clear_task_instances([ti], session)
            # The clear queued the run; the scheduler starts it again (Airflow 3.1 and 3.2 then need a
            # start date to hand the try its context).
            (dag_run,) = session.query(DagRun).filter_by(dag_id=dag_id).all()
            dag_run.state = DagRunState.RUNNING
            dag_run.start_date = dag_run.start_date or datetime.now(timezone.utc)
        ti = the_ti(session)
        ti.try_number += 1  # what the scheduler does when it schedules the next try
        ti.state = TaskInstanceState.SCHEDULED
        session.merge(ti)
    with create_session() as session:
        ti = the_ti(session)
        session.expunge_all()
    _run_task(ti=ti, task=dag.task_dict["job"], run_triggerer=True)
    with create_session() as session:
        ti = the_ti(session)
        session.expunge_all()
        return ti
