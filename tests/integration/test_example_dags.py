"""Every example DAG, run by real Airflow (``dag.test()``) against the emulator over real gRPC."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from dag_files import load_dag, task_xcoms
from samples import REFERENCE_SAMPLE, read_sample

pytestmark = pytest.mark.integration


def _xcoms(dag_run) -> dict[str, object]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(
            dag_id=dag_run.dag_id, run_id=dag_run.run_id, key="return_value"
        )
        return {
            row.task_id: json.loads(row.value) if isinstance(row.value, str) else row.value for row in rows
        }


def test_reference_dag_submits_the_reference_sample(batch_emulator):
    expected = json.loads(
        read_sample(
            REFERENCE_SAMPLE,
            Location="us-central1",
            ProjectID="demo-project",
            RepositoryName="containers",
            Image="debian:12",
        )
    )
    module_job = load_dag("example_image_streaming_simple").task_dict["sleep_in_streamed_debian"].job
    assert module_job == expected


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
@pytest.mark.parametrize(
    ("dag_id", "run_kwargs"),
    [
        ("example_image_streaming_simple", {}),
        ("example_image_streaming_params", {"run_conf": {"commands": ["-c", "print(42)"], "task_count": 2}}),
        ("example_image_streaming_daily", {"logical_date": datetime(2026, 11, 26, tzinfo=timezone.utc)}),
        ("example_image_streaming_vs_pull", {}),
    ],
)
def test_example_dag_succeeds(batch_emulator, dag_id, run_kwargs, deferrable, monkeypatch, capfd):
    # The examples do not set deferrable=: the [operators] default_deferrable setting decides.
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", str(deferrable))
    dag = load_dag(dag_id)
    dag_run = dag.test(**run_kwargs)
    assert dag_run.state == "success"
    task_log = "".join(capfd.readouterr())
    assert ("Deferring: the triggerer waits" in task_log) == deferrable
    summaries = _xcoms(dag_run)
    assert set(summaries) == set(dag.task_ids)
    for task_id, summary in summaries.items():
        if dag_id == "example_image_streaming_vs_pull" and task_id == "compare_startup":
            continue
        assert summary["state"] == "SUCCEEDED"
        assert summary["job_name"].startswith("projects/")
    client = batch_emulator.client()
    jobs = {name: client.get_job(name=name) for name in batch_emulator.job_names()}
    if dag_id == "example_image_streaming_params":
        (summary,) = summaries.values()
        job = jobs[summary["job_name"]]
        assert list(job.task_groups[0].task_spec.runnables[0].container.commands) == ["-c", "print(42)"]
        assert summary["task_counts"] == {"SUCCEEDED": 2}
    if dag_id == "example_image_streaming_daily":
        job = jobs[summaries["process_partition"]["job_name"]]
        container = job.task_groups[0].task_spec.runnables[0].container
        assert "dt=2026-11-26" in container.commands[1]
        assert job.labels["partition"] == "20261126"
    if dag_id == "example_image_streaming_vs_pull":
        assert summaries["streamed"]["image_streaming"] is True
        assert summaries["pulled"]["image_streaming"] is False
        streamed, pulled = summaries["streamed"]["startup_seconds"], summaries["pulled"]["startup_seconds"]
        assert summaries["compare_startup"] == {
            "streamed_startup_seconds": streamed,
            "pulled_startup_seconds": pulled,
        }
        assert f"start-up with image streaming: {streamed} s; with a full pull: {pulled} s" in task_log


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "delete"])
def test_cleanup_example_deletes_only_the_dags_old_ended_jobs(batch_emulator, dry_run, capfd):
    from waiting_helpers import create_job, wait_until_ended

    from airflow_batchstream.emulator import Scenario

    ours = {"airflow-dag-id": "nightly_etl", "managed-by": "airflow-batchstream"}
    batch_emulator.add_scenario(Scenario(exit_code=1), job_id="etl-failed")
    old = [create_job(batch_emulator, job_id, labels=ours) for job_id in ("etl-ok", "etl-failed")]
    batch_emulator.add_scenario(Scenario(hold_in_queue=True), job_id="etl-queued")
    kept = [
        create_job(batch_emulator, "etl-queued", labels=ours),  # still active
        create_job(batch_emulator, "other-ok", labels={**ours, "airflow-dag-id": "other"}),  # another DAG's
    ]
    for name in old:
        wait_until_ended(batch_emulator, name)
    conf = {"dag_id": "nightly_etl", "older_than_days": 0, "dry_run": dry_run}
    dag_run = load_dag("example_image_streaming_cleanup").test(run_conf=conf)
    assert dag_run.state == "success"
    listed = task_xcoms(dag_run, "list_old_jobs")["return_value"]
    assert sorted(job["job_name"] for job in listed) == sorted(old)
    log = "".join(capfd.readouterr())
    remaining = set(batch_emulator.job_names())
    if dry_run:
        assert remaining == set(old + kept)
        assert all(f"Would delete {name}" in log for name in old)
    else:
        assert remaining == set(kept)
        assert all(f"Batch job {name} is gone." in log for name in old)


@pytest.mark.batch_emulator(run_seconds=2)  # the sensor finds the job running, and defers
def test_push_example_waits_by_notifications(batch_emulator):
    dag_run = load_dag("example_image_streaming_push").test()
    assert dag_run.state == "success"
    summaries = _xcoms(dag_run)
    assert summaries["run_and_wait_by_push"]["state"] == "SUCCEEDED"
    assert summaries["wait_by_push"]["state"] == "SUCCEEDED"
    counts = batch_emulator.rpc_counts()
    assert counts["Pull"] >= 1 and "ListJobs" not in counts  # woken by notifications, not polls
    assert (
        batch_emulator.pubsub.backlog("projects/demo-project/subscriptions/batchstream-job-states-airflow")
        == 0
    )
