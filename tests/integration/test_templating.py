"""Templating through real Airflow (``dag.test()``): a Job proto, job files, numbers, non-files."""

from __future__ import annotations

import json
import textwrap

import pytest
from bad_specs import GOOD_IMAGE, job
from dag_files import dags_folder, load_dag

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

pytestmark = pytest.mark.integration

PARENT = "projects/demo-project/locations/us-central1"
HEADER = """
from datetime import datetime

from airflow.sdk import DAG

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator
"""


def run_dag(dag_id: str, body: str, native: bool = False) -> str:
    """Write a DAG with params ``word`` and ``n`` around ``body`` (the operator), run it, return its state."""
    source = HEADER + textwrap.dedent(
        f"""
        with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
                 params={{"word": "hello", "n": 3}}, render_template_as_native_obj={native}) as dag:
        """
    )
    source += textwrap.indent(textwrap.dedent(body).strip(), "    ") + "\n"
    (dags_folder() / f"{dag_id}.py").write_text(source)
    return load_dag(dag_id).test().state


def only_job(emulator):
    (created,) = emulator.client("v1").list_jobs(parent=PARENT)
    return created


def container_of(created):
    return created.task_groups[0].task_spec.runnables[0].container


def test_a_job_proto_is_rendered_down_to_nested_values(batch_emulator):
    body = f"""
    from airflow_batchstream.spec import parse_job

    spec = {job({"imageUri": GOOD_IMAGE, "commands": ["{{ params.word }}", "{{ task.task_id }}"]})!r}
    BatchStreamSubmitJobOperator(task_id="proto", region="us-central1", job=parse_job(spec, "v1alpha"),
                                 api_version="v1alpha", poll_interval=1)
    """
    assert run_dag("templated_proto", body) == "success"
    assert list(container_of(only_job(batch_emulator)).commands) == ["hello", "proto"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("etl.json", json.dumps(job({"imageUri": GOOD_IMAGE, "commands": ["{{ params.word }}"]}))),
        (
            "etl.yaml",
            "taskGroups:\n- taskSpec:\n    runnables:\n    - container:\n"
            f"        imageUri: {GOOD_IMAGE}\n        enableImageStreaming: true\n"
            "        commands: ['{{ params.word }}']\n",
        ),
    ],
)
def test_a_job_file_is_read_from_the_template_search_path_and_rendered(batch_emulator, name, text):
    (dags_folder() / "jobs").mkdir(exist_ok=True)
    (dags_folder() / "jobs" / name).write_text(text)
    dag_id = f"job_file_{name.replace('.', '_')}"
    body = f"""
    BatchStreamSubmitJobOperator(task_id="file", region="us-central1", job="jobs/{name}", poll_interval=1)
    """
    assert run_dag(dag_id, body) == "success"
    assert list(container_of(only_job(batch_emulator)).commands) == ["hello"]


def test_values_ending_in_a_template_extension_are_text_not_files(batch_emulator):
    (dags_folder() / "conf.json").write_text("{}")  # a file by that name must not be read in
    body = f"""
    BatchStreamSubmitJobOperator(task_id="text", region="us-central1", image_uri={GOOD_IMAGE!r},
                                 commands=["--config", "conf.json", "--out", "{{{{ params.word }}}}.yaml"],
                                 poll_interval=1)
    """
    assert run_dag("extension_text", body) == "success"
    assert list(container_of(only_job(batch_emulator)).commands) == [
        "--config",
        "conf.json",
        "--out",
        "hello.yaml",
    ]


@pytest.mark.parametrize("native", [True, False])
def test_task_count_parallelism_and_timeout_are_templated(batch_emulator, native):
    body = f"""
    BatchStreamSubmitJobOperator(task_id="numbers", region="us-central1", image_uri={GOOD_IMAGE!r},
                                 task_count="{{{{ params.n }}}}", parallelism="{{{{ params.n - 1 }}}}",
                                 timeout="{{{{ params.n * 200 }}}}", poll_interval=1)
    """
    assert run_dag(f"templated_numbers_{native}".lower(), body, native=native) == "success"
    group = only_job(batch_emulator).task_groups[0]
    assert (group.task_count, group.parallelism, group.task_spec.max_run_duration.seconds) == (3, 2, 600)


def test_the_rendered_job_is_shown_as_json():
    assert BatchStreamSubmitJobOperator.template_fields_renderers == {"job": "json"}
    assert set(BatchStreamSubmitJobOperator.template_ext) == {".json", ".yaml", ".yml"}
    assert {"job", "task_count", "parallelism", "timeout"} <= set(
        BatchStreamSubmitJobOperator.template_fields
    )
