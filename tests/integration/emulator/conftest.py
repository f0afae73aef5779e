"""Fixtures of the emulator integration tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["grpc", "rest"])
def transport(request: pytest.FixtureRequest) -> str:
    """Run a test once per transport of Google's client: gRPC, then REST (HTTP/JSON).

    :param request: pytest's request, carrying the parameter.
    """
    return str(request.param)
