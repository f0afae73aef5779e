"""The command line: first line, a working server, clean exit on SIGTERM."""

from __future__ import annotations

import subprocess
import sys

import grpc
from emulator_helpers import PARENT, container_job
from google.cloud import batch_v1alpha
from google.cloud.batch_v1alpha.services.batch_service.transports import (
    BatchServiceGrpcTransport,
)

from airflow_batchstream.emulator.clients import batch_client


def test_cli_prints_address_serves_and_exits_cleanly() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_batchstream.emulator",
            "--port",
            "0",
            "--run-seconds",
            "0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().rstrip("\n")
        key, _, address = first.partition("=")
        assert key == "BATCH_EMULATOR_HOST"
        host, _, port = address.rpartition(":")
        assert host == "127.0.0.1" and int(port) > 0
        channel = grpc.insecure_channel(address)
        client = batch_v1alpha.BatchServiceClient(transport=BatchServiceGrpcTransport(channel=channel))
        job = client.create_job(parent=PARENT, job_id="from-cli", job=container_job(batch_v1alpha))
        assert client.get_job(name=job.name).uid == job.uid
        rest = batch_client("v1alpha", "rest", address=address)  # the REST face of the same process
        assert rest.get_job(name=job.name).uid == job.uid
        channel.close()
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
