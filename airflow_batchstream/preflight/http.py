"""Where the preflight's HTTP endpoints are: Google's hosts, or the emulator's server.

With ``BATCH_EMULATOR_HOST`` set, the emulator answers one extra gRPC method on the same port,
``/airflow_batchstream.emulator.Discovery/HttpEndpoint``: the request is ``{"host": HOST}`` (the
host we dialled), the reply the JSON ``{"http": "http://HOST:PORT", "rest": "http://HOST:PORT2"}``:
its registry v2 and Service Usage server, and its Batch and Cloud Logging REST API. The reply is
accepted only when it names a loopback host or the host of ``BATCH_EMULATOR_HOST``, so an
emulator cannot send the preflight anywhere else. Registry requests
then go there with the image's real host in the ``Host`` header (virtual hosting), so one server
stands in for every ``LOCATION-docker.pkg.dev``. Requests to an emulator carry its access token
(``BATCH_EMULATOR_TOKEN``) and never a Google credential.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from airflow_batchstream.api_version import emulator_host
from airflow_batchstream.emulator_client import emulator_channel, token_headers

DISCOVERY_METHOD = "/airflow_batchstream.emulator.Discovery/HttpEndpoint"
SERVICE_USAGE_URL = "https://serviceusage.googleapis.com"
#: Seconds one HTTP request of the preflight may take.
HTTP_TIMEOUT = 15.0
#: Hosts (and their subdomains) that may receive the connection's Google credentials.
GOOGLE_HOST_SUFFIXES = ("googleapis.com", "pkg.dev", "gcr.io", "google.com")


class AccessProblem(Exception):
    """A check could not run: no permission (401/403), a transport failure, or an answer we cannot read."""


def _host_of(address: str) -> str:
    """The host part of ``host:port``, ``[v6]:port`` or a URL's netloc, lower-cased, without brackets."""
    return (urlsplit(f"//{address}").hostname or "").lower()


def emulator_may_serve(host: str) -> bool:
    """
    Tell whether a host may be an emulator's HTTP endpoint: loopback, or ``BATCH_EMULATOR_HOST``'s host.

    :param host: the host name or address (no port).
    """
    from ipaddress import ip_address

    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        if ip_address(host).is_loopback:
            return True
    except ValueError:
        pass
    configured = emulator_host()
    return bool(configured) and host == _host_of(configured or "")


def is_google_host(host: str) -> bool:
    """
    Tell whether a host is Google's (``*.googleapis.com``, ``*.pkg.dev``, ``*gcr.io``, ``*.google.com``).

    :param host: the host name.
    """
    host = host.lower().rstrip(".")
    return any(host == suffix or host.endswith("." + suffix) for suffix in GOOGLE_HOST_SUFFIXES)


def emulator_http_endpoint() -> str | None:
    """
    Return the emulator's HTTP base URL, asked anew each time, or ``None`` without an emulator.

    Not cached: an emulator restarted on the same gRPC port (tests, a developer's shell) gets a new
    HTTP port, and one loopback call per preflight request costs nothing worth saving.

    :raises AccessProblem: the emulator does not answer, or names a host it may not.
    """
    host = emulator_host()
    if not host:
        return None
    return emulator_endpoints(host)["http"]


def emulator_endpoints(address: str, token: str | None = None) -> dict[str, str]:
    """
    Ask the emulator at ``address`` for its HTTP endpoints.

    :param address: the emulator's gRPC ``host:port`` (``BATCH_EMULATOR_HOST``).
    :param token: the emulator's access token; ``BATCH_EMULATOR_TOKEN`` when ``None``.
    :return: ``{"http": registry and Service Usage URL, "rest": Batch and Cloud Logging REST URL}``.
    """
    import grpc

    dialled = _host_of(address)
    request = json.dumps({"host": f"[{dialled}]" if ":" in dialled else dialled}).encode()
    try:
        with emulator_channel(address, token) as channel:
            reply = channel.unary_unary(DISCOVERY_METHOD)(request, timeout=HTTP_TIMEOUT)
        named = {str(key): str(value) for key, value in json.loads(reply).items()}
    except grpc.RpcError as error:
        raise AccessProblem(
            f"the emulator at {address} did not say where its HTTP side is: {error.code().name}"
        ) from None
    except (ValueError, AttributeError, TypeError):
        raise AccessProblem(f"the emulator at {address} gave an unreadable HTTP endpoint") from None
    if "http" not in named:
        raise AccessProblem(f"the emulator at {address} gave an unreadable HTTP endpoint")
    return {key: _checked_endpoint(address, url) for key, url in named.items()}


def _checked_endpoint(address: str, url: str) -> str:
    """``http://HOST:PORT`` of one discovered endpoint, refused unless it is plain and on a host we allow."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    named = parts.hostname or ""
    if parts.scheme != "http" or parts.username or parts.password or not port or parts.path.strip("/"):
        raise AccessProblem(f"the emulator at {address} named an HTTP endpoint that is not http://HOST:PORT")
    if not emulator_may_serve(named):
        raise AccessProblem(
            f"refused the emulator's HTTP endpoint on {named}: only loopback or the host of "
            "BATCH_EMULATOR_HOST is accepted"
        )
    return f"http://{parts.netloc}"


def registry_target(registry_host: str) -> tuple[str, dict[str, str]]:
    """
    Return the base URL to send a registry's requests to, and the extra headers they need.

    :param registry_host: the image's host, such as ``us-central1-docker.pkg.dev``.
    """
    base = emulator_http_endpoint()
    if base:
        return base, {"Host": registry_host, **token_headers()}
    return f"https://{registry_host}", {}


def service_usage_target() -> tuple[str, dict[str, str]]:
    """Return the Service Usage API's base URL (the emulator's when one is set) and extra headers."""
    base = emulator_http_endpoint()
    if base:
        return base, token_headers()
    return SERVICE_USAGE_URL, {}
