"""One line to point Google's own clients at a running emulator.

Code written for Google needs no other change::

    from airflow_batchstream.emulator.clients import batch_client, logging_client

    batch = batch_client()                                  # batch_v1.BatchServiceClient over gRPC
    batch = batch_client("v1alpha", transport="rest")      # over HTTP/JSON
    logs = logging_client("my-project")                    # google.cloud.logging.Client
    for entry in logs.logger("batch_task_logs").list_entries(filter_=f"labels.job_uid={job.uid}"):
        print(entry.payload)

Each helper finds the emulator at ``address`` or, by default, ``BATCH_EMULATOR_HOST``, and sends
its access token (``token`` or ``BATCH_EMULATOR_TOKEN``) when it has one. gRPC clients use a
plaintext channel to it; REST clients and the Cloud Logging client use its REST endpoint (asked
from the emulator over gRPC, see :func:`~airflow_batchstream.preflight.http.emulator_endpoints`)
with credentials that carry no Google credential, only the emulator's token. Nothing here is
imported by the provider's operators.

Code that builds its own clients (Google's published samples call ``batch_v1.BatchServiceClient()``
and ``logging.Client(project=...)`` inside each function) runs unmodified inside
:func:`redirect_google_clients`::

    with redirect_google_clients(transport="rest"):
        job = create_script_job("demo-project", "europe-north1", "my-job")  # Google's sample, as published
"""

from __future__ import annotations

import contextlib
import functools
import importlib
from collections.abc import Callable, Iterator
from typing import Any

from airflow_batchstream.api_version import EMULATOR_HOST_ENV, check_api_version, emulator_host
from airflow_batchstream.emulator_client import emulator_channel

TRANSPORTS = ("grpc", "rest")


def emulator_address(address: str | None = None) -> str:
    """The emulator's gRPC ``host:port``: ``address``, else ``BATCH_EMULATOR_HOST``.

    :param address: an explicit ``host:port``.
    :raises ValueError: when neither is set.
    """
    found = address or emulator_host()
    if not found:
        raise ValueError(
            f"no emulator address: pass address='127.0.0.1:PORT' or set {EMULATOR_HOST_ENV} "
            "(batchstream-emulator prints it on its first line)"
        )
    return found


def rest_endpoint(address: str | None = None, token: str | None = None) -> str:
    """The emulator's REST base URL (``http://127.0.0.1:PORT``), the ``api_endpoint`` of REST clients.

    :param address: the emulator's gRPC ``host:port`` (default: ``BATCH_EMULATOR_HOST``).
    :param token: the emulator's access token (default: ``BATCH_EMULATOR_TOKEN``).
    """
    from airflow_batchstream.preflight.http import emulator_endpoints

    return emulator_endpoints(emulator_address(address), token)["rest"]


def emulator_credentials(token: str | None = None) -> Any:
    """Credentials for REST clients of the emulator: anonymous, plus the emulator's access token header.

    :param token: the emulator's access token (default: ``BATCH_EMULATOR_TOKEN``; none: anonymous).
    """
    from google.auth.credentials import AnonymousCredentials

    from airflow_batchstream.emulator_client import token_headers

    headers = token_headers(token)

    class EmulatorCredentials(AnonymousCredentials):
        """Anonymous credentials that send the emulator's access token."""

        def apply(self, headers_out: Any, token: str | None = None) -> None:
            headers_out.update(headers)

        def before_request(self, request: Any, method: str, url: str, headers_out: Any) -> None:
            self.apply(headers_out)

    return EmulatorCredentials()


def _batch_modules(api_version: str) -> tuple[Any, Any]:
    version = check_api_version(api_version)
    module = importlib.import_module(f"google.cloud.batch_{version}")
    transports = importlib.import_module(f"google.cloud.batch_{version}.services.batch_service.transports")
    return module, transports


def _check_transport(transport: str) -> None:
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}")


def _batch_client_arguments(
    transports: Any, transport: str, target: str, token: str | None, rest_url: str | None = None
) -> dict[str, Any]:
    """``BatchServiceClient`` keyword arguments for the emulator at ``target`` (REST at ``rest_url``)."""
    if transport == "grpc":
        return {"transport": transports.BatchServiceGrpcTransport(channel=emulator_channel(target, token))}
    if transport == "grpc_asyncio":
        channel = emulator_channel(target, token, asynchronous=True)
        return {"transport": transports.BatchServiceGrpcAsyncIOTransport(channel=channel)}
    _check_transport(transport)  # what is left is "rest"
    return {
        "credentials": emulator_credentials(token),
        "transport": "rest",
        "client_options": {"api_endpoint": rest_url or rest_endpoint(target, token)},
    }


def batch_client(
    api_version: str = "v1",
    transport: str = "grpc",
    *,
    address: str | None = None,
    token: str | None = None,
) -> Any:
    """A synchronous ``BatchServiceClient`` of either API version, over either transport.

    :param api_version: ``"v1"`` or ``"v1alpha"``.
    :param transport: ``"grpc"`` (a plaintext channel) or ``"rest"`` (HTTP/JSON).
    :param address: the emulator's gRPC ``host:port`` (default: ``BATCH_EMULATOR_HOST``).
    :param token: the emulator's access token (default: ``BATCH_EMULATOR_TOKEN``).
    """
    _check_transport(transport)
    module, transports = _batch_modules(api_version)
    arguments = _batch_client_arguments(transports, transport, emulator_address(address), token)
    return module.BatchServiceClient(**arguments)


def async_batch_client(
    api_version: str = "v1", *, address: str | None = None, token: str | None = None
) -> Any:
    """An asyncio ``BatchServiceAsyncClient`` over gRPC; create it inside the running event loop.

    :param api_version: ``"v1"`` or ``"v1alpha"``.
    :param address: the emulator's gRPC ``host:port`` (default: ``BATCH_EMULATOR_HOST``).
    :param token: the emulator's access token (default: ``BATCH_EMULATOR_TOKEN``).
    """
    module, transports = _batch_modules(api_version)
    arguments = _batch_client_arguments(transports, "grpc_asyncio", emulator_address(address), token)
    return module.BatchServiceAsyncClient(**arguments)


def logging_client(project: str, *, address: str | None = None, token: str | None = None) -> Any:
    """A ``google.cloud.logging.Client`` reading the emulator's task logs (over its REST endpoint).

    :param project: the project the client works in (``logger(...).list_entries`` reads it).
    :param address: the emulator's gRPC ``host:port`` (default: ``BATCH_EMULATOR_HOST``).
    :param token: the emulator's access token (default: ``BATCH_EMULATOR_TOKEN``).
    """
    from google.cloud import logging

    return logging.Client(project=project, **_logging_client_arguments(emulator_address(address), token))


def _logging_client_arguments(target: str, token: str | None, rest_url: str | None = None) -> dict[str, Any]:
    """``google.cloud.logging.Client`` keyword arguments for the emulator's REST face (at ``rest_url``)."""
    return {
        "credentials": emulator_credentials(token),
        "client_options": {"api_endpoint": rest_url or rest_endpoint(target, token)},
        "_use_grpc": False,
    }


def logging_api_client(*, address: str | None = None, token: str | None = None) -> Any:
    """The generated ``LoggingServiceV2Client`` (``list_log_entries``) over a plaintext gRPC channel.

    :param address: the emulator's gRPC ``host:port`` (default: ``BATCH_EMULATOR_HOST``).
    :param token: the emulator's access token (default: ``BATCH_EMULATOR_TOKEN``).
    """
    from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
    from google.cloud.logging_v2.services.logging_service_v2.transports import LoggingServiceV2GrpcTransport

    channel = emulator_channel(emulator_address(address), token)
    return LoggingServiceV2Client(transport=LoggingServiceV2GrpcTransport(channel=channel))


def async_logging_api_client(*, address: str | None = None, token: str | None = None) -> Any:
    """The asyncio ``LoggingServiceV2AsyncClient`` over gRPC; create it inside the running event loop.

    :param address: the emulator's gRPC ``host:port`` (default: ``BATCH_EMULATOR_HOST``).
    :param token: the emulator's access token (default: ``BATCH_EMULATOR_TOKEN``).
    """
    from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2AsyncClient
    from google.cloud.logging_v2.services.logging_service_v2.transports import (
        LoggingServiceV2GrpcAsyncIOTransport,
    )

    channel = emulator_channel(emulator_address(address), token, asynchronous=True)
    return LoggingServiceV2AsyncClient(transport=LoggingServiceV2GrpcAsyncIOTransport(channel=channel))


@contextlib.contextmanager
def redirect_google_clients(
    transport: str = "grpc", *, address: str | None = None, token: str | None = None
) -> Iterator[None]:
    """While active, Google's Batch and Cloud Logging clients that code builds itself reach the emulator.

    Every ``BatchServiceClient`` and ``BatchServiceAsyncClient`` of ``batch_v1`` and
    ``batch_v1alpha`` built inside the block, with no transport or with a transport *name*, talks
    to the emulator over that transport (``transport``, else the name the code gave: a sample
    written with ``transport="rest"`` stays on REST); the credentials and ``client_options`` the
    code passes are set aside, so no Google credential reaches the emulator. A client given a
    transport *object* is left as it is. Every ``google.cloud.logging.Client`` reads the emulator's
    REST face. The classes are patched for the whole process until the block ends: use it around
    code you run, not in a server shared by threads that must reach Google.

    :param transport: the transport of clients that name none: ``"grpc"`` or ``"rest"``.
    :param address: the emulator's gRPC ``host:port`` (default: ``BATCH_EMULATOR_HOST``).
    :param token: the emulator's access token (default: ``BATCH_EMULATOR_TOKEN``).
    :raises ValueError: for another transport, or when no emulator address is known.
    """
    from google.cloud import logging

    _check_transport(transport)
    target = emulator_address(address)
    rest_url = functools.cache(lambda: rest_endpoint(target, token))  # asked once, when first needed
    patched: list[tuple[Any, Callable[..., None]]] = []

    def patch(cls: Any, arguments: Callable[[str | None], dict[str, Any] | None]) -> None:
        original: Callable[..., None] = vars(cls)["__init__"]

        @functools.wraps(original)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            redirected = arguments(kwargs.get("transport"))
            if redirected is not None:
                kwargs.pop("credentials", None)
                kwargs.pop("client_options", None)
                kwargs.update(redirected)
            original(self, *args, **kwargs)

        patched.append((cls, original))
        cls.__init__ = __init__

    try:
        for version in ("v1", "v1alpha"):
            module, transports = _batch_modules(version)

            def batch_arguments(named: Any, transports: Any = transports) -> dict[str, Any] | None:
                if named is not None and not isinstance(named, str):
                    return None
                named = named or transport
                return _batch_client_arguments(
                    transports, named, target, token, rest_url() if named == "rest" else None
                )

            patch(module.BatchServiceClient, batch_arguments)
        patch(logging.Client, lambda _named: _logging_client_arguments(target, token, rest_url()))
        yield
    finally:
        for cls, original in reversed(patched):
            cls.__init__ = original
