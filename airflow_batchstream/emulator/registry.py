"""The emulator's HTTP side: a Docker Registry HTTP API v2 and the Service Usage ``services.get``.

One loopback server stands in for every ``LOCATION-docker.pkg.dev`` host (the request's ``Host``
header says which) and for ``serviceusage.googleapis.com``. Manifests are served as registered,
byte for byte, under their tag and their ``sha256`` digest; requests need a registry token got
through the ``WWW-Authenticate: Bearer realm=...`` handshake, like Artifact Registry. An image
nobody registered gets a generated, streamable schema 2 manifest unless
:attr:`RegistryStore.synthesize_unknown` is off; a project's services are ``ENABLED`` unless set.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cachetools import TTLCache

from airflow_batchstream.emulator.access import http_allowed
from airflow_batchstream.preflight.manifests import (
    DOCKER_V1,
    DOCKER_V1_SIGNED,
    DOCKER_V2,
    INDEX_TYPES,
    image_size,
    media_type,
    pick_platform,
)
from airflow_batchstream.validation.images import parse_artifact_registry, split_reference

_MANIFEST_PATH = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")
_SERVICE_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/services/(?P<service>[^/]+)$")


#: Seconds a registry token is valid (the ``expires_in`` the token endpoint answers).
TOKEN_SECONDS = 3600
#: Registry tokens kept at most; the oldest are forgotten first.
MAX_TOKENS = 10_000


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


class RegistryStore:
    """Manifests, access rules and service states the HTTP server answers from (thread-safe).

    :param clock: monotonic clock for token expiry.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._manifests: dict[tuple[str, str, str], tuple[bytes, str]] = {}
        self._denied: set[str] = set()
        self._services: dict[tuple[str, str], str] = {}
        self._service_denied: set[str] = set()
        #: Issued registry tokens: they expire after TOKEN_SECONDS, at most MAX_TOKENS are kept.
        self._tokens: TTLCache[str, bool] = TTLCache(MAX_TOKENS, TOKEN_SECONDS, timer=clock)
        #: Answer an unregistered Artifact Registry image with a generated streamable manifest.
        self.synthesize_unknown = True
        self.counts: Counter[str] = Counter()
        #: Every HTTP request received, whatever its method or path (known paths are in ``counts`` too).
        self.requests = 0

    def count_request(self) -> None:
        """Count one HTTP request received (see :attr:`requests`)."""
        with self._lock:
            self.requests += 1

    def add_image(
        self, uri: str, manifest: dict[str, Any] | str | bytes, media_type_: str | None = None
    ) -> str:
        """
        Register a manifest document under an image's tag (or digest); return its digest.

        :param uri: ``HOST/PROJECT/REPO/IMAGE[:TAG|@DIGEST]``.
        :param manifest: the document, as a dict or as the exact bytes to serve.
        :param media_type_: the ``Content-Type``; by default the document's own or its schema's.
        """
        host, name, reference = split_reference(uri)
        body = (
            manifest
            if isinstance(manifest, bytes)
            else (manifest.encode() if isinstance(manifest, str) else json.dumps(manifest, indent=3).encode())
        )
        document = json.loads(body)
        kind = media_type_ or media_type(document)
        if kind == DOCKER_V1 and "signatures" in document:
            kind = DOCKER_V1_SIGNED
        digest = _digest(body)
        with self._lock:
            self._manifests[(host, name, digest)] = (body, kind)
            if not reference.startswith("sha256:"):
                self._manifests[(host, name, reference)] = (body, kind)
        return digest

    def deny(self, uri_prefix: str) -> None:
        """
        Answer 403 DENIED for images whose ``HOST/NAME`` starts with this.

        :param uri_prefix: such as ``us-central1-docker.pkg.dev/p/private``.
        """
        with self._lock:
            self._denied.add(uri_prefix)

    def set_service(self, project_id: str, service: str, enabled: bool) -> None:
        """
        Set a service's state in a project.

        :param project_id: the project.
        :param service: such as ``containerfilesystem.googleapis.com``.
        :param enabled: ``True`` for ENABLED, ``False`` for DISABLED.
        """
        with self._lock:
            self._services[(project_id, service)] = "ENABLED" if enabled else "DISABLED"

    def deny_service_usage(self, project_id: str) -> None:
        """
        Answer 403 PERMISSION_DENIED to Service Usage requests about a project.

        :param project_id: the project.
        """
        with self._lock:
            self._service_denied.add(project_id)

    def image_size(self, uri: str) -> int | None:
        """
        Return the sum of a registered image's layer sizes (its linux/amd64 image for an index).

        :param uri: the image reference.
        """
        host, name, reference = split_reference(uri)
        document = self._document(host, name, reference)
        if document is not None and media_type(document) in INDEX_TYPES:
            entry = pick_platform(document)
            document = self._document(host, name, entry["digest"]) if entry else None
        if document is None or "layers" not in document:
            return None
        return image_size(document)

    def _document(self, host: str, name: str, reference: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._manifests.get((host, name, reference))
        return json.loads(found[0]) if found else None

    def manifest(self, host: str, name: str, reference: str) -> tuple[bytes, str] | None:
        """
        Return the bytes and media type to serve, or ``None`` (unknown).

        :param host: the registry host asked.
        :param name: the repository path.
        :param reference: tag or digest.
        """
        with self._lock:
            found = self._manifests.get((host, name, reference))
        if found or not self.synthesize_unknown or parse_artifact_registry(f"{host}/{name}") is None:
            return found
        seed = hashlib.sha256(f"{host}/{name}:{reference}".encode()).hexdigest()
        layers = [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 1_000_000 * (i + 1),
                "digest": "sha256:" + hashlib.sha256(f"{seed}{i}".encode()).hexdigest(),
            }
            for i in range(3)
        ]
        document = {
            "schemaVersion": 2,
            "mediaType": DOCKER_V2,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1469,
                "digest": "sha256:" + hashlib.sha256(seed.encode()).hexdigest(),
            },
            "layers": layers,
        }
        return json.dumps(document).encode(), DOCKER_V2

    def denied(self, host: str, name: str) -> bool:
        """
        Tell whether an image is denied.

        :param host: the registry host.
        :param name: the repository path.
        """
        return any(f"{host}/{name}".startswith(prefix) for prefix in self._denied)

    def issue_token(self) -> str:
        """Return a new registry token."""
        token = uuid.uuid4().hex
        with self._lock:
            self._tokens[token] = True
        return token

    def token_valid(self, token: str) -> bool:
        """
        Tell whether a registry token was issued here.

        :param token: the bearer token.
        """
        with self._lock:
            return self._tokens.get(token, False)

    def tokens_held(self) -> int:
        """Return how many unexpired registry tokens are kept."""
        with self._lock:
            self._tokens.expire()
            return len(self._tokens)

    def service(self, project_id: str, service: str) -> tuple[int, dict[str, Any]]:
        """
        Return the Service Usage answer (status, body) for a project's service.

        :param project_id: the project.
        :param service: the service name.
        """
        if project_id in self._service_denied:
            return 403, {
                "error": {
                    "code": 403,
                    "message": f"Permission denied to get service [{service}]",
                    "status": "PERMISSION_DENIED",
                }
            }
        state = self._services.get((project_id, service), "ENABLED")
        return 200, {
            "name": f"projects/{project_id}/services/{service}",
            "parent": f"projects/{project_id}",
            "state": state,
        }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def parse_request(self) -> bool:
        self.server.store.count_request()
        return super().parse_request()

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), "application/json", headers)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        store = self.server.store
        path, _, _ = self.path.partition("?")
        if not http_allowed(self.headers, self.server.access_token):
            return self._json(401, {"errors": [{"code": "UNAUTHORIZED", "message": "emulator access token"}]})
        host = (self.headers.get("Host") or "").split(":")[0]
        if path == "/v2/token":
            store.counts["token"] += 1
            user = basic_user(self.headers.get("Authorization") or "")
            if user not in (None, "oauth2accesstoken"):
                return self._json(
                    401, {"errors": [{"code": "UNAUTHORIZED", "message": "user oauth2accesstoken"}]}
                )
            return self._json(200, {"token": store.issue_token(), "expires_in": TOKEN_SECONDS})
        if match := _SERVICE_PATH.match(path):
            store.counts["services.get"] += 1
            status, body = store.service(match["project"], match["service"])
            return self._json(status, body)
        if match := _MANIFEST_PATH.match(path):
            store.counts["manifests"] += 1
            return self._manifest(host, match["name"], match["ref"])
        return self._json(404, {"errors": [{"code": "NOT_FOUND", "message": path}]})

    def _manifest(self, host: str, name: str, reference: str) -> None:
        store = self.server.store
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        if not store.token_valid(token):
            realm = f"http://{self._origin()}/v2/token"
            challenge = f'Bearer realm="{realm}",service="{host}",scope="repository:{name}:pull"'
            return self._json(
                401,
                {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                {"WWW-Authenticate": challenge},
            )
        if store.denied(host, name):
            return self._json(
                403,
                {
                    "errors": [
                        {
                            "code": "DENIED",
                            "message": 'Permission "artifactregistry.repositories.downloadArtifacts" denied',
                        }
                    ]
                },
            )
        found = store.manifest(host, name, reference)
        if found is None:
            return self._json(404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]})
        body, kind = found
        self._send(200, body, kind, {"Docker-Content-Digest": _digest(body)})

    def _origin(self) -> str:
        """``host:port`` this request reached (the socket's own address)."""
        host, port = self.connection.getsockname()[:2]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: RegistryStore, access_token: str | None) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.store = store
        self.access_token = access_token


class RegistryServer:
    """
    The HTTP server on loopback, in a background thread.

    :param host: interface to bind.
    :param port: port to bind; 0 picks a free one.
    :param access_token: the token every request must carry (``X-Batch-Emulator-Token``), or ``None``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, access_token: str | None = None) -> None:
        self.host = host.strip("[]")
        self.port = port
        self.access_token = access_token
        self.store = RegistryStore()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> RegistryServer:
        """Bind and serve in a daemon thread; returns ``self``."""
        self._server = _Server((self.host, self.port), self.store, self.access_token)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="batch-emulator-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def basic_user(header: str) -> str | None:
    """
    Return the user name of a ``Basic`` Authorization header, or ``None``.

    :param header: the header's value.
    """
    if not header.startswith("Basic "):
        return None
    return base64.b64decode(header[6:]).decode(errors="replace").split(":", 1)[0]
