"""Nobody reaches the emulator's code execution by accident: loopback or a token; a minimal environment."""

from __future__ import annotations

import json
import logging
import os

import grpc
import pytest
from google.cloud import batch_v1alpha
from security_helpers import IMAGE, PARENT, script_job, wait_ended

from airflow_batchstream.emulator.server import BatchEmulator

pytestmark = pytest.mark.integration
ANONYMOUS_CONNECTION = (
    '{"conn_type": "google_cloud_platform", "extra": {"project": "demo-project", "is_anonymous": true}}'
)


def test_a_non_loopback_bind_is_refused_without_allow_remote():
    with pytest.raises(ValueError, match="--allow-remote"):
        BatchEmulator("0.0.0.0", 0)


def test_the_cli_refuses_a_non_loopback_host(capsys):
    from airflow_batchstream.emulator.__main__ import main

    assert main(["--host", "0.0.0.0", "--port", "0"]) == 2
    assert "loopback" in capsys.readouterr().err


def test_remote_access_needs_a_token_and_warns(caplog):
    with pytest.raises(ValueError, match="token"):
        BatchEmulator("0.0.0.0", 0, allow_remote=True)
    with caplog.at_level(logging.WARNING):
        emulator = BatchEmulator("0.0.0.0", 0, allow_remote=True, access_token="t0ken")  # never started
    assert emulator.access_token == "t0ken"
    assert any("remote" in record.getMessage() for record in caplog.records)


def test_calls_without_the_token_are_refused_on_every_service():
    from airflow_batchstream.emulator.control import INVOKE_METHOD

    with BatchEmulator(access_token="s3cret-token") as emulator:
        channel = grpc.insecure_channel(emulator.address)
        create = channel.unary_unary(
            "/google.cloud.batch.v1alpha.BatchService/CreateJob",
            request_serializer=batch_v1alpha.CreateJobRequest.serialize,
        )
        request = batch_v1alpha.CreateJobRequest(parent=PARENT, job_id="intruder", job=script_job("id"))
        for call, payload in (
            (create, request),
            (channel.unary_unary(INVOKE_METHOD), json.dumps({"op": "job_names"}).encode()),
        ):
            with pytest.raises(grpc.RpcError) as refused:
                call(payload, timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        channel.close()
        assert emulator.jobs_created() == 0


def test_the_http_side_needs_the_token_too():
    import requests

    with BatchEmulator(access_token="s3cret-token") as emulator:
        url = f"{emulator.registry.url}/v2/token"
        assert requests.get(url, timeout=10).status_code == 401
        assert (
            requests.get(url, headers={"X-Batch-Emulator-Token": "s3cret-token"}, timeout=10).status_code
            == 200
        )


def test_the_provider_sends_the_token_when_it_is_set(monkeypatch):
    from airflow_batchstream.hooks.batch import BatchStreamHook

    with BatchEmulator(access_token="s3cret-token") as emulator:
        monkeypatch.setenv("BATCH_EMULATOR_HOST", emulator.address)
        monkeypatch.setenv("BATCH_EMULATOR_TOKEN", "s3cret-token")
        monkeypatch.setenv("AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT", ANONYMOUS_CONNECTION)
        hook = BatchStreamHook(api_version="v1alpha")  # script_job builds a v1alpha job
        job = hook.submit_job(job=script_job("true"), region="us-central1", job_id="with-token")
        assert job.name.endswith("/jobs/with-token")
        assert (
            hook.preflight(
                {
                    "taskGroups": [
                        {
                            "taskSpec": {
                                "runnables": [
                                    {
                                        "container": {
                                            "imageUri": IMAGE,
                                            "enableImageStreaming": True,
                                        }
                                    }
                                ]
                            }
                        }
                    ]
                },
                region="us-central1",
            )
            == []
        )


def test_discovery_names_the_host_the_client_dialled(monkeypatch):
    from airflow_batchstream.preflight.http import emulator_http_endpoint

    with BatchEmulator() as emulator:
        monkeypatch.setenv("BATCH_EMULATOR_HOST", f"localhost:{emulator.port}")
        assert emulator_http_endpoint() == f"http://localhost:{emulator.registry.port}"


def test_scripts_get_a_minimal_environment_never_the_emulators(monkeypatch):
    monkeypatch.setenv("EMULATOR_OWN_SECRET", "must-not-leak")
    with BatchEmulator(queued_seconds=0, scheduled_seconds=0) as emulator:
        client = emulator.client()
        job = client.create_job(
            parent=PARENT, job_id="env-probe", job=script_job("env | sort", env={"JOB_OWN": "mine"})
        )
        assert wait_ended(client, job.name).status.state.name == "SUCCEEDED"
        names = {line.text.split("=", 1)[0] for line in emulator.task_logs("env-probe")}
    assert "EMULATOR_OWN_SECRET" not in names
    assert {"PATH", "HOME", "JOB_OWN", "BATCH_TASK_INDEX", "BATCH_JOB_ID"} <= names
    assert (
        len(
            names
            - {"PATH", "HOME", "JOB_OWN", "PWD", "SHLVL", "_"}
            - {n for n in names if n.startswith("BATCH_")}
        )
        == 0
    ), names
    assert len(os.environ) > len(names)
