"""Under the pytest plugin, a call that would leave for Google without an emulator is refused at once."""

from __future__ import annotations

import os

import pytest
from dag_files import operator_dag

from airflow_batchstream.api_version import REFUSE_GOOGLE_ENV, GoogleCallRefused, emulator_host
from airflow_batchstream.emulator import BatchEmulator
from airflow_batchstream.emulator.dag_runs import recorded_failures
from airflow_batchstream.emulator.pytest_plugin import AirflowSession

pytestmark = pytest.mark.integration

IMAGE = "us-central1-docker.pkg.dev/demo-project/containers/debian:12"
# A real-looking connection, as on a laptop with credentials: without the refusal the hook would use it.
LAPTOP_CONNECTION = '{"conn_type": "google_cloud_platform", "extra": {"project": "my-real-project"}}'


@pytest.fixture
def laptop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATCH_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT", LAPTOP_CONNECTION)


@pytest.mark.usefixtures("laptop")
def test_a_dag_run_without_the_emulator_fails_naming_the_fixture(
    batchstream_airflow: AirflowSession, caplog: pytest.LogCaptureFixture
) -> None:
    dag = operator_dag("forgot_the_emulator", image_uri=IMAGE)
    with recorded_failures() as failures:
        assert dag.test().state == "failed"

    (error,) = failures.values()
    assert isinstance(error, GoogleCallRefused)
    assert "`batch_emulator` fixture" in str(error)


@pytest.mark.usefixtures("laptop")
def test_batch_logging_and_registry_calls_are_refused_before_they_are_made() -> None:
    from airflow_batchstream.hooks.batch import BatchStreamHook, build_batch_client
    from airflow_batchstream.logs import build_logging_client
    from airflow_batchstream.preflight.http import registry_target

    for call in (
        lambda: BatchStreamHook().get_job("projects/p/locations/us-central1/jobs/j"),
        lambda: build_batch_client("v1"),
        build_logging_client,
        lambda: registry_target("us-central1-docker.pkg.dev"),
    ):
        with pytest.raises(GoogleCallRefused, match="batch_emulator"):
            call()


def test_the_emulator_fixture_lets_calls_through(batch_emulator: BatchEmulator) -> None:
    assert emulator_host() == batch_emulator.address


@pytest.mark.usefixtures("laptop", "allow_google_calls")
def test_allow_google_calls_lifts_the_refusal() -> None:
    assert REFUSE_GOOGLE_ENV not in os.environ
    assert emulator_host() is None


def test_the_refusal_lasts_the_whole_session() -> None:
    assert "batch_emulator" in os.environ[REFUSE_GOOGLE_ENV]
