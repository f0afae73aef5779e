"""BatchStreamSubmitJobOperator in real Airflow (``dag.test()``) against the emulator."""

from __future__ import annotations

import pytest
from dag_files import operator_dag

from airflow_batchstream.emulator import Scenario
from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

pytestmark = pytest.mark.integration

IMAGE = "us-central1-docker.pkg.dev/demo-project/containers/debian:12"


def _task_state(dag_run) -> str:
    (ti,) = dag_run.get_task_instances()
    return ti.state


def test_a_job_that_fails_fails_the_task_with_its_reason(batch_emulator, capfd):
    batch_emulator.add_scenario(Scenario(exit_code=3), labels={"airflow-dag-id": "failing_job"})
    dag_run = operator_dag("failing_job", image_uri=IMAGE, commands=["x"]).test()
    assert dag_run.state == "failed"
    assert _task_state(dag_run) == "failed"
    task_log = "".join(capfd.readouterr())
    assert "ended FAILED" in task_log
    assert "exit code 3" in task_log
    assert batch_emulator.rpc_counts()["CreateJob"] == 1


def test_a_script_job_runs_and_its_exit_code_decides(batch_emulator, capfd):
    job = {"taskGroups": [{"taskSpec": {"runnables": [{"script": {"text": "echo working; exit 7"}}]}}]}
    dag_run = operator_dag("failing_script", job=job).test()
    assert _task_state(dag_run) == "failed"
    assert "exit code 7" in "".join(capfd.readouterr())


def test_both_or_neither_of_job_and_image_uri_is_refused_at_parse_time():
    with pytest.raises(ValueError, match=r"either job= .* or image_uri="):
        BatchStreamSubmitJobOperator(task_id="t", region="us-central1")
    with pytest.raises(ValueError, match=r"either job= .* or image_uri="):
        BatchStreamSubmitJobOperator(task_id="t", region="us-central1", job={}, image_uri=IMAGE)


def test_v1_is_the_default_api_and_v1alpha_stays_supported(batch_emulator):
    assert operator_dag("default_api", image_uri=IMAGE).test().state == "success"
    assert batch_emulator.rpc_counts(by_version=True)["v1.CreateJob"] == 1
    assert operator_dag("alpha_api", image_uri=IMAGE, api_version="v1alpha").test().state == "success"
    assert batch_emulator.rpc_counts(by_version=True)["v1alpha.CreateJob"] == 1


def test_the_job_is_parsed_once_and_that_object_is_submitted(batch_emulator, monkeypatch):
    from airflow_batchstream import spec
    from airflow_batchstream.hooks.batch import BatchStreamHook

    parsed: list = []
    submitted: list = []
    real_parse, real_submit = spec.parse_job, BatchStreamHook.submit_job

    def counting_parse(job, api_version):
        parsed.append(real_parse(job, api_version))
        return parsed[-1]

    def recording_submit(self, **kwargs):
        submitted.append(kwargs["job"])
        return real_submit(self, **kwargs)

    monkeypatch.setattr(spec, "parse_job", counting_parse)
    monkeypatch.setattr(BatchStreamHook, "submit_job", recording_submit)
    assert (
        operator_dag("parsed_once", image_uri=IMAGE, timeout=600, labels={"team": "ml"}).test().state
        == "success"
    )
    assert len(parsed) == 1
    (job,) = submitted
    assert job is parsed[0]  # validation's Job, completed in place with the timeout and the labels
    assert job.labels["team"] == "ml" and job.task_groups[0].task_spec.max_run_duration.seconds == 600
