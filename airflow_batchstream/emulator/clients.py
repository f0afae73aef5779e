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
"""

from __future__ import annotations

import importlib
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
    module, transports = _batch_modules(api_version)
    target = emulator_address(address)
    if transport == "grpc":
        channel = emulator_channel(target, token)
        return module.BatchServiceClient(transport=transports.BatchServiceGrpcTransport(channel=channel))
    if transport == "rest":
        return module.BatchServiceClient(
            credentials=emulator_credentials(token),
            transport="rest",
            client_options={"api_endpoint": rest_endpoint(target, token)},
        )
    raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}")


def async_batch_client(
    api_version: str = "v1", *, address: str | None = None, token: str | None = None
) -> Any:
    """An asyncio ``BatchServiceAsyncClient`` over gRPC; create it inside the running event loop.

    :param api_version: ``"v1"`` or ``"v1alpha"``.
    :param address: the emulator's gRPC ``host:port`` (default: ``BATCH_EMULATOR_HOST``).
    :param token: the emulator's access token (default: ``BATCH_EMULATOR_TOKEN``).
    """
    module, transports = _batch_modules(api_version)
    channel = emulator_channel(emulator_address(address), token, asynchronous=True)
    return module.BatchServiceAsyncClient(
        transport=transports.BatchServiceGrpcAsyncIOTransport(channel=channel)
    )


def logging_client(project: str, *, address: str | None = None, token: str | None = None) -> Any:
    """A ``google.cloud.logging.Client`` reading the emulator's task logs (over its REST endpoint).

    :param project: the project the client works in (``logger(...).list_entries`` reads it).
    :param address: the emulator's gRPC ``host:port`` (default: ``BATCH_EMULATOR_HOST``).
    :param token: the emulator's access token (default: ``BATCH_EMULATOR_TOKEN``).
    """
    from google.cloud import logging

    return logging.Client(
        project=project,
        credentials=emulator_credentials(token),
        client_options={"api_endpoint": rest_endpoint(address, token)},
        _use_grpc=False,
    )


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
