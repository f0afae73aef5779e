"""A dry run shows environment keys, never their values, in the task log and in its XCom."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

pytestmark = pytest.mark.integration

CONTEXT = {"ti": SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1, try_number=1)}
IMAGE = "us-central1-docker.pkg.dev/demo-project/containers/app:1"
SECRETS = ("s3cr3t-plain", "s3cr3t-secret-var", "s3cr3t-cipher", "s3cr3t-task-env", "s3cr3t-runnable")


def test_dry_run_hides_every_environment_value(batch_emulator, caplog):
    container = {"imageUri": IMAGE, "enableImageStreaming": True}
    job = {
        "taskGroups": [
            {
                "taskSpec": {
                    "runnables": [
                        {"container": container, "environment": {"variables": {"RUNNABLE_KEY": SECRETS[4]}}}
                    ],
                    "environment": {
                        "variables": {"API_KEY": SECRETS[0]},
                        "secretVariables": {"DB_PASSWORD": SECRETS[1]},
                        "encryptedVariables": {
                            "keyName": "projects/p/locations/l/keyRings/r/cryptoKeys/k",
                            "cipherText": SECRETS[2],
                        },
                    },
                },
                "taskEnvironments": [{"variables": {"SHARD": SECRETS[3]}}],
            }
        ],
        "logsPolicy": {"destination": "CLOUD_LOGGING"},
    }
    operator = BatchStreamSubmitJobOperator(task_id="t", region="us-central1", job=job, dry_run=True)
    with caplog.at_level(logging.INFO):
        result = operator.execute(CONTEXT)  # type: ignore[arg-type]
    shown = json.dumps(result) + "\n".join(r.getMessage() for r in caplog.records)
    for secret in SECRETS:
        assert secret not in shown
    for key in ("API_KEY", "DB_PASSWORD", "SHARD", "RUNNABLE_KEY"):
        assert key in json.dumps(result)
    environment = result["job"]["taskGroups"][0]["taskSpec"]["environment"]
    assert environment["variables"] == {"API_KEY": "<hidden>"}
    assert batch_emulator.rpc_counts() == {}


@pytest.mark.parametrize(
    "environment",
    [
        {"variables": "SECRET-A"},
        {"variables": {"K": ["SECRET-B"]}},
        {"secretVariables": {"K": {"x": "SECRET-C"}}},
        {"encryptedVariables": {"cipherText": ["SECRET-D"]}},
        "SECRET-E",
    ],
)
def test_validation_messages_never_echo_environment_values(environment):
    from airflow_batchstream.validation import validate_job

    container = {"imageUri": IMAGE, "enableImageStreaming": True, "password": ["SECRET-P"]}
    job = {
        "taskGroups": [{"taskSpec": {"runnables": [{"container": container}], "environment": environment}}]
    }
    messages = " ".join(str(violation) for violation in validate_job(job, region="us-central1"))
    assert "parse-error" in messages
    assert "SECRET-" not in messages
