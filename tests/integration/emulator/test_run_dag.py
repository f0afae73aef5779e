"""``run_dag`` and the DAG-aimed scenarios of the pytest plugin, through real Airflow and the emulator."""

from __future__ import annotations

import pytest
from dag_files import dags_folder

from airflow_batchstream.emulator import BatchEmulator
from airflow_batchstream.emulator.dag_runs import DagRunner

pytestmark = pytest.mark.integration

IMAGE = "us-central1-docker.pkg.dev/demo-project/containers/debian:12"
# A dotted, upper-case DAG id (labelled marketing-daily_spend), a deferrable task with the default
# 10 s poll interval, a script task that prints, and a downstream task reading the summary.
SPEND_DAG = """
from datetime import datetime

from airflow.sdk import DAG, task

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

SCRIPT = {"script": {"text": "echo spend={{ params.day }}"}}
LOGS = {"destination": "CLOUD_LOGGING"}

with DAG("Marketing.daily_spend", schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    load = BatchStreamSubmitJobOperator(
        task_id="load", region="us-central1", image_uri="IMAGE", commands=["load", "{{ ds }}"],
        deferrable=True,
    )
    report = BatchStreamSubmitJobOperator(
        task_id="report",
        region="us-central1",
        job={"taskGroups": [{"taskSpec": {"runnables": [SCRIPT]}}], "logsPolicy": LOGS},
        params={"day": "none"},
    )

    @task
    def state_of(summary):
        return summary["state"]

    load >> report
    state_of(load.output)
""".replace("IMAGE", IMAGE)


@pytest.fixture(scope="module", autouse=True)
def _spend_dag() -> None:
    (dags_folder() / "marketing_daily_spend.py").write_text(SPEND_DAG)


def test_run_dag_reports_states_summaries_and_jobs(run_dag: DagRunner, batch_emulator: BatchEmulator) -> None:
    result = run_dag("Marketing.daily_spend", conf={"day": "2026-03-01"}, logical_date="2026-03-01T00:00:00")

    assert result.state == "success"
    assert {key: task.state for key, task in result.tasks.items()} == {
        "load": "success",
        "report": "success",
        "state_of": "success",
    }
    assert result.tasks["load"].summary["state"] == "SUCCEEDED"
    assert result.tasks["state_of"].summary == "SUCCEEDED"
    assert result.tasks["load"].exception is None

    load = result.job("load")
    assert load.state == "SUCCEEDED"
    assert load.labels["airflow-dag-id"] == "marketing-daily_spend"
    assert load.name == result.tasks["load"].summary["job_name"]
    assert f"{IMAGE}: load 2026-03-01" in load.output
    assert result.job("report").output == "spend=2026-03-01"
    assert batch_emulator.jobs_created() == 2


def test_fail_task_aims_by_dag_and_task_id_as_written(
    run_dag: DagRunner, batch_emulator: BatchEmulator
) -> None:
    batch_emulator.fail_task("Marketing.daily_spend", "load", exit_code=3)

    result = run_dag("Marketing.daily_spend")

    assert result.state == "failed"
    assert result.tasks["load"].state == "failed"
    assert result.tasks["report"].state == "upstream_failed"
    exception = result.tasks["load"].exception
    assert exception is not None and "exit code" in exception and "3" in exception
    assert result.job("load").state == "FAILED"
    with pytest.raises(LookupError, match="submitted no Batch job"):
        result.job("report")


def test_preempt_task_fails_the_task_as_a_preemption(
    run_dag: DagRunner, batch_emulator: BatchEmulator
) -> None:
    batch_emulator.preempt_task("Marketing.daily_spend", "report")

    result = run_dag("Marketing.daily_spend")

    assert result.tasks["load"].state == "success"
    assert result.tasks["report"].state == "failed"
    assert "50001" in (result.tasks["report"].exception or "")


def test_a_deferrable_task_waits_as_long_as_the_emulator_job(run_dag: DagRunner) -> None:
    # The DAG keeps its 10 s poll interval; under the plugin the waits follow the emulator's timings.
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    result = run_dag("Marketing.daily_spend")
    assert result.state == "success"
    with create_session() as session:
        tries = session.query(TaskInstance).filter_by(dag_id=result.dag_id, run_id=result.run_id).all()
        took = {ti.task_id: (ti.end_date - ti.start_date).total_seconds() for ti in tries}
    # Each job is still running at the task's first look (it takes about 1 s), so a 10 s poll interval
    # would make each of these tries last at least 10 s; the run's own start-up is left out.
    assert took["load"] < 10 and took["report"] < 10, f"the tries took {took}: a 10 s poll interval applied"


def test_an_unknown_dag_names_the_folder_and_the_option(run_dag: DagRunner) -> None:
    with pytest.raises(LookupError, match=r"no DAG 'nope' in .*--batchstream-dags-folder"):
        run_dag("nope")
