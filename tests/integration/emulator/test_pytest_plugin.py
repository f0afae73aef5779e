"""The pytest plugin's fixture, and the README's "Test your DAGs without Google Cloud" walk-through."""

from __future__ import annotations

import json
import os

import pytest
from dag_files import operator_dag

from airflow_batchstream.emulator import BatchEmulator

pytestmark = pytest.mark.integration
IMAGE = "us-central1-docker.pkg.dev/demo-project/containers/debian:12"


@pytest.mark.batch_emulator(run_seconds=0.1, container_runtime="local")
def test_fixture_sets_the_environment_and_honours_the_marker(batch_emulator: BatchEmulator) -> None:
    assert os.environ["BATCH_EMULATOR_HOST"] == batch_emulator.address
    assert batch_emulator.address.startswith("127.0.0.1:")
    assert batch_emulator.engine.runtime.name == "local"
    assert batch_emulator.engine.timings.run_seconds == 0.1
    assert json.loads(os.environ["AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"])["extra"]["project"] == "demo-project"


def test_readme_walkthrough(batch_emulator: BatchEmulator) -> None:
    # A lost CreateJob response and a flaky GetJob: the operator must still make exactly one job.
    batch_emulator.fail_next("CreateJob", "UNAVAILABLE", after_commit=True)
    batch_emulator.fail_next("GetJob", "UNAVAILABLE")
    dag = operator_dag("readme_dag", image_uri=IMAGE, entrypoint="python3", commands=["train.py"])
    dag_run = dag.test()
    assert dag_run.state == "success"
    assert batch_emulator.jobs_created() == 1
    assert batch_emulator.rpc_counts()["CreateJob"] == 2
    assert batch_emulator.faults_injected() == {"CreateJob": 1, "GetJob": 1}

    (name,) = batch_emulator.job_names()
    uid = batch_emulator.client().get_job(name=name).uid
    logging = batch_emulator.logging_client()
    entries = logging.list_log_entries(
        resource_names=["projects/demo-project"],
        filter=f'logName="projects/demo-project/logs/batch_task_logs" AND labels.job_uid="{uid}"',
    )
    assert [e.text_payload for e in entries] == [
        f"[simulated] {IMAGE}: python3 train.py",
        "[simulated] exit code 0",
    ]
