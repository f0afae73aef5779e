"""validate_job: every broken spec of the table is refused with its rule id and path, all at once."""

from __future__ import annotations

import json

import pytest
from bad_specs import BAD_SPECS, C0, GOOD_IMAGE, BadSpec, job

from airflow_batchstream.validation import RULES, ImageStreamingValidationError, validate_job


def test_the_table_is_large_enough_and_covers_every_rule():
    assert len(BAD_SPECS) >= 40
    assert {row.rule for row in BAD_SPECS} == set(RULES)


@pytest.mark.parametrize("row", BAD_SPECS, ids=[row.name for row in BAD_SPECS])
def test_each_bad_spec_is_refused_with_its_rule_and_path(row: BadSpec):
    violations = validate_job(row.spec, region=row.region, job_id=row.job_id)
    assert (row.rule, row.path) in {(v.rule, v.path) for v in violations}, violations
    assert all(v.message and v.rule in RULES for v in violations)


@pytest.mark.parametrize("api_version", ["v1alpha", "v1"])
def test_a_good_job_passes_in_every_accepted_form(api_version):
    from google.cloud import batch_v1, batch_v1alpha

    module = batch_v1alpha if api_version == "v1alpha" else batch_v1
    camel = job(
        {"imageUri": GOOD_IMAGE, "commands": ["run"], "volumes": ["/tmp:/tmp"]}, taskCount=4, parallelism=2
    )
    snake = {
        "task_groups": [
            {
                "task_spec": {
                    "runnables": [{"container": {"image_uri": GOOD_IMAGE, "enable_image_streaming": True}}]
                }
            }
        ]
    }
    proto = module.Job.from_json(json.dumps(camel))
    for form in (camel, snake, json.dumps(camel), proto, module.Job.pb(proto)):
        assert validate_job(form, region="us-central1", api_version=api_version, job_id="nightly-etl-1") == []


def test_multi_region_repositories_serve_the_regions_they_contain():
    assert validate_job(job({"imageUri": "us-docker.pkg.dev/demo-project/c/app:1"}), region="us-west2") == []
    assert (
        validate_job(job({"imageUri": "europe-docker.pkg.dev/demo-project/c/app:1"}), region="europe-west4")
        == []
    )
    digest = "sha256:" + "ab" * 32
    assert (
        validate_job(
            job({"imageUri": f"asia-docker.pkg.dev/demo-project/c/app@{digest}"}), region="asia-east1"
        )
        == []
    )


def test_a_script_only_job_has_nothing_to_stream_and_passes():
    script = {"taskGroups": [{"taskSpec": {"runnables": [{"script": {"text": "echo hi"}}]}}]}
    assert validate_job(script, region="us-central1") == []


def test_every_problem_is_reported_at_once_and_printed_one_per_line():
    spec = job(
        {"imageUri": "busybox", "options": "--net host", "password": "hunter2-secret", "commands": "run"},
        {"imageUri": GOOD_IMAGE, "enableImageStreaming": False},
        taskCount=0,
    )
    violations = validate_job(spec, region="us-central1-a", job_id="Bad_Id")
    rules = [v.rule for v in violations]
    for rule in (
        "bad-region",
        "bad-job-id",
        "parse-error",
        "bad-task-count",
        "mixed-streaming",
        "ignored-container-field",
    ):
        assert rule in rules
    text = str(ImageStreamingValidationError(violations))
    assert len(text.splitlines()) == len(violations) + 1
    assert f"{C0}.options: [ignored-container-field]" in text


@pytest.mark.parametrize("password", ["hunter2-secret", 987654321, ["hunter2-secret"]])
def test_a_password_value_never_appears_in_any_message(password):
    spec = job({"imageUri": "busybox", "password": password})
    text = str(ImageStreamingValidationError(validate_job(spec, region="us-central1")))
    assert "password" in text
    assert "hunter2" not in text and "987654321" not in text


SECRET_NUMBER = 987654321


@pytest.mark.parametrize(
    "environment",
    [
        {"variables": {"API_KEY": SECRET_NUMBER}},
        {"secretVariables": {"DB_PASSWORD": [SECRET_NUMBER]}},
        {"encryptedVariables": {"cipherText": SECRET_NUMBER}},
        {"variables": [f"API_KEY={SECRET_NUMBER}"]},
    ],
    ids=["variables", "secret-variables", "encrypted-variables", "variables-as-list"],
)
@pytest.mark.parametrize("where", ["task", "runnable"])
def test_an_environment_value_never_appears_in_any_message(environment, where):
    spec = job()
    task_spec = spec["taskGroups"][0]["taskSpec"]
    (task_spec if where == "task" else task_spec["runnables"][0])["environment"] = environment
    violations = validate_job(spec, region="us-central1")
    assert [v.rule for v in violations] == ["parse-error"]
    text = str(ImageStreamingValidationError(violations))
    assert "(value hidden)" in text and str(SECRET_NUMBER) not in text


def test_parse_errors_name_the_path_and_the_expectation_not_protobuf():
    spec = job({"imageUri": GOOD_IMAGE, "commands": "/scripts/run.sh"})
    spec["allocationPolicy"] = {"instances": {"policy": {"machineType": "e2-standard-4"}}}
    messages = {v.path: f"{v.message} {v.hint}" for v in validate_job(spec, region="us-central1")}
    assert 'expected a list, got string "/scripts/run.sh"' in messages[f"{C0}.commands"]
    assert '["/scripts/run.sh"]' in messages[f"{C0}.commands"]
    assert "expected a list, got object" in messages["allocation_policy.instances"]
    assert not any("google.protobuf" in message or "Traceback" in message for message in messages.values())


def test_a_misspelt_field_gets_the_nearest_name_as_hint():
    violations = validate_job({"taskGroup": job()["taskGroups"]}, region="us-central1")
    (violation,) = [v for v in violations if v.rule == "unknown-field"]
    assert violation.hint == "did you mean 'taskGroups'?"


def test_gcr_io_hint_gives_the_pkg_dev_path_of_the_same_repository():
    (violation,) = validate_job(job({"imageUri": "gcr.io/demo-project/tools/app:2"}), region="us-east4")
    assert "'us-docker.pkg.dev/demo-project/gcr.io/tools/app:2'" in violation.hint


def test_a_field_of_the_other_api_version_says_so():
    spec = {**job(), "schedulingPolicy": "AS_SOON_AS_POSSIBLE"}
    assert validate_job(spec, region="us-central1", api_version="v1alpha") == []
    (violation,) = validate_job(spec, region="us-central1", api_version="v1")
    assert (violation.rule, violation.path) == ("unknown-field", "schedulingPolicy")
    assert "check api_version" in violation.message
