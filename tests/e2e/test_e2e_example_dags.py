"""Every example DAG through a real deployment, driven by the REST API the way a user drives the UI."""

from __future__ import annotations

from typing import Any

import pytest

# The first test also starts the deployment and the last one stops it: generous per-test limits.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

PARAMS_CONF = {
    "image": "us-central1-docker.pkg.dev/demo-project/containers/python:3.13-slim",
    "entrypoint": "python3",
    "commands": ["-c", "print('chosen in the trigger form')"],
    "task_count": 2,
}
#: The console link's name and URL (the URL form is in shared/DESIGN.md, "Facts worth having at hand").
CONSOLE_LINK = "Batch job"
CONSOLE_URL = (
    "https://console.cloud.google.com/batch/jobsDetail/regions/us-central1/jobs/{job_id}/details"
    "?project=demo-project"
)
CASES = {
    "example_image_streaming_simple": {},
    # What the UI's trigger form sends for this DAG's params.
    "example_image_streaming_params": {"conf": PARAMS_CONF},
    "example_image_streaming_daily": {"logical_date": "2026-11-26T00:00:00+00:00"},
}

#: The push example's tasks, topic and subscription (created by its first task, in the emulator).
PUSH_TASKS = ("submit_notified_job", "wait_by_push", "run_and_wait_by_push")
PUSH_TOPIC = "projects/demo-project/topics/batchstream-job-states"
PUSH_SUBSCRIPTION = "projects/demo-project/subscriptions/batchstream-job-states-airflow"


def _label(value: str) -> str:
    from airflow_batchstream.spec import label_value

    return label_value(value)


@pytest.mark.parametrize("dag_id", list(CASES))
def test_example_dag_runs_to_success(airflow, batch_client, dag_id):
    api = airflow.api
    dag = api.wait_for_dag(dag_id)
    assert dag["is_paused"], "DAGs start paused; the test unpauses like a user"
    api.unpause(dag_id)
    run_id = api.trigger(dag_id, **CASES[dag_id])

    state = api.wait_for_run(dag_id, run_id, timeout=180)

    tis = api.task_instances(dag_id, run_id)
    assert state == "success", f"{dag_id} run {state}: {tis}\n{airflow.diagnostics()}"
    assert tis, "the run has task instances"
    for task_id, ti in tis.items():
        assert ti["state"] == "success", ti
        summary = api.xcom(dag_id, run_id, task_id)
        assert summary["state"] == "SUCCEEDED", summary
        job = batch_client.get_job(name=summary["job_name"])
        assert job.status.state.name == "SUCCEEDED"
        assert job.uid == summary["uid"]
        assert job.labels["airflow-dag-id"] == _label(dag_id)
        assert job.labels["airflow-task-id"] == _label(task_id)
        assert job.labels["airflow-run-id"] == _label(run_id)
        assert job.labels["airflow-try-number"] == str(ti["try_number"])
        _check_links(api.links(dag_id, run_id, task_id), summary)
        log = api.log_text(dag_id, run_id, task_id, ti["try_number"])
        assert f"Submitted Batch job {summary['job_name']}" in log, log[-3000:]
        assert f"Batch job {summary['job_name']} is SUCCEEDED" in log, log[-3000:]
        _check_case(dag_id, task_id, job, summary)


def _check_links(links: dict[str, Any], summary: dict[str, Any]) -> None:
    """The task offers exactly the operator's extra links, each pointing at its own job."""
    from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

    assert set(links) == {link.name for link in BatchStreamSubmitJobOperator.operator_extra_links}
    for name, url in links.items():
        assert url and (summary["job_id"] in url or summary["uid"] in url), (name, url)
    if CONSOLE_LINK in links:
        assert links[CONSOLE_LINK] == CONSOLE_URL.format(job_id=summary["job_id"])


def _check_case(dag_id: str, task_id: str, job: Any, summary: dict[str, Any]) -> None:
    """What each example's trigger chose reached the job."""
    container = job.task_groups[0].task_spec.runnables[0].container
    if dag_id == "example_image_streaming_params":
        assert container.image_uri == PARAMS_CONF["image"]
        assert container.entrypoint == PARAMS_CONF["entrypoint"]
        assert list(container.commands) == PARAMS_CONF["commands"]
        assert summary["task_counts"] == {"SUCCEEDED": 2}
    elif dag_id == "example_image_streaming_daily":
        assert "dt=2026-11-26" in container.commands[1]
        if task_id == "process_partition":
            assert job.labels["partition"] == "20261126"
            assert summary["task_counts"] == {"SUCCEEDED": 4}
    else:
        assert container.enable_image_streaming


def test_push_example_waits_by_notifications(airflow, batch_client, emulator_control):
    """The push example: its jobs publish their states to the topic the first task creates, and the
    triggerer (celery: either of two) waits on the subscription instead of polling."""
    from airflow_batchstream.emulator.model import Scenario
    from airflow_batchstream.polling import YOUNG_JOB_SECONDS

    dag_id = "example_image_streaming_push"
    api = airflow.api
    # The submit-and-wait task's job outlives the look the worker takes at a young job, so the task defers.
    emulator_control.add_scenario(
        Scenario(run_seconds=YOUNG_JOB_SECONDS + 4),
        labels={"airflow-dag-id": _label(dag_id), "airflow-task-id": _label("run_and_wait_by_push")},
    )
    api.wait_for_dag(dag_id)
    api.unpause(dag_id)
    pulls = emulator_control.rpc_counts().get("Pull", 0)
    run_id = api.trigger(dag_id)

    state = api.wait_for_run(dag_id, run_id, timeout=180)

    tis = api.task_instances(dag_id, run_id)
    assert state == "success", f"{dag_id} run {state}: {tis}\n{airflow.diagnostics()}"
    assert {task_id: ti["state"] for task_id, ti in tis.items()} == dict.fromkeys(PUSH_TASKS, "success")
    submitted = api.xcom(dag_id, run_id, "submit_notified_job")
    waited = api.xcom(dag_id, run_id, "wait_by_push")
    assert waited["job_name"] == submitted["job_name"] and waited["state"] == "SUCCEEDED", waited
    ran = api.xcom(dag_id, run_id, "run_and_wait_by_push")
    assert ran["state"] == "SUCCEEDED", ran
    for summary in (submitted, ran):
        job = batch_client.get_job(name=summary["job_name"])
        assert job.status.state.name == "SUCCEEDED"
        assert [(n.pubsub_topic, n.message.type_.name) for n in job.notifications] == [
            (PUSH_TOPIC, "JOB_STATE_CHANGED")
        ]
    log = api.log_text(dag_id, run_id, "run_and_wait_by_push", tis["run_and_wait_by_push"]["try_number"])
    assert f"Waiting for Batch job {ran['job_name']} by its notifications on {PUSH_SUBSCRIPTION}" in log, log[
        -3000:
    ]
    assert f"Batch job {ran['job_name']} is SUCCEEDED" in log, log[-3000:]
    assert "polling Batch job" not in log, log[-3000:]  # the subscription was there all along
    assert emulator_control.rpc_counts().get("Pull", 0) > pulls


def test_cleanup_example_deletes_one_dags_old_ended_jobs(airflow, batch_client):
    """The cleanup example, triggered with ``conf`` like a user: lists and deletes only its target's jobs."""
    import uuid

    from e2e_helpers import PARENT, wait_until
    from google.api_core.exceptions import NotFound
    from google.cloud import batch_v1alpha as batch

    target = f"e2e_cleanup_{uuid.uuid4().hex[:8]}"
    job = batch.Job(
        task_groups=[
            batch.TaskGroup(
                task_spec=batch.TaskSpec(
                    runnables=[batch.Runnable(container=batch.Runnable.Container(image_uri="debian:12"))]
                )
            )
        ]
    )

    def create(job_id: str, dag_id: str) -> str:
        job.labels = {"airflow-dag-id": dag_id, "managed-by": "airflow-batchstream"}
        return batch_client.create_job(parent=PARENT, job_id=job_id, job=job).name

    old = [create(f"{target.replace('_', '-')}-{index}", target) for index in range(2)]
    other = create(f"{target.replace('_', '-')}-other", f"{target}_other")
    for name in [*old, other]:
        wait_until(
            lambda name=name: batch_client.get_job(name=name).status.state.name == "SUCCEEDED",
            60,
            f"{name} ended",
        )
    dag_id = "example_image_streaming_cleanup"
    api = airflow.api
    api.wait_for_dag(dag_id)
    api.unpause(dag_id)
    run_id = api.trigger(dag_id, conf={"dag_id": target, "older_than_days": 0, "dry_run": False})

    state = api.wait_for_run(dag_id, run_id, timeout=180)

    assert state == "success", (
        f"{dag_id} run {state}: {api.task_instances(dag_id, run_id)}\n{airflow.diagnostics()}"
    )
    listed = api.xcom(dag_id, run_id, "list_old_jobs")
    assert sorted(summary["job_name"] for summary in listed) == sorted(old)
    for name in old:
        with pytest.raises(NotFound):
            batch_client.get_job(name=name)
    assert batch_client.get_job(name=other).status.state.name == "SUCCEEDED"
