"""Where the preflight's HTTP endpoints are: Google's hosts, or the emulator's loopback server.

With ``BATCH_EMULATOR_HOST`` set, the emulator answers one extra gRPC method on the same port,
``/airflow_batchstream.emulator.Discovery/HttpEndpoint``, whose reply is the JSON
``{"http": "http://127.0.0.1:PORT", "rest": "http://127.0.0.1:PORT2"}``: its registry v2 and
Service Usage server, and its Batch and Cloud Logging REST API. Registry requests
then go there with the image's real host in the ``Host`` header (virtual hosting), so one server
stands in for every ``LOCATION-docker.pkg.dev``.
"""

from __future__ import annotations

import json

from airflow_batchstream.api_version import emulator_host

DISCOVERY_METHOD = "/airflow_batchstream.emulator.Discovery/HttpEndpoint"
SERVICE_USAGE_URL = "https://serviceusage.googleapis.com"
#: Seconds one HTTP request of the preflight may take.
HTTP_TIMEOUT = 15.0


def emulator_http_endpoint() -> str | None:
    """
    Return the emulator's HTTP base URL, asked anew each time, or ``None`` without an emulator.

    Not cached: an emulator restarted on the same gRPC port (tests, a developer's shell) gets a new
    HTTP port, and one loopback call per preflight request costs nothing worth saving.
    """
    host = emulator_host()
    if not host:
        return None
    return emulator_endpoints(host)["http"]


def emulator_endpoints(address: str) -> dict[str, str]:
    """
    Ask the emulator at ``address`` for its HTTP endpoints.

    :param address: the emulator's gRPC ``host:port`` (``BATCH_EMULATOR_HOST``).
    :return: ``{"http": registry and Service Usage URL, "rest": Batch and Cloud Logging REST URL}``.
    """
    import grpc

    with grpc.insecure_channel(address) as channel:
        reply = channel.unary_unary(DISCOVERY_METHOD)(b"", timeout=HTTP_TIMEOUT)
    return {str(key): str(value) for key, value in json.loads(reply).items()}


def registry_target(registry_host: str) -> tuple[str, dict[str, str]]:
    """
    Return the base URL to send a registry's requests to, and the extra headers they need.

    :param registry_host: the image's host, such as ``us-central1-docker.pkg.dev``.
    """
    base = emulator_http_endpoint()
    if base:
        return base, {"Host": registry_host}
    return f"https://{registry_host}", {}


def service_usage_url() -> str:
    """Return the Service Usage API's base URL (the emulator's when one is set)."""
    return emulator_http_endpoint() or SERVICE_USAGE_URL
