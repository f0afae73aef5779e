"""Fixtures of the security tests: a recording registry, a fake discovery pointing at it, a clean cache."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from security_helpers import CaptureServer, FakeDiscovery

from airflow_batchstream.preflight import clear_cache


@pytest.fixture(autouse=True)
def _fresh_preflight_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    """A recording HTTP server on loopback."""
    server = CaptureServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def discovery(monkeypatch: pytest.MonkeyPatch, capture: CaptureServer) -> Iterator[FakeDiscovery]:
    """``BATCH_EMULATOR_HOST`` set to a fake emulator whose discovery names ``capture``."""
    fake = FakeDiscovery(json.dumps({"http": capture.url}).encode())
    monkeypatch.setenv("BATCH_EMULATOR_HOST", fake.address)
    monkeypatch.delenv("BATCH_EMULATOR_TOKEN", raising=False)
    try:
        yield fake
    finally:
        fake.stop()
