"""The end-to-end session: one emulator process and one real Airflow deployment, shared by every e2e test."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow_deployment import AirflowDeployment
from backing_services import PostgresServer, RedisServer

from airflow_batchstream.emulator.control import EmulatorControl
from airflow_batchstream.emulator.process import EmulatorProcess
from airflow_batchstream.emulator.pytest_plugin import DEFAULT_CONNECTION_ENV, EMULATOR_CONNECTION

ROOT = Path(__file__).parents[2]
#: DAG files only the end-to-end tests use, copied into the deployment's DAGs folder with the examples.
E2E_DAGS = Path(__file__).parent / "dags"
#: Where the deployment's logs are copied at the end of the session (git-ignored).
LOGS_ARTIFACT = ROOT / "artifacts" / "e2e" / "airflow-home"
#: The deployment shapes every e2e test runs on (``E2E_DEPLOYMENTS=local`` for one): airflow_deployment.py.
DEPLOYMENTS = os.environ.get("E2E_DEPLOYMENTS", "local,celery").split(",")
#: Emulator timings: jobs take a few seconds, so a test sees QUEUED, SCHEDULED and RUNNING.
EMULATOR_ARGS = ["--queued-seconds", "0.5", "--scheduled-seconds", "0.5", "--run-seconds", "1"]


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[EmulatorProcess]:
    """The Batch emulator as a child process, for the whole session."""
    with EmulatorProcess(EMULATOR_ARGS) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def emulator_control(emulator_process: EmulatorProcess) -> Iterator[EmulatorControl]:
    """The emulator's control service: counters, faults, holding and releasing jobs.

    :param emulator_process: the emulator.
    """
    control = emulator_process.control()
    try:
        yield control
    finally:
        control.close()


@pytest.fixture(scope="session")
def batch_client(emulator_process: EmulatorProcess) -> Any:
    """A real ``google-cloud-batch`` v1alpha client of the emulator, to see what Airflow did there.

    :param emulator_process: the emulator.
    """
    import grpc
    from google.cloud import batch_v1alpha

    transport = batch_v1alpha.services.batch_service.transports.BatchServiceGrpcTransport(
        channel=grpc.insecure_channel(emulator_process.address)
    )
    return batch_v1alpha.BatchServiceClient(transport=transport)


@pytest.fixture(scope="session", params=DEPLOYMENTS)
def airflow(request: pytest.FixtureRequest, emulator_process: EmulatorProcess) -> Iterator[AirflowDeployment]:
    """A running Airflow deployment that talks to the emulator, one per shape in :data:`DEPLOYMENTS`.

    pytest runs every test on one shape, stops it, then runs them all on the next.

    :param request: names the shape (``local`` or ``celery``).
    :param emulator_process: the emulator the deployment's tasks submit jobs to.
    """
    shape = request.param
    home = Path(tempfile.mkdtemp(prefix=f"batchstream-e2e-{shape}-"))
    dags = home / "dags"
    shutil.copytree(ROOT / "example_dags", dags)
    for dag_file in E2E_DAGS.glob("*.py"):
        shutil.copy(dag_file, dags)
    # What a user sets: Batch and Pub/Sub (push waiting) both go to the emulator's one port.
    env = {
        "BATCH_EMULATOR_HOST": emulator_process.address,
        "PUBSUB_EMULATOR_HOST": emulator_process.address,
        DEFAULT_CONNECTION_ENV: EMULATOR_CONNECTION,
    }
    with contextlib.ExitStack() as services:
        if shape == "celery":
            postgres = services.enter_context(PostgresServer())
            redis = services.enter_context(RedisServer())
            deployment = AirflowDeployment(home, dags, env, shape, postgres.url, redis.url)
        else:
            deployment = AirflowDeployment(home, dags, env, shape)
        try:
            seconds = deployment.start()
            print(f"\nAirflow ({shape}) healthy after {seconds:.1f} s at {deployment.base_url} (home {home})")
            yield deployment
        finally:
            deployment.stop()
            # Component output and task logs outlive the run, for whoever reads a failure.
            artifact = LOGS_ARTIFACT / shape
            shutil.rmtree(artifact, ignore_errors=True)
            shutil.copytree(home, artifact, ignore=shutil.ignore_patterns("*.db*", "dags", "*.json"))
            shutil.rmtree(home, ignore_errors=True)
