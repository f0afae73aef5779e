"""50 mapped tasks under 30% transient faults on every RPC, sync and deferrable: true states, one job each."""

from __future__ import annotations

import pytest
from dag_files import dags_folder, load_dag

from airflow_batchstream import retry
from airflow_batchstream.emulator import Scenario

pytestmark = pytest.mark.integration

TASKS = 50
FAILING = {3, 17, 31, 44}
MAPPED_DAG = """
from datetime import datetime

from airflow.sdk import DAG

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    BatchStreamSubmitJobOperator.partial(
        task_id="job",
        region="us-central1",
        image_uri="us-central1-docker.pkg.dev/demo-project/containers/debian:12",
        poll_interval=0.05,
        deferrable={deferrable!r},
    ).expand(labels={labels!r})
"""


@pytest.fixture
def batch_emulator_options():
    return {
        "queued_seconds": 0.02,
        "scheduled_seconds": 0.02,
        "run_seconds": 0.05,
        "cancel_seconds": 0.05,
        "delete_seconds": 0.05,
    }


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_every_task_ends_in_its_jobs_true_state_with_one_job_each(batch_emulator, monkeypatch, deferrable):
    # The policy is unchanged; only its first backoff is shortened to keep 50 tasks fast.
    monkeypatch.setattr(retry, "INITIAL_BACKOFF", 0.01)
    dag_id = f"fault_storm_{'deferrable' if deferrable else 'sync'}"
    labels = [{"case": "fail" if index in FAILING else "ok"} for index in range(TASKS)]
    (dags_folder() / f"{dag_id}.py").write_text(
        MAPPED_DAG.format(dag_id=dag_id, deferrable=deferrable, labels=labels)
    )
    batch_emulator.add_scenario(Scenario(exit_code=9), labels={"case": "fail"})
    batch_emulator.set_faults(0.3, seed=5, fault_after_commit=0.5)

    dag_run = load_dag(dag_id).test()

    batch_emulator.clear_faults()
    faults = batch_emulator.faults_injected()
    assert faults.get("CreateJob", 0) > 0 and faults.get("GetJob", 0) > 0, faults
    assert batch_emulator.jobs_created() == TASKS
    client = batch_emulator.client()
    jobs = [client.get_job(name=name) for name in batch_emulator.job_names()]
    assert len(jobs) == TASKS
    tis = {ti.map_index: ti for ti in dag_run.get_task_instances()}
    assert len(tis) == TASKS
    states = {int(job.labels["airflow-map-index"]): job.status.state.name for job in jobs}
    for index, ti in tis.items():
        expected_job_state = "FAILED" if index in FAILING else "SUCCEEDED"
        assert states[index] == expected_job_state
        assert ti.state == ("failed" if index in FAILING else "success"), (index, ti.state)
