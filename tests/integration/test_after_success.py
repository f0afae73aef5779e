"""After the job SUCCEEDED nothing fails the task: metrics, output, links and summary extras only warn."""

from __future__ import annotations

import pytest
from dag_files import dags_folder, load_dag
from waiting_helpers import IMAGE

pytestmark = pytest.mark.integration

DAG_SOURCE = """
from datetime import datetime

from airflow.sdk import DAG

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    BatchStreamSubmitJobOperator(
        task_id="job", region="us-central1", image_uri={image!r}, poll_interval=0.1, deferrable={deferrable!r}
    )
"""


def _broken(*args, **kwargs):
    raise RuntimeError("injected side-effect failure")


# (what breaks, where to patch it, the warning the task log shows)
FAILURES = {
    "metrics": ("airflow_batchstream.metrics.emit_job_metrics", "Sending the job's metrics failed"),
    "output": ("airflow_batchstream.logs.JobLogFetcher.fetch", "output"),
    "logging-client": ("airflow_batchstream.watch.fetcher_for_hook", "failed (RuntimeError"),
    "links": ("airflow_batchstream.links.batch.persist_job_links", "Storing the job's links failed"),
    "summary-extra": ("airflow_batchstream.urls.console_job_url", "console_url left out"),
}


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failing_side_effect_is_one_warning_not_a_failed_task(
    batch_emulator, monkeypatch, capfd, caplog, failure, deferrable
):
    target, warning = FAILURES[failure]
    monkeypatch.setattr(target, _broken)
    dag_id = f"side_effect_{failure.replace('-', '_')}_{deferrable}"
    (dags_folder() / f"{dag_id}.py").write_text(
        DAG_SOURCE.format(dag_id=dag_id, image=IMAGE, deferrable=deferrable)
    )
    (ti,) = load_dag(dag_id).test().get_task_instances()
    log = "".join(capfd.readouterr()) + caplog.text
    assert ti.state == "success", log[-3000:]
    assert ti.xcom_pull(task_ids="job")["state"] == "SUCCEEDED"
    assert batch_emulator.jobs_created() == 1
    assert warning in log
    assert "injected side-effect failure" in log
