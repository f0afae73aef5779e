"""Small servers the security tests point the preflight at: a recording HTTP server, a fake discovery."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from google.auth.credentials import Credentials

SECRET_TOKEN = "ya29.SECRET-ACCESS-TOKEN"
IMAGE = "us-central1-docker.pkg.dev/demo-project/containers/app:1"
MANIFEST_PATH = "/v2/demo-project/containers/app/manifests/1"
SERVICE_PATH = "/v1/projects/demo-project/services/containerfilesystem.googleapis.com"
GOOD_MANIFEST = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {
        "mediaType": "application/vnd.docker.container.image.v1+json",
        "size": 10,
        "digest": "sha256:c",
    },
    "layers": [
        {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 100, "digest": "sha256:1"}
    ],
}

Reply = tuple[int, dict[str, str], bytes]


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    """A JSON answer for :class:`CaptureServer` routes.

    :param body: the JSON value.
    :param status: the HTTP status.
    :param headers: extra headers.
    """
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode()


@dataclass
class Seen:
    """One request a :class:`CaptureServer` received."""

    path: str
    headers: dict[str, str]


@dataclass
class CaptureServer:
    """An HTTP server on 127.0.0.1 that records every request and answers from ``routes``.

    :param routes: path (without query) → function of the request's headers returning a reply.
    """

    routes: dict[str, Callable[[dict[str, str]], Reply]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def start(self) -> CaptureServer:
        """Start serving in a thread."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                path = self.path.partition("?")[0]
                headers = {k.lower(): v for k, v in self.headers.items()}
                owner.seen.append(Seen(self.path, headers))
                route = owner.routes.get(path)
                status, extra, body = route(headers) if route else json_reply({"error": path}, 404)
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def all_headers(self) -> str:
        """Every header value received, joined, to search for a leaked secret."""
        return "\n".join(f"{k}: {v}" for seen in self.seen for k, v in seen.headers.items())


class FakeDiscovery:
    """A gRPC server on 127.0.0.1 that answers only the emulator's discovery method with ``reply``.

    :param reply: the bytes to answer.
    """

    def __init__(self, reply: bytes) -> None:
        from airflow_batchstream.preflight.http import DISCOVERY_METHOD

        self.reply = reply
        self.requests: list[bytes] = []
        service, method = DISCOVERY_METHOD.strip("/").split("/")

        def answer(request: bytes, context: Any) -> bytes:
            self.requests.append(request)
            return self.reply

        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        handler = grpc.method_handlers_generic_handler(
            service, {method: grpc.unary_unary_rpc_method_handler(answer)}
        )
        self._server.add_generic_rpc_handlers((handler,))
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop(0)


class SpyCredentials(Credentials):
    """Google credentials that count refreshes and hold :data:`SECRET_TOKEN` once refreshed."""

    def __init__(self) -> None:
        super().__init__()
        self.refreshes = 0

    def refresh(self, request: Any) -> None:
        """Count the refresh and take the secret token.

        :param request: unused transport.
        """
        self.refreshes += 1
        self.token = SECRET_TOKEN


PARENT = "projects/demo-project/locations/us-central1"


def script_job(
    text: str, *, task_count: int = 1, parallelism: int = 0, env: dict[str, str] | None = None
) -> Any:
    """A v1alpha job whose one runnable is a shell script, logging to Cloud Logging.

    :param text: the script.
    :param task_count: tasks in the group.
    :param parallelism: tasks at once (0: all).
    :param env: the task spec's environment variables.
    """
    from google.cloud import batch_v1alpha as b

    spec = b.TaskSpec(
        runnables=[b.Runnable(script=b.Runnable.Script(text=text))],
        environment=b.Environment(variables=env or {}),
    )
    group = b.TaskGroup(task_count=task_count, parallelism=parallelism, task_spec=spec)
    return b.Job(task_groups=[group], logs_policy=b.LogsPolicy(destination="CLOUD_LOGGING"))


def wait_ended(client: Any, name: str, timeout: float = 30.0) -> Any:
    """Poll GetJob until the job has ended; return it.

    :param client: a BatchServiceClient.
    :param name: the job's name.
    :param timeout: seconds before giving up.
    """
    import time

    deadline = time.monotonic() + timeout
    while True:
        job = client.get_job(name=name)
        if job.status.state.name in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return job
        assert time.monotonic() < deadline, f"{name} still {job.status.state.name}"
        time.sleep(0.1)
