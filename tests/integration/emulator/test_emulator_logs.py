"""Task output served as Cloud Logging entries, read with the real google-cloud-logging client."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from emulator_helpers import PARENT, container_job, script_job, wait_state
from google.api_core import exceptions
from google.cloud import batch_v1alpha

from airflow_batchstream.emulator import BatchEmulator

PROJECT = PARENT.split("/")[1]
LOG = f"projects/{PROJECT}/logs/batch_task_logs"
SCRIPT = 'echo "hello from $BATCH_TASK_INDEX"; echo "warn $BATCH_TASK_INDEX" >&2; exit $BATCH_TASK_INDEX'


def _logged(job):
    job.logs_policy = batch_v1alpha.LogsPolicy(destination=batch_v1alpha.LogsPolicy.Destination.CLOUD_LOGGING)
    return job


@pytest.fixture
def finished(batch_emulator: BatchEmulator):
    client = batch_emulator.client()
    job = client.create_job(
        parent=PARENT, job_id="logged", job=_logged(script_job(batch_v1alpha, SCRIPT, task_count=2))
    )
    return wait_state(client, job.name)


def _texts(logging, filter_text: str, order_by: str = "") -> list[str]:
    request = {"resource_names": [f"projects/{PROJECT}"], "filter": filter_text, "order_by": order_by}
    return [e.text_payload for e in logging.list_log_entries(request=request)]


def test_script_output_and_exit_codes_reach_list_log_entries(batch_emulator: BatchEmulator, finished) -> None:
    assert finished.status.state.name == "FAILED"
    assert [
        e.task_execution.exit_code for e in finished.status.status_events if e.task_execution.exit_code
    ] == [1]
    logging = batch_emulator.logging_client()
    pager = logging.list_log_entries(
        resource_names=[f"projects/{PROJECT}"], filter=f'logName="{LOG}" AND labels.job_uid="{finished.uid}"'
    )
    entries = list(pager)
    assert sorted(e.text_payload for e in entries) == ["hello from 0", "hello from 1", "warn 0", "warn 1"]
    first = next(e for e in entries if e.text_payload == "hello from 0")
    assert first.log_name == LOG
    assert first.severity == 200  # INFO
    assert first.labels["job_uid"] == finished.uid
    assert first.labels["task_id"] == f"task/{finished.uid}-group0-0/0/0"
    assert first.resource.type == "generic_task"
    assert first.resource.labels["job"] == "logged"
    assert next(e for e in entries if e.text_payload == "warn 1").severity == 500  # ERROR
    times = [e.timestamp for e in entries]
    assert times == sorted(times)


def test_every_supported_filter_form(batch_emulator: BatchEmulator, finished) -> None:
    logging = batch_emulator.logging_client()
    uid = finished.uid
    task1 = f"task/{uid}-group0-1/0/0"
    assert sorted(_texts(logging, f"logName={LOG} labels.job_uid={uid}")) == [
        "hello from 0",
        "hello from 1",
        "warn 0",
        "warn 1",
    ]
    assert sorted(_texts(logging, f'log_id("batch_task_logs")\nlabels.task_id="{task1}"')) == [
        "hello from 1",
        "warn 1",
    ]
    assert sorted(_texts(logging, f'labels.job_uid="{uid}" AND severity>=ERROR')) == ["warn 0", "warn 1"]
    assert sorted(_texts(logging, f'labels.job_uid="{uid}" severity<WARNING')) == [
        "hello from 0",
        "hello from 1",
    ]
    assert _texts(logging, f'labels.job_uid="{uid}" AND textPayload:"from 1"') == ["hello from 1"]
    assert _texts(logging, f'labels.job_uid="{uid}" AND textPayload="warn 0"') == ["warn 0"]
    assert _texts(logging, f'labels.job_uid="{uid}" "from 0"') == ["hello from 0"]
    assert len(_texts(logging, 'resource.type="generic_task" AND resource.labels.job="logged"')) == 4
    start = finished.create_time - timedelta(seconds=1)
    end = finished.update_time + timedelta(seconds=1)
    stamp = "%Y-%m-%dT%H:%M:%S.%fZ"
    window = f'timestamp>="{start.strftime(stamp)}" AND timestamp<="{end.strftime(stamp)}"'
    assert len(_texts(logging, f'labels.job_uid="{uid}" AND {window}')) == 4
    assert _texts(logging, f'labels.job_uid="{uid}" AND timestamp<"{start.strftime(stamp)}"') == []
    assert _texts(logging, f'timestamp>"{end.isoformat()}"') == []
    assert _texts(logging, 'labels.job_uid="someone-else"') == []
    assert _texts(logging, 'log_id("batch_agent_logs")') == []

    ascending = _texts(logging, f'labels.job_uid="{uid}"', "timestamp asc")
    descending = _texts(logging, f'labels.job_uid="{uid}"', "timestamp desc")
    assert descending == list(reversed(ascending))

    pages = logging.list_log_entries(
        request={"resource_names": [f"projects/{PROJECT}"], "filter": f"labels.job_uid={uid}", "page_size": 3}
    ).pages
    assert [len(p.entries) for p in pages] == [3, 1]

    for bad in (
        'labels.a="x" OR labels.b="y"',
        'NOT labels.a="x"',
        '-labels.a="x"',
        '(labels.a="x")',
        'jsonPayload.message="x"',
        'timestamp>="yesterday"',
        "severity>=LOUD",
        "labels.a>3",
    ):
        with pytest.raises(exceptions.InvalidArgument):
            _texts(logging, bad)
    with pytest.raises(exceptions.InvalidArgument, match="order_by"):
        _texts(logging, "", "severity")
    with pytest.raises(exceptions.InvalidArgument, match="resource"):
        list(logging.list_log_entries(request={"resource_names": ["organizations/1"]}))
    with pytest.raises(exceptions.InvalidArgument, match="resource_names"):
        list(logging.list_log_entries(request={"resource_names": []}))
    assert batch_emulator.rpc_counts()["ListLogEntries"] >= 20


def test_only_cloud_logging_jobs_write_entries_and_containers_log_too(batch_emulator: BatchEmulator) -> None:
    client = batch_emulator.client()
    quiet = wait_state(
        client,
        client.create_job(parent=PARENT, job_id="quiet", job=script_job(batch_v1alpha, "echo hidden")).name,
    )
    assert [line.text for line in batch_emulator.task_logs("quiet")] == ["hidden"]
    container = _logged(container_job(batch_v1alpha, labels={"team": "red"}))
    simulated = wait_state(client, client.create_job(parent=PARENT, job_id="sim", job=container).name)
    logging = batch_emulator.logging_client()
    assert _texts(logging, f'labels.job_uid="{quiet.uid}"') == []
    lines = _texts(logging, f'labels.job_uid="{simulated.uid}" AND labels.team="red"')
    assert lines == ["[simulated] us-docker.pkg.dev/p/r/debian:12: sleep 1", "[simulated] exit code 0"]


def test_async_logging_client(batch_emulator: BatchEmulator, finished) -> None:
    async def read() -> list[str]:
        logging = batch_emulator.async_logging_client()
        pager = await logging.list_log_entries(
            resource_names=[f"projects/{PROJECT}"], filter=f'labels.job_uid="{finished.uid}" severity=ERROR'
        )
        return sorted([entry.text_payload async for entry in pager])

    assert asyncio.run(read()) == ["warn 0", "warn 1"]
