"""pytest plugin: an in-process Batch emulator per test.

Enable it in a ``conftest.py``::

    pytest_plugins = ["airflow_batchstream.emulator.pytest_plugin"]

It is deliberately not a ``pytest11`` entry point: installing the provider must not load gRPC
into every pytest run, nor clash with a ``pytest_plugins`` line naming the same module. Nothing
starts until a test asks for the ``batch_emulator`` fixture.

The fixture starts a :class:`~airflow_batchstream.emulator.server.BatchEmulator` on a free
loopback port, sets ``BATCH_EMULATOR_HOST`` and ``PUBSUB_EMULATOR_HOST`` for the test (and an anonymous
``google_cloud_default`` connection for project ``demo-project`` unless
``AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT`` is already set), and stops it afterwards. Change its
options for every test by overriding the ``batch_emulator_options`` fixture, or for one test
with the marker ``@pytest.mark.batch_emulator(run_seconds=3, container_runtime="local")``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_batchstream.emulator.server import BatchEmulator

#: Airflow reads ``google_cloud_default`` from this variable when no other backend defines it.
DEFAULT_CONNECTION_ENV = "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"
#: An anonymous Google connection whose project matches the example DAGs' default.
EMULATOR_CONNECTION = json.dumps(
    {"conn_type": "google_cloud_platform", "extra": {"project": "demo-project", "is_anonymous": True}}
)
MARKER = "batch_emulator"


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker, so ``--strict-markers`` accepts it.

    :param config: pytest's configuration.
    """
    config.addinivalue_line(
        "markers", f"{MARKER}(**options): keyword arguments for this test's BatchEmulator"
    )


@pytest.fixture
def batch_emulator_options() -> dict[str, Any]:
    """Keyword arguments for :class:`BatchEmulator`; fast timings by default."""
    return {
        "queued_seconds": 0.2,
        "scheduled_seconds": 0.2,
        "run_seconds": 0.5,
        "cancel_seconds": 0.2,
        "delete_seconds": 0.2,
        "default_image_size": 128 * 1024 * 1024,
    }


@pytest.fixture
def batch_emulator(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    batch_emulator_options: dict[str, Any],
) -> Iterator[BatchEmulator]:
    """A running emulator on a free loopback port, with ``BATCH_EMULATOR_HOST`` pointing at it.

    :param request: the requesting test, for its ``batch_emulator`` marker.
    :param monkeypatch: pytest's monkeypatch, to set the environment variables for this test only.
    :param batch_emulator_options: keyword arguments for the emulator.
    """
    from airflow_batchstream.api_version import EMULATOR_HOST_ENV
    from airflow_batchstream.emulator.server import BatchEmulator

    options = dict(batch_emulator_options)
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        options.update(marker.kwargs)
    emulator = BatchEmulator("127.0.0.1", 0, **options).start()
    monkeypatch.setenv(EMULATOR_HOST_ENV, emulator.address)
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", emulator.address)  # Pub/Sub is served on the same port
    if emulator.access_token:
        from airflow_batchstream.emulator_client import EMULATOR_TOKEN_ENV

        monkeypatch.setenv(EMULATOR_TOKEN_ENV, emulator.access_token)
    if DEFAULT_CONNECTION_ENV not in os.environ:
        monkeypatch.setenv(DEFAULT_CONNECTION_ENV, EMULATOR_CONNECTION)
    try:
        yield emulator
    finally:
        emulator.stop()
