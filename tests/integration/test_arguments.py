"""Every bad argument of the operator, the sensor and the hooks is refused before any network call.

Each case runs against the emulator and asserts that no RPC reached it (its per-method counters)
and that the preflight sent no HTTP request (the emulator's HTTP server counts every request).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest
from bad_specs import GOOD_IMAGE, job
from dag_files import operator_dag

from airflow_batchstream.hooks.batch import BatchStreamAsyncHook, BatchStreamHook
from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator
from airflow_batchstream.sensors.batch import BatchStreamJobSensor
from airflow_batchstream.validation.violations import ArgumentError

pytestmark = pytest.mark.integration

CONTEXT: Any = {"ti": SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1, try_number=1)}
NAME = "projects/demo-project/locations/us-central1/jobs/j"
SECRET = "s3cr3t-value"


def submit(**kwargs: Any) -> Any:
    arguments = {"task_id": "t", "region": "us-central1", "image_uri": GOOD_IMAGE, **kwargs}
    return BatchStreamSubmitJobOperator(**arguments).execute(CONTEXT)


def sense(**kwargs: Any) -> Any:
    return BatchStreamJobSensor(task_id="s", **kwargs).poke(CONTEXT)


def hook_call(method: str, **kwargs: Any) -> Any:
    return getattr(BatchStreamHook(), method)(**kwargs)


class Case(NamedTuple):
    """One bad call, and the violation (path, rule) it must be refused with."""

    name: str
    call: Any
    path: str
    rule: str


def _job_proto() -> Any:
    from airflow_batchstream.spec import parse_job

    return parse_job(job(), "v1")


CASES = [
    # operator, templated arguments (checked after rendering, in execute)
    Case("commands-string", lambda: submit(commands="echo hello"), "commands", "bad-argument"),
    Case("volumes-string", lambda: submit(volumes="/a:/b"), "volumes", "bad-argument"),
    Case("commands-number-item", lambda: submit(commands=["a", 1]), "commands[1]", "bad-argument"),
    Case("labels-string", lambda: submit(labels="x"), "labels", "bad-argument"),
    Case("label-value-number", lambda: submit(labels={"team": 1}), 'labels["team"]', "bad-label"),
    Case("label-key-spaces", lambda: submit(labels={"Team Name!": "x"}), 'labels["Team Name!"]', "bad-label"),
    Case("label-key-digit-first", lambda: submit(labels={"1team": "x"}), 'labels["1team"]', "bad-label"),
    Case("label-value-long", lambda: submit(labels={"team": "x" * 64}), 'labels["team"]', "bad-label"),
    Case(
        "label-batch-prefix",
        lambda: submit(labels={"batch-job-id": "x"}),
        'labels["batch-job-id"]',
        "reserved-label",
    ),
    Case(
        "label-operator-key",
        lambda: submit(labels={"airflow-dag-id": "x"}),
        'labels["airflow-dag-id"]',
        "reserved-label",
    ),
    Case(
        "labels-too-many",
        lambda: submit(labels={f"l{i}": "x" for i in range(60)}),
        "labels",
        "too-many-labels",
    ),
    Case("region-number", lambda: submit(region=5), "region", "bad-region"),
    Case("region-newline", lambda: submit(region="us-central1\n"), "region", "bad-region"),
    Case("region-zone", lambda: submit(region="us-central1-a"), "region", "bad-region"),
    Case("job-id-number", lambda: submit(job_id=7), "job_id", "bad-job-id"),
    Case("job-id-newline", lambda: submit(job_id="etl\n"), "job_id", "bad-job-id"),
    Case("job-id-uppercase", lambda: submit(job_id="Nightly_ETL"), "job_id", "bad-job-id"),
    Case("environment-list", lambda: submit(environment=[f"A={SECRET}"]), "environment", "bad-argument"),
    Case(
        "environment-number", lambda: submit(environment={"A": 123456789}), 'environment["A"]', "bad-argument"
    ),
    Case(
        "environment-bad-name",
        lambda: submit(environment={"1A": SECRET}),
        'environment["1A"]',
        "bad-argument",
    ),
    Case("project-id-spaces", lambda: submit(project_id="My Project"), "project_id", "bad-project-id"),
    Case("project-id-number", lambda: submit(project_id=123), "project_id", "bad-project-id"),
    Case("task-count-words", lambda: submit(task_count="four"), "task_count", "bad-argument"),
    Case("task-count-zero-text", lambda: submit(task_count="0"), "task_count", "bad-argument"),
    Case("parallelism-words", lambda: submit(parallelism="many"), "parallelism", "bad-argument"),
    Case("timeout-words", lambda: submit(timeout="soon"), "timeout", "bad-argument"),
    Case("image-uri-list", lambda: submit(image_uri=[GOOD_IMAGE]), "image_uri", "bad-argument"),
    Case("entrypoint-list", lambda: submit(entrypoint=["python3"]), "entrypoint", "bad-argument"),
    Case("machine-type-number", lambda: submit(machine_type=4), "machine_type", "bad-argument"),
    Case(
        "impersonation-number", lambda: submit(impersonation_chain=5), "impersonation_chain", "bad-argument"
    ),
    Case(
        "impersonation-not-email",
        lambda: submit(impersonation_chain="my-account"),
        "impersonation_chain",
        "bad-argument",
    ),
    Case(
        "commands-with-job",
        lambda: submit(image_uri=None, job=job(), commands=["x"]),
        "commands",
        "bad-argument",
    ),
    # operator, arguments that are not templated (checked when the DAG is parsed)
    Case("validation-mode", lambda: submit(validation="loud"), "validation", "bad-argument"),
    Case("preflight-mode", lambda: submit(preflight=True), "preflight", "bad-argument"),
    Case("api-version", lambda: submit(api_version="v2"), "api_version", "bad-argument"),
    Case("poll-interval-zero", lambda: submit(poll_interval=0), "poll_interval", "bad-argument"),
    Case("max-log-lines-negative", lambda: submit(max_log_lines=-1), "max_log_lines", "bad-argument"),
    Case("dry-run-string", lambda: submit(dry_run="yes"), "dry_run", "bad-argument"),
    Case("conn-id-empty", lambda: submit(gcp_conn_id=""), "gcp_conn_id", "bad-argument"),
    Case("task-count-zero", lambda: submit(task_count=0), "task_count", "bad-argument"),
    Case("both-job-and-image", lambda: submit(job=job()), "job", "bad-argument"),
    # sensor
    Case("sensor-job-name-id", lambda: sense(job_name="my-job"), "job_name", "bad-job-name"),
    Case(
        "sensor-job-name-project",
        lambda: sense(job_name="projects/p/locations/us-central1/jobs/x"),
        "job_name (project)",
        "bad-project-id",
    ),
    Case("sensor-job-id-zone", lambda: sense(job_id="j", region="us-central1-a"), "region", "bad-region"),
    Case(
        "sensor-label-key",
        lambda: sense(labels={"Team": "x"}, region="us-central1"),
        'labels["Team"]',
        "bad-label",
    ),
    Case("sensor-labels-list", lambda: sense(labels=["a"], region="us-central1"), "labels", "bad-argument"),
    Case(
        "sensor-target-string",
        lambda: sense(job_name=NAME, target_states="SUCCEEDED"),
        "target_states",
        "bad-argument",
    ),
    Case(
        "sensor-target-unknown",
        lambda: sense(job_name=NAME, target_states={"DONE"}),
        "target_states",
        "bad-argument",
    ),
    # hooks
    Case("hook-get-short-name", lambda: hook_call("get_job", name="jobs/x"), "name", "bad-job-name"),
    Case("hook-cancel-number", lambda: hook_call("cancel_job", name=5), "name", "bad-job-name"),
    Case(
        "hook-delete-bad-id",
        lambda: hook_call("delete_job", name="projects/demo-project/locations/us-central1/jobs/Bad_Id"),
        "name (job id)",
        "bad-job-id",
    ),
    Case(
        "hook-get-deadline",
        lambda: hook_call("get_job", name=NAME, deadline="soon"),
        "deadline",
        "bad-argument",
    ),
    Case(
        "hook-list-multi-region",
        lambda: hook_call("list_jobs", region="us", project_id="demo-project"),
        "region",
        "bad-region",
    ),
    Case(
        "hook-list-limit",
        lambda: hook_call("list_jobs", region="us-central1", project_id="demo-project", limit=-1),
        "limit",
        "bad-argument",
    ),
    Case(
        "hook-list-tasks-group",
        lambda: hook_call("list_tasks", job_name=NAME, task_group="Group 0"),
        "task_group",
        "bad-argument",
    ),
    Case(
        "hook-submit-dict",
        lambda: hook_call(
            "submit_job", job=job(), job_id="j", region="us-central1", project_id="demo-project"
        ),
        "job",
        "bad-argument",
    ),
    Case(
        "hook-submit-request-id",
        lambda: hook_call(
            "submit_job",
            job=_job_proto(),
            job_id="j",
            region="us-central1",
            project_id="demo-project",
            request_id="abc",
        ),
        "request_id",
        "bad-argument",
    ),
    Case("hook-api-version", lambda: BatchStreamHook(api_version="v2"), "api_version", "bad-argument"),
    Case(
        "hook-retry-deadline",
        lambda: BatchStreamHook(retry_deadline="soon"),
        "retry_deadline",
        "bad-argument",
    ),
    Case(
        "hook-preflight-mode",
        lambda: BatchStreamHook().preflight(job(), "us-central1", project_id="demo-project", mode="loud"),
        "mode",
        "bad-argument",
    ),
    Case(
        "async-hook-get-name",
        lambda: asyncio.run(BatchStreamAsyncHook().get_job("my-job")),
        "name",
        "bad-job-name",
    ),
]


def test_there_are_at_least_thirty_cases_with_distinct_names():
    assert len(CASES) >= 30
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_bad_argument_is_refused_before_any_rpc_or_http_request(batch_emulator, case):
    with pytest.raises(ArgumentError) as raised:
        case.call()
    found = {(v.path, v.rule) for v in raised.value.violations}
    assert (case.path, case.rule) in found, raised.value
    assert all(v.message for v in raised.value.violations)
    assert SECRET not in str(raised.value) and "123456789" not in str(raised.value)
    assert batch_emulator.rpc_counts() == {}
    assert batch_emulator.registry.store.requests == 0


def test_every_problem_is_reported_at_once(batch_emulator):
    with pytest.raises(ArgumentError) as raised:
        submit(
            region="us-central1\n",
            commands="echo hello",
            labels={"Team Name!": "x", "batch-job-id": "y"},
            environment={"TOKEN": 42},
            task_count="four",
        )
    paths = [v.path for v in raised.value.violations]
    assert paths == [
        "region",
        'labels["Team Name!"]',
        'labels["batch-job-id"]',
        "commands",
        'environment["TOKEN"]',
        "task_count",
    ]
    text = str(raised.value)
    assert text.startswith("t: arguments refused before any API call: 6 problem(s)\n  - region: [bad-region]")
    assert "42" not in text
    assert batch_emulator.rpc_counts() == {}
    assert batch_emulator.registry.store.requests == 0


def test_real_airflow_fails_the_task_with_the_argument_problems_and_no_rpc(batch_emulator, capfd):
    dag_run = operator_dag("bad_labels", image_uri=GOOD_IMAGE, labels="x", commands="echo hello").test()
    assert dag_run.state == "failed"
    log = "".join(capfd.readouterr())
    assert "labels: [bad-argument]" in log and "commands: [bad-argument]" in log
    assert batch_emulator.rpc_counts() == {}
    assert batch_emulator.registry.store.requests == 0
