"""pytest plugin: an in-process Batch emulator per test.

Enable it with ``pytest_plugins = ["airflow_batchstream.emulator.pytest_plugin"]`` in a
``conftest.py``. The ``batch_emulator`` fixture starts a :class:`BatchEmulator` on a free
loopback port, sets ``BATCH_EMULATOR_HOST`` for the test (and an anonymous
``google_cloud_default`` connection for project ``demo-project`` unless one is set), and stops
it afterwards. Override
the ``batch_emulator_options`` fixture to change its timings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_batchstream.emulator.server import BatchEmulator

#: Airflow reads ``google_cloud_default`` from this variable when no other backend defines it.
DEFAULT_CONNECTION_ENV = "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"
#: An anonymous Google connection whose project matches the example DAGs' default.
EMULATOR_CONNECTION = json.dumps(
    {"conn_type": "google_cloud_platform", "extra": {"project": "demo-project", "is_anonymous": True}}
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
    monkeypatch: pytest.MonkeyPatch, batch_emulator_options: dict[str, Any]
) -> Iterator[BatchEmulator]:
    """A running emulator on a free loopback port, with ``BATCH_EMULATOR_HOST`` pointing at it.

    :param monkeypatch: pytest's monkeypatch, to set the environment variable for this test only.
    :param batch_emulator_options: keyword arguments for the emulator.
    """
    emulator = BatchEmulator("127.0.0.1", 0, **batch_emulator_options).start()
    monkeypatch.setenv("BATCH_EMULATOR_HOST", emulator.address)
    if DEFAULT_CONNECTION_ENV not in os.environ:
        monkeypatch.setenv(DEFAULT_CONNECTION_ENV, EMULATOR_CONNECTION)
    try:
        yield emulator
    finally:
        emulator.stop()
