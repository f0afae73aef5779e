"""What a user sees of a job, through real Airflow (``dag.test()``) and the emulator over real gRPC:
its output in the task log, progress lines, console links in XCom while it runs, the summary."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from dag_files import operator_dag

from airflow_batchstream.emulator import Scenario

pytestmark = pytest.mark.integration

IMAGE = "us-central1-docker.pkg.dev/demo-project/containers/debian:12"
SECRET = "sk-live-4f9c2b7e1d0a6c3b"
LINES_PER_TASK = 12
SCRIPT = f'for i in $(seq 1 {LINES_PER_TASK}); do echo "out $BATCH_TASK_INDEX.$i"; done'


def _script_job(task_count: int = 3) -> dict:
    return {
        "taskGroups": [
            {
                "taskCount": task_count,
                "parallelism": 1,
                "taskSpec": {
                    "runnables": [{"script": {"text": SCRIPT}}],
                    "environment": {"variables": {"API_KEY": SECRET}},
                },
            }
        ],
        "logsPolicy": {"destination": "CLOUD_LOGGING"},
    }


def _decoded(value: object) -> object:
    """An XCom row's value: JSON text is decoded, a plain string (a link's URL) stays as it is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _xcoms(dag_run) -> dict[str, object]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id)
        return {row.key: _decoded(row.value) for row in rows}


def _output_lines(task_log: str) -> list[str]:
    return re.findall(r"\[task (\d+)\] (out \S+)", task_log)


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferred"])
def test_job_output_reaches_the_task_log_complete_and_in_order(batch_emulator, capfd, deferrable):
    dag_id = f"visible_output_{'deferred' if deferrable else 'sync'}"
    dag_run = operator_dag(dag_id, job=_script_job(), deferrable=deferrable).test()
    assert dag_run.state == "success"
    task_log = "".join(capfd.readouterr())
    assert ("Deferring" in task_log) == deferrable
    expected = [
        (str(task), f"out {task}.{line}") for task in range(3) for line in range(1, LINES_PER_TASK + 1)
    ]
    assert _output_lines(task_log) == expected  # one task at a time: global order is task, then line
    assert "were not shown" not in task_log


def test_max_log_lines_caps_the_output_and_says_that_more_was_left_out(batch_emulator, capfd):
    dag_run = operator_dag("capped_output", job=_script_job(), max_log_lines=5).test()
    assert dag_run.state == "success"
    task_log = "".join(capfd.readouterr())
    assert _output_lines(task_log) == [("0", f"out 0.{line}") for line in range(1, 6)]
    assert "More lines of job output were not shown (max_log_lines=5" in task_log


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "trigger"])
# Queued long enough that a deferred task's first look still finds QUEUED on a loaded machine.
@pytest.mark.batch_emulator(queued_seconds=3)
def test_progress_lines_appear_once_per_change(batch_emulator, capfd, deferrable):
    dag_id = f"progress_lines_{'trigger' if deferrable else 'sync'}"
    dag_run = operator_dag(dag_id, image_uri=IMAGE, task_count=2, deferrable=deferrable).test()
    assert dag_run.state == "success"
    progress = re.findall(r"Batch job \S+ is [A-Z_]+: [^.\n]*\.", "".join(capfd.readouterr()))
    assert len(progress) == len(set(progress))
    assert progress[0].split(" is ")[1].startswith("QUEUED")
    assert progress[-1].endswith("is SUCCEEDED: 2/2 succeeded, 0 running, 0 failed.")


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferred"])
def test_links_are_in_xcom_while_the_job_waits_and_the_summary_is_complete(batch_emulator, capfd, deferrable):
    dag_id = f"linked_job_{'deferred' if deferrable else 'sync'}"
    batch_emulator.add_scenario(Scenario(hold_in_queue=True), labels={"airflow-dag-id": dag_id})
    seen: dict[str, object] = {}
    # Import and map the models here: doing it first in the thread deadlocks with dag.test()'s own mapping.
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy.orm import configure_mappers

    configure_mappers()

    links = {"batchstream_job", "batchstream_job_logs"}

    def release_once_links_are_stored() -> None:
        # Both links, not the first one seen: they are stored one after the other.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and set(seen) != links:
            with create_session() as session:
                rows = session.query(XComModel).filter_by(dag_id=dag_id).all()
                seen.update({row.key: row.value for row in rows if row.key.startswith("batchstream_")})
            if set(seen) != links:
                time.sleep(0.2)
        for name in batch_emulator.job_names():
            batch_emulator.release_job(name)

    watcher = threading.Thread(target=release_once_links_are_stored, daemon=True)
    watcher.start()
    dag = operator_dag(
        dag_id,
        image_uri=IMAGE,
        environment={"API_KEY": SECRET},
        commands=["-c", "print(1)"],
        deferrable=deferrable,
    )
    dag_run = dag.test()
    watcher.join(timeout=70)
    assert dag_run.state == "success"
    assert set(seen) == links  # stored while the job was held

    xcoms = _xcoms(dag_run)
    summary = xcoms["return_value"]
    job_name = summary["job_name"]
    project, region, job_id = job_name.split("/")[1::2]
    console = f"https://console.cloud.google.com/batch/jobsDetail/regions/{region}/jobs/{job_id}/details?project={project}"
    assert xcoms["batchstream_job"] == summary["console_url"] == console
    assert xcoms["batchstream_job_logs"] == summary["logs_url"]
    assert summary["logs_url"].startswith("https://console.cloud.google.com/logs/query;query=")
    assert summary["uid"] in summary["logs_url"]
    assert set(summary) >= {
        "job_name", "job_id", "uid", "state", "create_time", "end_time", "task_counts",
        "failed_exit_codes", "console_url", "logs_url", "image_streaming",
        "queued_seconds", "startup_seconds", "run_seconds",
    }  # fmt: skip
    assert summary["image_streaming"] is True
    for key in ("queued_seconds", "startup_seconds", "run_seconds"):
        assert isinstance(summary[key], float) and summary[key] >= 0, key

    task_log = "".join(capfd.readouterr())
    assert SECRET not in task_log
    assert SECRET not in json.dumps(xcoms)
    assert f"started in {summary['startup_seconds']:.1f} s (image streaming)" in task_log


def test_the_ui_finds_the_links_of_the_serialized_dag(batch_emulator, monkeypatch):
    # The API server never runs our get_link: it deserializes the DAG, which turns each link into an
    # XCom lookup by the link's name and xcom_key. Go the same way.
    from airflow.models.taskinstance import TaskInstance

    try:
        from airflow.serialization.serialized_objects import DagSerialization
    except ImportError:  # Airflow 3.1 names it SerializedDAG
        from airflow.serialization.serialized_objects import SerializedDAG as DagSerialization
    from airflow.utils.session import create_session

    # Loading links is a process-wide class flag that scheduler-side code in this process (a
    # DBDagBag(load_op_links=False)) may have switched off; the API server loads them.
    monkeypatch.setattr(DagSerialization, "_load_operator_extra_links", True)

    dag = operator_dag("link_lookup", image_uri=IMAGE)
    dag_run = dag.test()
    xcoms = _xcoms(dag_run)
    served = DagSerialization.from_dict(DagSerialization.to_dict(dag)).task_dict["job"]
    assert sorted(served.extra_links) == ["Batch job", "Batch job logs"]
    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id="link_lookup", run_id=dag_run.run_id).one()
        assert served.get_extra_links(ti, "Batch job") == xcoms["batchstream_job"]
        assert served.get_extra_links(ti, "Batch job logs") == xcoms["batchstream_job_logs"]
