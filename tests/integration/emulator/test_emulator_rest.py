"""The emulator's REST face on the wire, and the one-line client helpers for users' own code."""

from __future__ import annotations

import asyncio

import pytest
import requests
from emulator_helpers import PARENT, container_job, script_job, wait_state
from google.auth.credentials import AnonymousCredentials
from google.cloud import batch_v1, batch_v1alpha
from google.cloud import logging as cloud_logging

from airflow_batchstream.emulator import BatchEmulator
from airflow_batchstream.emulator.clients import (
    async_batch_client,
    batch_client,
    logging_client,
    redirect_google_clients,
    rest_endpoint,
)

PROJECT = PARENT.split("/")[1]


def test_a_rest_client_built_the_documented_way_works(batch_emulator: BatchEmulator) -> None:
    """Nothing but ``api_endpoint`` (and credentials, which a machine without ADC must give)."""
    client = batch_v1.BatchServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": rest_endpoint(batch_emulator.address)},
    )
    job = client.create_job(parent=PARENT, job_id="rest-job", job=container_job(batch_v1))
    assert wait_state(client, job.name).status.state.name == "SUCCEEDED"
    deletion = client.delete_job(name=job.name)
    deletion.result(timeout=10)
    assert deletion.metadata.verb == "delete" and deletion.done()
    assert batch_emulator.rpc_counts(by_version=True)["v1.CreateJob"] == 1


def test_json_on_the_wire_uses_the_rest_api_casing_and_errors(batch_emulator: BatchEmulator) -> None:
    base = rest_endpoint(batch_emulator.address)
    body = {
        "taskGroups": [
            {"taskCount": "2", "taskSpec": {"runnables": [{"container": {"imageUri": "debian"}}]}}
        ],
        "labels": {"team": "ml"},
        "logsPolicy": {"destination": "CLOUD_LOGGING"},
    }
    created = requests.post(f"{base}/v1/{PARENT}/jobs", params={"jobId": "wire"}, json=body, timeout=10)
    assert created.status_code == 200, created.text
    job = created.json()
    assert job["name"] == f"{PARENT}/jobs/wire"
    assert job["taskGroups"][0]["taskCount"] == "2"  # int64 as a JSON string, as the service writes it
    assert job["status"]["state"] == "QUEUED"
    assert job["logsPolicy"]["destination"] == "CLOUD_LOGGING"
    assert job["labels"] == {"team": "ml", "batch-job-id": "wire"}
    numbered = requests.get(
        f"{base}/v1/{PARENT}/jobs/wire", params={"$alt": "json;enum-encoding=int"}, timeout=10
    ).json()
    assert numbered["status"]["state"] == 1

    missing = requests.get(f"{base}/v1alpha/{PARENT}/jobs/nope", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["error"]["status"] == "NOT_FOUND"
    unknown = requests.post(
        f"{base}/v1/{PARENT}/jobs", params={"jobId": "odd"}, json={"taskGroupz": []}, timeout=10
    )
    assert unknown.status_code == 400 and "taskGroupz" in unknown.json()["error"]["message"]
    bad_filter = requests.get(f"{base}/v1/{PARENT}/jobs", params={"filter": "priority=1"}, timeout=10)
    assert bad_filter.status_code == 400 and "priority" in bad_filter.json()["error"]["message"]
    listed = requests.get(f"{base}/v1/{PARENT}/jobs", params={"pageSize": "1"}, timeout=10).json()
    assert [j["name"] for j in listed["jobs"]] == [f"{PARENT}/jobs/wire"]


@pytest.mark.parametrize("api_version", ["v1", "v1alpha"])
@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_batch_client_helper_reads_batch_emulator_host(
    batch_emulator: BatchEmulator, api_version: str, transport: str
) -> None:
    client = batch_client(api_version, transport)  # BATCH_EMULATOR_HOST is set by the fixture
    module = batch_v1 if api_version == "v1" else batch_v1alpha
    assert isinstance(client, module.BatchServiceClient)
    job = client.create_job(parent=PARENT, job_id="helper", job=container_job(module))
    assert client.get_job(name=job.name).uid == job.uid


def test_async_batch_client_helper(batch_emulator: BatchEmulator) -> None:
    async def scenario() -> str:
        client = async_batch_client()
        job = await client.create_job(parent=PARENT, job_id="async-helper", job=container_job(batch_v1))
        return (await client.get_job(name=job.name)).name

    assert asyncio.run(scenario()) == f"{PARENT}/jobs/async-helper"


def test_redirect_points_the_clients_code_builds_itself(batch_emulator: BatchEmulator) -> None:
    """Code written for Google, building its clients with no arguments, reaches the emulator unchanged."""
    originals = (batch_v1.BatchServiceClient.__init__, cloud_logging.Client.__init__)
    spec = script_job(batch_v1, "echo redirected", task_count=1)
    spec.logs_policy = batch_v1.LogsPolicy(destination=batch_v1.LogsPolicy.Destination.CLOUD_LOGGING)
    with redirect_google_clients("rest"):  # BATCH_EMULATOR_HOST is set by the fixture
        client = batch_v1.BatchServiceClient()
        assert client.transport.kind == "rest"
        assert batch_v1alpha.BatchServiceClient(transport="grpc").transport.kind == "grpc"  # a name is kept
        given = batch_client().transport  # a transport object is left as it is
        assert batch_v1.BatchServiceClient(transport=given).transport is given
        job = wait_state(client, client.create_job(parent=PARENT, job_id="bare", job=spec).name)
        logger = cloud_logging.Client(project=PROJECT).logger("batch_task_logs")
        assert [e.payload for e in logger.list_entries(filter_=f"labels.job_uid={job.uid}")] == ["redirected"]

        async def bare_async() -> str:
            return (await batch_v1.BatchServiceAsyncClient().get_job(name=job.name)).uid

        assert asyncio.run(bare_async()) == job.uid
    assert (batch_v1.BatchServiceClient.__init__, cloud_logging.Client.__init__) == originals
    assert batch_emulator.rpc_counts(by_version=True)["v1.GetJob"] >= 2
    with pytest.raises(ValueError, match="transport"), redirect_google_clients("http"):
        pass


def test_helpers_say_what_is_missing(monkeypatch: pytest.MonkeyPatch, allow_google_calls: None) -> None:
    monkeypatch.delenv("BATCH_EMULATOR_HOST", raising=False)
    with pytest.raises(ValueError, match="BATCH_EMULATOR_HOST"):
        batch_client()
    with pytest.raises(ValueError, match="transport"):
        batch_client(transport="http", address="127.0.0.1:1")


def test_cloud_logging_logger_list_entries_reads_task_logs(batch_emulator: BatchEmulator) -> None:
    """The documented way to read a job's logs: ``Logger.list_entries`` adds ``timestamp>="...+0000"``."""
    batch = batch_emulator.client()
    spec = script_job(batch_v1alpha, 'echo "line from $BATCH_TASK_INDEX"', task_count=2)
    spec.logs_policy = batch_v1alpha.LogsPolicy(
        destination=batch_v1alpha.LogsPolicy.Destination.CLOUD_LOGGING
    )
    job = wait_state(batch, batch.create_job(parent=PARENT, job_id="read-logs", job=spec).name)
    client = logging_client(PROJECT)
    assert isinstance(client, cloud_logging.Client)
    logger = client.logger("batch_task_logs")
    entries = list(logger.list_entries(filter_=f"labels.job_uid={job.uid}"))
    assert sorted(e.payload for e in entries) == ["line from 0", "line from 1"]
    assert {e.labels["batch-job-id"] for e in entries} == {"read-logs"}
    assert batch_emulator.rpc_counts()["ListLogEntries"] == 1
    newest = list(
        client.list_entries(filter_=f'labels.job_uid="{job.uid}"', order_by=cloud_logging.DESCENDING)
    )
    times = [e.timestamp for e in newest]
    assert len(times) == 2 and times == sorted(times, reverse=True)


def test_rest_face_requires_the_access_token_when_set() -> None:
    with BatchEmulator(access_token="s3cret") as emulator:
        base = rest_endpoint(emulator.address, "s3cret")
        refused = requests.get(f"{base}/v1/{PARENT}/jobs", timeout=10)
        assert refused.status_code == 401 and refused.json()["error"]["status"] == "UNAUTHENTICATED"
        client = batch_client("v1", "rest", address=emulator.address, token="s3cret")
        job = client.create_job(parent=PARENT, job_id="with-token", job=container_job(batch_v1))
        assert emulator.client("v1").get_job(name=job.name).uid == job.uid
