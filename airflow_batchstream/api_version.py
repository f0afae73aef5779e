"""The Batch API versions this provider speaks, and where their generated modules live."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

#: Supported values of every ``api_version`` argument; the first is the default.
API_VERSIONS = ("v1", "v1alpha")
DEFAULT_API_VERSION = API_VERSIONS[0]

#: Like ``PUBSUB_EMULATOR_HOST``: ``host:port`` of a plaintext Batch API to use instead of Google's.
EMULATOR_HOST_ENV = "BATCH_EMULATOR_HOST"
#: When set (the pytest plugin sets it for its session), its value is the message with which every
#: call to Google's real Batch, Logging or registry endpoints is refused before it is made.
REFUSE_GOOGLE_ENV = "BATCHSTREAM_REFUSE_GOOGLE_CALLS"


class GoogleCallRefused(RuntimeError):
    """A call would have gone to Google Cloud while ``BATCHSTREAM_REFUSE_GOOGLE_CALLS`` forbids it."""


def check_api_version(api_version: str) -> str:
    """
    Return ``api_version`` if this provider supports it, else raise ``ValueError`` saying which do.

    :param api_version: ``"v1"`` or ``"v1alpha"``.
    """
    if api_version not in API_VERSIONS:
        raise ValueError(
            f"api_version={api_version!r} is not supported; use one of {', '.join(map(repr, API_VERSIONS))} "
            "(v1, the default, is the generally available API; v1alpha the preview one)."
        )
    return api_version


def batch_module(api_version: str) -> ModuleType:
    """
    Import the generated client module of one API version (``google.cloud.batch_v1alpha`` or ``_v1``).

    :param api_version: ``"v1"`` or ``"v1alpha"``.
    """
    return importlib.import_module(f"google.cloud.batch_{check_api_version(api_version)}")


def emulator_host() -> str | None:
    """
    Return ``host:port`` from ``BATCH_EMULATOR_HOST``, or ``None`` when the real API is meant.

    Every path that would reach Google asks this first, so it is where real calls are refused:
    with ``BATCHSTREAM_REFUSE_GOOGLE_CALLS`` set and no emulator, it raises :class:`GoogleCallRefused`.
    """
    host = os.environ.get(EMULATOR_HOST_ENV)
    if host:
        return host
    refusal = os.environ.get(REFUSE_GOOGLE_ENV)
    if refusal:
        raise GoogleCallRefused(refusal)
    return None
