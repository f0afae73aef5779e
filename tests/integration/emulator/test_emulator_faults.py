"""Fault injection, latency and inspection, through the real batch client (retries off)."""

from __future__ import annotations

import uuid

import grpc
import pytest
from emulator_helpers import PARENT, container_job
from google.api_core import exceptions
from google.cloud import batch_v1alpha
from google.cloud.batch_v1alpha.services.batch_service.transports import BatchServiceGrpcTransport

from airflow_batchstream.emulator import BatchEmulator
from airflow_batchstream.emulator.control import EmulatorControlError
from airflow_batchstream.emulator.process import EmulatorProcess

TRANSIENT = (
    exceptions.ServiceUnavailable,
    exceptions.ResourceExhausted,
    exceptions.DeadlineExceeded,
    exceptions.InternalServerError,
)


def _create(client, job_id: str, request_id: str | None = None):
    request = {"parent": PARENT, "job_id": job_id, "job": container_job(batch_v1alpha)}
    if request_id:
        request["request_id"] = request_id
    return client.create_job(request=request, retry=None)


def test_rate_per_method_within_tolerance(batch_emulator: BatchEmulator) -> None:
    client = batch_emulator.client()
    job = _create(client, "target")
    batch_emulator.reset_counts()
    batch_emulator.set_faults(rate=0.3, methods=["GetJob"], seed=11)
    calls, failures, kinds, messages = 400, 0, set(), set()
    for _ in range(calls):
        try:
            client.get_job(name=job.name, retry=None)
        except TRANSIENT as exc:
            failures += 1
            kinds.add(type(exc))
            messages.add(exc.message.split(" (")[0])
    assert {m.split(": ")[0] for m in messages} == {"injected by the emulator"}
    # 400 draws at p=0.3: the standard deviation is 0.023, so +-0.1 is more than 4 sigma.
    assert 0.2 <= failures / calls <= 0.4
    assert kinds == set(TRANSIENT)
    assert batch_emulator.rpc_counts() == {"GetJob": calls}
    assert batch_emulator.faults_injected() == {"GetJob": failures}
    # Methods not selected are untouched.
    for i in range(20):
        _create(client, f"untouched-{i}")
    assert batch_emulator.jobs_created() == 20
    batch_emulator.clear_faults()
    client.get_job(name=job.name, retry=None)


def test_same_seed_same_faults(batch_emulator: BatchEmulator) -> None:
    client = batch_emulator.client()
    job = _create(client, "seeded")

    def pattern() -> list[bool]:
        batch_emulator.set_faults(rate=0.5, methods=["GetJob"], seed=3)
        out = []
        for _ in range(30):
            try:
                client.get_job(name=job.name, retry=None)
                out.append(True)
            except TRANSIENT:
                out.append(False)
        return out

    first = pattern()
    assert first == pattern()
    assert True in first and False in first


def test_create_fault_before_commit_stores_nothing(batch_emulator: BatchEmulator) -> None:
    client = batch_emulator.client()
    batch_emulator.fail_next("CreateJob", "UNAVAILABLE")
    with pytest.raises(exceptions.ServiceUnavailable):
        _create(client, "lost-request")
    assert batch_emulator.jobs_created() == 0
    with pytest.raises(exceptions.NotFound):
        client.get_job(name=f"{PARENT}/jobs/lost-request")
    assert _create(client, "lost-request").name.endswith("/lost-request")
    assert batch_emulator.rpc_counts()["CreateJob"] == 2
    assert batch_emulator.jobs_created() == 1


def test_create_fault_after_commit_and_request_id_retry(batch_emulator: BatchEmulator) -> None:
    client = batch_emulator.client()
    request_id = str(uuid.uuid4())
    batch_emulator.fail_next("CreateJob", "DEADLINE_EXCEEDED", after_commit=True)
    with pytest.raises(exceptions.DeadlineExceeded):
        _create(client, "lost-response", request_id)
    assert batch_emulator.jobs_created() == 1
    stored = client.get_job(name=f"{PARENT}/jobs/lost-response")
    again = _create(client, "lost-response", request_id)
    assert again.uid == stored.uid
    assert batch_emulator.jobs_created() == 1
    with pytest.raises(exceptions.AlreadyExists):
        _create(client, "lost-response", str(uuid.uuid4()))
    assert batch_emulator.rpc_counts()["CreateJob"] == 3


def test_random_after_commit_fraction(batch_emulator: BatchEmulator) -> None:
    client = batch_emulator.client()
    batch_emulator.set_faults(
        rate=1.0, codes=["UNAVAILABLE"], methods=["CreateJob"], seed=5, fault_after_commit=0.5
    )
    for i in range(100):
        with pytest.raises(exceptions.ServiceUnavailable):
            _create(client, f"half-{i}")
    assert 30 <= batch_emulator.jobs_created() <= 70
    assert batch_emulator.faults_injected() == {"CreateJob": 100}


def test_latency_beyond_the_client_deadline(batch_emulator: BatchEmulator) -> None:
    client = batch_emulator.client()
    job = _create(client, "slow-answers")
    batch_emulator.set_latency(400)
    with pytest.raises(exceptions.DeadlineExceeded):
        client.get_job(name=job.name, retry=None, timeout=0.05)
    batch_emulator.set_latency(0)
    assert client.get_job(name=job.name, retry=None, timeout=5).uid == job.uid


def test_bad_fault_settings_are_refused(batch_emulator: BatchEmulator) -> None:
    with pytest.raises(ValueError, match="rate"):
        batch_emulator.set_faults(rate=1.5)
    with pytest.raises(ValueError, match="status code"):
        batch_emulator.set_faults(rate=0.1, codes=["NOPE"])
    with pytest.raises(ValueError, match="latency_ms"):
        batch_emulator.set_latency(60_000)
    with pytest.raises(ValueError, match="after_commit"):
        batch_emulator.fail_next("GetJob", after_commit=True)


def test_control_from_another_process() -> None:
    flags = [
        "--fault-rate",
        "1",
        "--fault-methods",
        "GetJob",
        "--fault-codes",
        "INTERNAL",
        "--queued-seconds",
        "60",
    ]
    with EmulatorProcess(flags) as server:
        control = server.control()
        channel = grpc.insecure_channel(server.address)
        client = batch_v1alpha.BatchServiceClient(transport=BatchServiceGrpcTransport(channel=channel))
        job = _create(client, "remote")
        with pytest.raises(exceptions.InternalServerError):
            client.get_job(name=job.name, retry=None)
        assert control.rpc_counts() == {"CreateJob": 1, "GetJob": 1}
        assert control.faults_injected() == {"GetJob": 1}
        control.clear_faults()
        control.fail_next("CreateJob", "RESOURCE_EXHAUSTED", after_commit=True)
        with pytest.raises(exceptions.ResourceExhausted):
            _create(client, "remote-two")
        assert control.jobs_created() == 2
        assert control.job_states() == {job.name: "QUEUED", f"{PARENT}/jobs/remote-two": "QUEUED"}
        control.call("fail_job", job="future", exit_code=4)
        with pytest.raises(EmulatorControlError, match="INVALID_ARGUMENT"):
            control.set_faults(rate=2)
        with pytest.raises(EmulatorControlError, match="INVALID_ARGUMENT"):
            control.call("stop")
        control.reset_counts()
        assert control.rpc_counts() == {} and control.jobs_created() == 0
        channel.close()
        control.close()


def test_cli_refuses_bad_fault_flags(capsys: pytest.CaptureFixture[str]) -> None:
    from airflow_batchstream.emulator.__main__ import main

    assert main(["--fault-rate", "2"]) == 2
    assert "rate must be within [0, 1]" in capsys.readouterr().err
    assert main(["--latency-ms", "999999"]) == 2
    assert "latency_ms" in capsys.readouterr().err
