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


def test_env_file_is_written_once_serving_ready_waits_for_it_and_stop_removes_it(tmp_path) -> None:
    from airflow_batchstream.emulator.control import EmulatorControl
    from airflow_batchstream.emulator.envfile import read_env_file

    env_file = tmp_path / "emulator.env"
    ready_cmd = [sys.executable, "-m", "airflow_batchstream.emulator", "--ready", str(env_file)]
    # Nothing serves yet: --ready gives up after its timeout, with a reason.
    early = subprocess.run([*ready_cmd, "--timeout", "0.3"], capture_output=True, text=True, timeout=60)
    assert early.returncode == 1 and "no emulator answered" in early.stderr
    # --ready started before the emulator waits for it (the shell recipe's order).
    waiter = subprocess.Popen([*ready_cmd, "--timeout", "60"], stdout=subprocess.PIPE, text=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_batchstream.emulator", "--env-file", str(env_file), "--print-env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        printed = [proc.stdout.readline().rstrip("\n") for _ in range(3)]
        assert waiter.wait(timeout=60) == 0
        environment = read_env_file(env_file)
        assert printed[0] == f"BATCH_EMULATOR_HOST={environment['BATCH_EMULATOR_HOST']}"
        assert float(environment["BATCHSTREAM_MAX_POLL_INTERVAL"]) == 0.25  # half the default 0.5 s phases
        assert '"is_anonymous": true' in environment["AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"]
        assert waiter.stdout is not None
        assert waiter.stdout.read().strip() == printed[0]
        control = EmulatorControl(environment["BATCH_EMULATOR_HOST"])
        assert control.jobs_created() == 0
        control.close()
        # The file is sourceable by a POSIX shell as written.
        shell = subprocess.run(
            ["sh", "-c", f'set -a; . "{env_file}"; set +a; echo "$AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"'],
            capture_output=True,
            text=True,
            check=True,
        )
        assert shell.stdout.strip() == environment["AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"]
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        assert not env_file.exists()
    finally:
        for child in (proc, waiter):
            if child.poll() is None:
                child.kill()
                child.wait()
