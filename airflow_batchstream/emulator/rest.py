"""The emulator's REST face: what the client libraries' ``transport="rest"`` calls, over HTTP/JSON.

A Starlette app served by uvicorn on loopback, answering from the same handlers as the gRPC face
(so counters, faults, latency and every answer are shared):

* Batch ``v1`` and ``v1alpha`` (``/{version}/...``)::

    POST   projects/P/locations/L/jobs?jobId=&requestId=   body: Job        CreateJob
    GET    projects/P/locations/L/jobs?filter=&orderBy=&pageSize=&pageToken=  ListJobs (L may be -)
    GET    projects/P/locations/L/jobs/J                                    GetJob
    DELETE projects/P/locations/L/jobs/J?requestId=                         DeleteJob → Operation
    POST   projects/P/locations/L/jobs/J:cancel            body: {requestId} CancelJob → Operation
    GET    projects/P/locations/L/jobs/J/taskGroups/G/tasks?filter=&pageSize=&pageToken=  ListTasks
    GET    projects/P/locations/L/jobs/J/taskGroups/G/tasks/T               GetTask

* their long-running operations: ``GET|DELETE projects/P/locations/L/operations/OP``,
  ``POST .../operations/OP:cancel``, ``GET projects/P/locations/L/operations`` (WaitOperation has
  no REST binding in Batch, so it is gRPC only);
* Cloud Logging ``POST /v2/entries:list`` (body: ``ListLogEntriesRequest`` in JSON).

Requests are read with protobuf's JSON mapping (``jobId`` and ``job_id`` both work); answers use
lowerCamelCase field names and enum names, or enum numbers when the query asks
``$alt=json;enum-encoding=int`` as the generated clients do. Errors are Google's JSON error
``{"error": {"code": 404, "message": "...", "status": "NOT_FOUND"}}`` with the HTTP status of
the gRPC code. With an access token (``--allow-remote``), a request without it in
``X-Batch-Emulator-Token`` gets 401.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc
from google.cloud import batch_v1, batch_v1alpha
from google.cloud.logging_v2.types import ListLogEntriesRequest, ListLogEntriesResponse
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2, json_format
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from airflow_batchstream.emulator.access import http_allowed, reply_host
from airflow_batchstream.emulator.model import EmulatorError
from airflow_batchstream.emulator_client import TOKEN_HEADER

if TYPE_CHECKING:
    from airflow_batchstream.emulator.server import BatchEmulator

_MODULES = {"v1": batch_v1, "v1alpha": batch_v1alpha}

#: gRPC status → HTTP status, as Google's HTTP/JSON gateway maps them.
HTTP_STATUS = {
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}

_Answer = Callable[[bytes, str], Any]

_JOBS = "/{version}/projects/{project}/locations/{location}/jobs"
_JOB = _JOBS + "/{job}"
_TASKS = _JOB + "/taskGroups/{group}/tasks"
_OPERATIONS = "/{version}/projects/{project}/locations/{location}/operations"


def _error(code: grpc.StatusCode, message: str) -> Response:
    status = HTTP_STATUS.get(code, 500)
    body = {"error": {"code": status, "message": message, "status": code.name}}
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _parse(message: Any, document: dict[str, Any]) -> Any:
    """Fill a protobuf message from a JSON document, refusing unknown fields like the service."""
    try:
        json_format.ParseDict(document, message)
    except json_format.ParseError as exc:
        raise EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid request: {exc}") from None
    return message


def _query(request: Request) -> dict[str, Any]:
    """The query parameters that are request fields (not the ``$alt`` system parameter)."""
    return {key: value for key, value in request.query_params.items() if not key.startswith("$")}


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        document = json.loads(raw)
    except ValueError:
        raise EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, "the request body is not JSON") from None
    if not isinstance(document, dict):
        raise EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, "the request body must be a JSON object")
    return document


class RestApp:
    """The Starlette app answering REST calls from a :class:`BatchEmulator`'s handlers.

    :param emulator: the emulator whose handlers, counters and faults serve the calls.
    :param access_token: when set, every request must carry it in ``X-Batch-Emulator-Token``.
    """

    def __init__(self, emulator: BatchEmulator, access_token: str | None = None) -> None:
        self.emulator = emulator
        self.access_token = access_token
        self.app = Starlette(
            middleware=[Middleware(_TokenCheck, access_token=access_token)],
            routes=[
                Route(_JOBS, self._jobs, methods=["GET", "POST"]),
                Route(_JOB, self._job, methods=["GET", "DELETE", "POST"]),
                Route(_TASKS, self._list_tasks, methods=["GET"]),
                Route(_TASKS + "/{task}", self._get_task, methods=["GET"]),
                Route(_OPERATIONS, self._list_operations, methods=["GET"]),
                Route(_OPERATIONS + "/{operation}", self._operation, methods=["GET", "DELETE", "POST"]),
                Route("/v2/entries:list", self._list_log_entries, methods=["POST"]),
            ],
        )

    async def _batch(self, request: Request, method: str, message: Any, answer: _Answer) -> Response:
        version = request.path_params["version"]
        if version not in _MODULES:
            return _error(grpc.StatusCode.NOT_FOUND, f"unknown API version {version!r}; use v1 or v1alpha")
        handler = self.emulator.batch_methods()[method][1]
        return await self._call(request, f"{version}.{method}", version, handler, message, answer)

    async def _longrunning(self, request: Request, method: str, message: Any, answer: _Answer) -> Response:
        handler = self.emulator.operation_methods()[method][1]
        version = request.path_params["version"]
        return await self._call(request, f"longrunning.{method}", version, handler, message, answer)

    async def _call(
        self, request: Request, key: str, version: str, handler: Any, message: Any, answer: _Answer
    ) -> Response:
        """Run one handler in a worker thread and write its answer (or error) as JSON."""
        try:
            raw = await run_in_threadpool(self.emulator.dispatch, key, version, handler, message)
        except EmulatorError as exc:
            return _error(exc.code, exc.message)
        integers = "enum-encoding=int" in request.query_params.get("$alt", "")
        document = json_format.MessageToJson(answer(raw, version), use_integers_for_enums=integers)
        return Response(document, media_type="application/json")

    async def _jobs(self, request: Request) -> Response:
        p = request.path_params
        parent = f"projects/{p['project']}/locations/{p['location']}"
        module = _MODULES.get(p["version"], batch_v1alpha)
        try:
            if request.method == "GET":
                message = _parse(batch_v1alpha.ListJobsRequest.pb()(), {**_query(request), "parent": parent})
                return await self._batch(request, "ListJobs", message, _as(module.ListJobsResponse))
            job = _parse(module.Job.pb()(), await _body(request))
            message = _parse(batch_v1alpha.CreateJobRequest.pb()(), {**_query(request), "parent": parent})
            message.job.MergeFromString(job.SerializeToString())
        except EmulatorError as exc:
            return _error(exc.code, exc.message)
        return await self._batch(request, "CreateJob", message, _as(module.Job))

    async def _job(self, request: Request) -> Response:
        p = request.path_params
        module = _MODULES.get(p["version"], batch_v1alpha)
        job, _, verb = p["job"].partition(":")
        name = f"projects/{p['project']}/locations/{p['location']}/jobs/{job}"
        try:
            if request.method == "POST":
                if verb != "cancel":
                    return _error(grpc.StatusCode.NOT_FOUND, f"no method :{verb} on jobs; use :cancel")
                message = _parse(
                    batch_v1alpha.CancelJobRequest.pb()(), {**await _body(request), "name": name}
                )
                return await self._batch(request, "CancelJob", message, _operation)
            if verb:
                return _error(grpc.StatusCode.NOT_FOUND, f"no {request.method} method :{verb} on jobs")
            if request.method == "DELETE":
                message = _parse(batch_v1alpha.DeleteJobRequest.pb()(), {**_query(request), "name": name})
                return await self._batch(request, "DeleteJob", message, _operation)
            message = _parse(batch_v1alpha.GetJobRequest.pb()(), {"name": name})
        except EmulatorError as exc:
            return _error(exc.code, exc.message)
        return await self._batch(request, "GetJob", message, _as(module.Job))

    async def _list_tasks(self, request: Request) -> Response:
        p = request.path_params
        module = _MODULES.get(p["version"], batch_v1alpha)
        parent = f"projects/{p['project']}/locations/{p['location']}/jobs/{p['job']}/taskGroups/{p['group']}"
        try:
            message = _parse(batch_v1alpha.ListTasksRequest.pb()(), {**_query(request), "parent": parent})
        except EmulatorError as exc:
            return _error(exc.code, exc.message)
        return await self._batch(request, "ListTasks", message, _as(module.ListTasksResponse))

    async def _get_task(self, request: Request) -> Response:
        p = request.path_params
        module = _MODULES.get(p["version"], batch_v1alpha)
        name = (
            f"projects/{p['project']}/locations/{p['location']}/jobs/{p['job']}"
            f"/taskGroups/{p['group']}/tasks/{p['task']}"
        )
        message = batch_v1alpha.GetTaskRequest.pb()(name=name)
        return await self._batch(request, "GetTask", message, _as(module.Task))

    async def _list_operations(self, request: Request) -> Response:
        p = request.path_params
        name = f"projects/{p['project']}/locations/{p['location']}"
        try:
            message = _parse(operations_pb2.ListOperationsRequest(), {**_query(request), "name": name})
        except EmulatorError as exc:
            return _error(exc.code, exc.message)
        return await self._longrunning(request, "ListOperations", message, _LIST_OPERATIONS)

    async def _operation(self, request: Request) -> Response:
        p = request.path_params
        operation, _, verb = p["operation"].partition(":")
        name = f"projects/{p['project']}/locations/{p['location']}/operations/{operation}"
        if request.method == "POST" and verb == "cancel":
            message = operations_pb2.CancelOperationRequest(name=name)
            return await self._longrunning(request, "CancelOperation", message, _EMPTY)
        if verb or request.method == "POST":
            return _error(grpc.StatusCode.NOT_FOUND, f"no {request.method} method :{verb} on operations")
        if request.method == "DELETE":
            message = operations_pb2.DeleteOperationRequest(name=name)
            return await self._longrunning(request, "DeleteOperation", message, _EMPTY)
        message = operations_pb2.GetOperationRequest(name=name)
        return await self._longrunning(request, "GetOperation", message, _operation)

    async def _list_log_entries(self, request: Request) -> Response:
        try:
            message = _parse(ListLogEntriesRequest.pb()(), await _body(request))
        except EmulatorError as exc:
            return _error(exc.code, exc.message)
        handler = self.emulator.list_log_entries
        answer = _as(ListLogEntriesResponse)
        return await self._call(request, "logging.ListLogEntries", "", handler, message, answer)


def _as(proto_plus_type: Any) -> Callable[[bytes, str], Any]:
    """Read handler bytes as a proto-plus type's protobuf message (the v1 subset reads v1alpha bytes)."""
    return lambda raw, version: proto_plus_type.pb().FromString(raw)


def _pb_answer(message_type: Any) -> Callable[[bytes, str], Any]:
    return lambda raw, version: message_type.FromString(raw)


def _operation(raw: bytes, version: str) -> Any:
    return operations_pb2.Operation.FromString(raw)


class _TokenCheck:
    """ASGI middleware: refuse (401, Google's error JSON) a request without the emulator's token."""

    def __init__(self, app: Any, access_token: str | None) -> None:
        self.app = app
        self.access_token = access_token

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not http_allowed(Headers(scope=scope), self.access_token):
            message = f"this emulator needs its access token in the {TOKEN_HEADER} header"
            await _error(grpc.StatusCode.UNAUTHENTICATED, message)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class RestServer:
    """Serve a :class:`RestApp` with uvicorn in a background thread on a free port.

    :param emulator: the emulator to serve.
    :param host: the interface to bind (the emulator's own).
    :param access_token: when set, every request must carry it (see :mod:`.access`).
    """

    def __init__(
        self, emulator: BatchEmulator, host: str = "127.0.0.1", access_token: str | None = None
    ) -> None:
        self.host = host
        self.port = 0
        self._app = RestApp(emulator, access_token).app
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT``, the ``api_endpoint`` for a REST client."""
        host = reply_host(None, self.host)
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Bind a free port and serve until :meth:`stop`."""
        import uvicorn

        bind = self.host.strip("[]")
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bind, 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self._app, log_level="warning", lifespan="off", access_log=False)
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="batch-emulator-rest", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not server.started:
            raise OSError(f"the REST server did not start on {self.url}")

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None


_EMPTY = _pb_answer(empty_pb2.Empty)
_LIST_OPERATIONS = _pb_answer(operations_pb2.ListOperationsResponse)
