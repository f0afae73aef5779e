from __future__ import annotations

import json

import pytest
from google.cloud import batch_v1, batch_v1alpha
from samples import REFERENCE_SAMPLE, read_sample

from airflow_batchstream.arguments import JOB_ID_PATTERN
from airflow_batchstream.spec import (
    JobSpecError,
    convenience_job,
    label_value,
    make_job_id,
    parse_job,
    with_labels,
)

CAMEL = {
    "taskGroups": [
        {
            "taskCount": "2",
            "taskSpec": {
                "runnables": [
                    {
                        "container": {
                            "imageUri": "us-central1-docker.pkg.dev/p/r/debian:12",
                            "commands": ["-c", "echo hi"],
                            "entrypoint": "/bin/sh",
                            "enableImageStreaming": True,
                        }
                    }
                ]
            },
        }
    ],
    "logsPolicy": {"destination": "CLOUD_LOGGING"},
}
SNAKE = {
    "task_groups": [
        {
            "task_count": 2,
            "task_spec": {
                "runnables": [
                    {
                        "container": {
                            "image_uri": "us-central1-docker.pkg.dev/p/r/debian:12",
                            "commands": ["-c", "echo hi"],
                            "entrypoint": "/bin/sh",
                            "enable_image_streaming": True,
                        }
                    }
                ]
            },
        }
    ],
    "logs_policy": {"destination": "CLOUD_LOGGING"},
}


def _container(job):
    return job.task_groups[0].task_spec.runnables[0].container


@pytest.mark.parametrize("api_version", ["v1alpha", "v1"])
@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda: CAMEL, id="camelCase-dict"),
        pytest.param(lambda: SNAKE, id="snake_case-dict"),
        pytest.param(lambda: json.dumps(CAMEL), id="json-string"),
        pytest.param(lambda: batch_v1alpha.Job.from_json(json.dumps(CAMEL)), id="v1alpha-proto"),
        pytest.param(lambda: batch_v1.Job.from_json(json.dumps(CAMEL)), id="v1-proto"),
        pytest.param(lambda: batch_v1.Job.pb(batch_v1.Job.from_json(json.dumps(CAMEL))), id="raw-protobuf"),
    ],
)
def test_every_input_form_parses_to_the_same_job(form, api_version):
    job = parse_job(form(), api_version)
    module = batch_v1alpha if api_version == "v1alpha" else batch_v1
    assert isinstance(job, module.Job)
    assert job.task_groups[0].task_count == 2
    container = _container(job)
    assert container.image_uri == "us-central1-docker.pkg.dev/p/r/debian:12"
    assert list(container.commands) == ["-c", "echo hi"]
    assert container.entrypoint == "/bin/sh"
    assert container.enable_image_streaming is True
    assert job.logs_policy.destination.name == "CLOUD_LOGGING"


def test_reference_sample_is_accepted_as_it_is_once_filled():
    text = read_sample(
        REFERENCE_SAMPLE, Location="us-central1", ProjectID="demo", RepositoryName="repo", Image="debian:12"
    )
    job = parse_job(text, "v1alpha")
    container = _container(job)
    assert container.image_uri == "us-central1-docker.pkg.dev/demo/repo/debian:12"
    assert container.entrypoint == "sleep"
    assert list(container.commands) == ["10m"]
    assert container.enable_image_streaming
    assert job.task_groups[0].task_count_per_node == 1
    assert job.allocation_policy.instances[0].policy.machine_type == "e2-standard-4"


def test_convenience_arguments_build_a_streaming_job():
    spec = convenience_job(
        image_uri="europe-west1-docker.pkg.dev/p/r/img@sha256:" + "a" * 64,
        commands=["run"],
        entrypoint="/app",
        volumes=["/mnt/disks/data:/data:ro"],
        task_count=4,
        parallelism=2,
        environment={"MODE": "fast"},
        machine_type="n2-standard-8",
    )
    job = parse_job(spec, "v1")
    group = job.task_groups[0]
    assert (group.task_count, group.parallelism) == (4, 2)
    assert group.task_spec.environment.variables["MODE"] == "fast"
    container = _container(job)
    assert container.enable_image_streaming
    assert list(container.volumes) == ["/mnt/disks/data:/data:ro"]
    assert job.allocation_policy.instances[0].policy.machine_type == "n2-standard-8"
    assert job.logs_policy.destination.name == "CLOUD_LOGGING"


def test_convenience_job_leaves_out_what_was_not_given():
    spec = convenience_job(image_uri="us-docker.pkg.dev/p/r/i")
    assert spec["task_groups"][0] == {
        "task_count": 1,
        "task_spec": {
            "runnables": [
                {"container": {"image_uri": "us-docker.pkg.dev/p/r/i", "enable_image_streaming": True}}
            ]
        },
    }
    assert "allocation_policy" not in spec


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ({"taskGroups": [{"taskSpec": {"runnables": [{"kontainer": {}}]}}]}, "kontainer"),
        ({"taskGroups": [{"taskCount": "many"}]}, "taskCount"),
        (42, "expected a dict, a JSON string or a Job proto, got int"),
        ({"labels": {"when": object()}}, "not JSON-serialisable"),
    ],
)
def test_bad_specs_get_a_clear_error(job, message):
    with pytest.raises(JobSpecError, match=message):
        parse_job(job, "v1alpha")


def test_unknown_api_version_is_refused():
    with pytest.raises(ValueError, match="'v2' is not supported"):
        parse_job(CAMEL, "v2")


def test_labels_are_added_without_overriding_the_jobs_own():
    job = parse_job({**CAMEL, "labels": {"team": "ml"}}, "v1alpha")
    with_labels(job, {"team": "other", "airflow-dag-id": "etl"})
    assert dict(job.labels) == {"team": "ml", "airflow-dag-id": "etl"}


def test_label_value_fits_the_label_rule():
    value = label_value("manual__2026-11-27T20:56:00.123456+00:00" * 3)
    assert len(value) == 63
    assert set(value) <= set("abcdefghijklmnopqrstuvwxyz0123456789_-")


@pytest.mark.parametrize(
    ("dag_id", "task_id"),
    [
        ("etl", "load"),
        ("9_Starts_With_Digit", "Task.With.Dots"),
        ("x" * 200, "y" * 200),
        ("___", "---"),
    ],
)
def test_job_ids_follow_the_batch_rule(dag_id, task_id):
    job_id = make_job_id(dag_id, task_id, "manual__2026-11-27T00:00:00+00:00", -1, 3)
    assert JOB_ID_PATTERN.fullmatch(job_id), job_id
    assert job_id.endswith("-t3")


def test_job_ids_are_deterministic_and_distinct_per_task_instance_and_try():
    base = ("etl", "load", "scheduled__2026-11-27", -1, 1)
    assert make_job_id(*base) == make_job_id(*base)
    variants = {
        make_job_id(*base),
        make_job_id("etl", "load", "scheduled__2026-11-28", -1, 1),
        make_job_id("etl", "load", "scheduled__2026-11-27", 0, 1),
        make_job_id("etl", "load", "scheduled__2026-11-27", -1, 2),
        make_job_id("etl", "loads", "scheduled__2026-11-27", -1, 1),
    }
    assert len(variants) == 5
