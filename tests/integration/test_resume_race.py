"""Against Airflow 3.3's resume race: a quick job ends in the worker, a deferred task resumes after the hold.

``dag.test()`` has no executor, so no race: the emulator's fixture turns the hold off, these tests on.
"""

from __future__ import annotations

import pytest
from waiting_helpers import write_dag

from airflow_batchstream.deferral import RESUME_HOLD_ENV

pytestmark = pytest.mark.integration


def test_a_deferrable_task_on_a_quick_job_ends_in_the_worker(batch_emulator, monkeypatch, capfd):
    monkeypatch.setenv(RESUME_HOLD_ENV, "10")  # the emulator's job ends within a second: before 3.5 s
    dag_run = write_dag("quick_job_no_deferral", "deferrable=True").test()

    (ti,) = dag_run.get_task_instances()
    assert ti.state == "success"
    assert ti.xcom_pull(task_ids="job")["state"] == "SUCCEEDED"
    log = "".join(capfd.readouterr())
    assert "Deferring" not in log
    assert "is SUCCEEDED" in log


@pytest.mark.batch_emulator(run_seconds=4.0)
def test_a_deferred_task_on_a_quick_job_resumes_no_sooner_than_the_hold(batch_emulator, monkeypatch, capfd):
    # The job ends about 4.4 s after its creation: after the worker's look at young jobs (3.5 s), and
    # within a second of deferring; its event waits for the rest of the hold.
    monkeypatch.setenv(RESUME_HOLD_ENV, "3")
    dag_run = write_dag("quick_job_held", "deferrable=True").test()

    (ti,) = dag_run.get_task_instances()
    assert ti.state == "success"
    log = "".join(capfd.readouterr())
    assert "Deferring" in log
    assert "is SUCCEEDED; resuming the task in" in log, log[-3000:]
