"""The gRPC face of the emulator and the :class:`BatchEmulator` tests and the CLI control."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent import futures
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

import grpc
from google.cloud import batch_v1alpha
from google.cloud.logging_v2.types import ListLogEntriesRequest
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2

from airflow_batchstream.emulator import clients
from airflow_batchstream.emulator.access import TokenInterceptor, check_bind, reply_host
from airflow_batchstream.emulator.control import control_handler
from airflow_batchstream.emulator.engine import Engine
from airflow_batchstream.emulator.faults import TRANSIENT_CODES, FaultInjector
from airflow_batchstream.emulator.images import (
    DEFAULT_BANDWIDTH,
    DEFAULT_IMAGE_SIZE,
    DEFAULT_STREAMING_SECONDS,
    ImageCatalog,
)
from airflow_batchstream.emulator.logs import LogLine, render_entry
from airflow_batchstream.emulator.model import PREEMPTION_EXIT_CODE, EmulatorError, Scenario, Timings
from airflow_batchstream.emulator.pubsub import Notifier, PubSubStore, pubsub_handlers
from airflow_batchstream.emulator.registry import RegistryServer
from airflow_batchstream.emulator.rest import RestServer
from airflow_batchstream.emulator.runtime import select_runtime

API_VERSIONS = ("v1alpha", "v1")
_OPERATIONS_SERVICE = "google.longrunning.Operations"
_LOGGING_SERVICE = "google.logging.v2.LoggingServiceV2"

_Handler = Callable[[Any, str], bytes]


def _identity(data: bytes) -> bytes:
    return data


def _pb(proto_plus_type: Any) -> Callable[[bytes], Any]:
    return proto_plus_type.pb().FromString


def _list_response(field_number: int, items: list[bytes], token: str) -> bytes:
    """Encode a List*Response by hand: repeated message field + next_page_token (field 2)."""
    out = bytearray()
    tag = (field_number << 3) | 2
    for item in items:
        out += _varint(tag) + _varint(len(item)) + item
    if token:
        raw = token.encode()
        out += _varint((2 << 3) | 2) + _varint(len(raw)) + raw
    return bytes(out)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class BatchEmulator:
    """A local Cloud Batch API (v1alpha and v1) over plain gRPC, for tests and demos.

    Usage::

        with BatchEmulator() as emulator:
            channel = grpc.insecure_channel(emulator.address)
            ...

    :param host: the interface to bind; loopback by default, and only loopback unless ``allow_remote``.
    :param port: the port to bind; 0 picks a free one (read it from :attr:`port` after start).
    :param queued_seconds: time a job stays QUEUED.
    :param scheduled_seconds: time a job stays SCHEDULED before its tasks run.
    :param run_seconds: time a simulated container runnable runs.
    :param cancel_seconds: time a job stays CANCELLATION_IN_PROGRESS.
    :param delete_seconds: time a job stays DELETION_IN_PROGRESS before it is gone.
    :param max_workers: gRPC server worker threads.
    :param container_runtime: how container runnables run: ``"simulate"`` (default), ``"local"``
        (entrypoint + commands as a host subprocess) or ``"docker"``/``"podman"`` (refused unless
        the engine answers ``info``).
    :param default_image_size: bytes assumed for an image without a known size.
    :param image_bandwidth: bytes per second of a non-streamed image pull.
    :param streaming_seconds: start-up delay of a streamed image.
    :param image_sizes: optional ``uri -> bytes or None`` lookup, consulted after
        :meth:`register_image`; by default the sizes of the manifests registered in :attr:`registry`.
    :param allow_remote: accept a non-loopback ``host`` (needs ``access_token``; logs a warning).
    :param access_token: the token every call must carry (see :mod:`.access`); ``None``: none.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        queued_seconds: float = 0.5,
        scheduled_seconds: float = 0.5,
        run_seconds: float = 1.0,
        cancel_seconds: float = 0.3,
        delete_seconds: float = 0.3,
        max_workers: int = 16,
        container_runtime: str = "simulate",
        default_image_size: int = DEFAULT_IMAGE_SIZE,
        image_bandwidth: float = DEFAULT_BANDWIDTH,
        streaming_seconds: float = DEFAULT_STREAMING_SECONDS,
        image_sizes: Callable[[str], int | None] | None = None,
        allow_remote: bool = False,
        access_token: str | None = None,
    ) -> None:
        check_bind(host, allow_remote, access_token)
        self.host = host
        self.port = port
        self.access_token = access_token
        #: Registry v2 + Service Usage over HTTP on the same interface, for the preflight (see its module).
        self.registry = RegistryServer(host, access_token=access_token)
        #: The Batch and Cloud Logging REST API over HTTP/JSON on the same interface (see :mod:`.rest`).
        self.rest = RestServer(self, host, access_token=access_token)
        image_sizes = image_sizes or self.registry.store.image_size
        self.engine = Engine(
            Timings(
                queued_seconds=queued_seconds,
                scheduled_seconds=scheduled_seconds,
                run_seconds=run_seconds,
                cancel_seconds=cancel_seconds,
                delete_seconds=delete_seconds,
            ),
            images=ImageCatalog(default_image_size, image_bandwidth, streaming_seconds, image_sizes),
            runtime=select_runtime(container_runtime),
        )
        #: Pub/Sub topics and subscriptions (``PUBSUB_EMULATOR_HOST`` = :attr:`address`), see :mod:`.pubsub`.
        self.pubsub = PubSubStore(self.engine.clock)
        #: Publishes the job-state notifications jobs ask for (``set_faults`` makes them unreliable).
        self.notifier = Notifier(self.pubsub, self.engine.still_planned, self.engine.clock)
        self.engine.listener = self.notifier.on_event
        self._max_workers = max_workers
        self._server: grpc.Server | None = None
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self.faults = FaultInjector()

    # ----------------------------------------------------------- lifecycle

    @property
    def address(self) -> str:
        """``host:port`` to give to ``grpc.insecure_channel`` or ``BATCH_EMULATOR_HOST``."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"

    @property
    def timings(self) -> Timings:
        """How long each simulated phase lasts (see :meth:`Timings.poll_interval`)."""
        return self.engine.timings

    def start(self) -> BatchEmulator:
        """Bind the port and start serving; returns ``self``."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="batch-emulator"),
            interceptors=[TokenInterceptor(self.access_token)] if self.access_token else None,
        )
        server.add_generic_rpc_handlers(self._handlers())
        bound = server.add_insecure_port(f"{self.address.rsplit(':', 1)[0]}:{self.port}")
        if bound == 0:
            raise OSError(f"cannot bind {self.host}:{self.port}")
        self.port = bound
        server.start()
        self._server = server
        self.registry.start()
        self.rest.start()
        return self

    def stop(self, grace: float | None = 0.5) -> None:
        """Stop serving, kill running scripts and wait for the server to finish.

        :param grace: seconds in-flight RPCs may take to finish.
        """
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None
        self.registry.stop()
        self.notifier.close()
        self.rest.stop()
        self.engine.close()

    def __enter__(self) -> BatchEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------ inspection

    def rpc_counts(self, *, by_version: bool = False) -> dict[str, int]:
        """How many RPCs of each method arrived since start or the last :meth:`reset_counts`.

        :param by_version: key by ``"v1alpha.CreateJob"`` / ``"v1.GetJob"`` /
            ``"longrunning.GetOperation"`` instead of the bare method name.
        """
        with self._counts_lock:
            if by_version:
                return dict(self._counts)
            merged: Counter[str] = Counter()
            for key, value in self._counts.items():
                merged[key.rsplit(".", 1)[-1]] += value
            return dict(merged)

    def reset_counts(self) -> None:
        """Forget the RPC counts, the injected-fault counts and :meth:`jobs_created`."""
        with self._counts_lock:
            self._counts.clear()
        self.faults.reset_injected()
        self.engine.reset_created()

    def jobs_created(self) -> int:
        """How many jobs were really stored since start or :meth:`reset_counts`.

        A CreateJob refused, failed before commit, or answered from an earlier ``request_id``
        stores nothing; one whose response was lost after commit does.
        """
        return self.engine.jobs_created

    def faults_injected(self) -> dict[str, int]:
        """How many faults were injected per bare method name since start or :meth:`reset_counts`."""
        return self.faults.injected()

    def register_image(self, uri: str, size_bytes: int) -> None:
        """Declare an image's size: without streaming, a task waits ``size / image_bandwidth`` to start.

        :param uri: the image URI exactly as jobs name it.
        :param size_bytes: the image's size in bytes.
        """
        self.engine.images.register(uri, size_bytes)

    # ---------------------------------------------------------------- faults

    def set_faults(
        self,
        rate: float,
        codes: Sequence[str] = TRANSIENT_CODES,
        methods: Sequence[str] | None = None,
        seed: int | None = None,
        fault_after_commit: float = 0.0,
    ) -> None:
        """Fail a fraction of received RPCs with transient errors (every RPC still counts).

        :param rate: probability in [0, 1] that a selected RPC fails.
        :param codes: status code names drawn uniformly; default UNAVAILABLE, RESOURCE_EXHAUSTED,
            DEADLINE_EXCEEDED, INTERNAL.
        :param methods: bare method names to affect (``None``: every method).
        :param seed: random seed, for reproducible runs.
        :param fault_after_commit: fraction of the faults on CreateJob/CancelJob/DeleteJob that
            happen after the change is stored ("response lost") instead of before ("request lost").
        """
        self.faults.set_faults(rate, codes, methods, seed, fault_after_commit)

    def set_latency(self, latency_ms: float) -> None:
        """Delay every RPC (bounded to 30 s).

        :param latency_ms: the delay in milliseconds; 0 removes it.
        """
        self.faults.set_latency(latency_ms)

    def fail_next(
        self, method: str, code: str = "UNAVAILABLE", *, times: int = 1, after_commit: bool = False
    ) -> None:
        """Fail the next ``times`` calls of one method with ``code``.

        :param method: the bare method name, e.g. ``"CreateJob"`` or ``"GetJob"``.
        :param code: the status code name.
        :param times: how many calls fail.
        :param after_commit: store the change first, then fail (CreateJob, CancelJob, DeleteJob).
        """
        self.faults.fail_next(method, code, times=times, after_commit=after_commit)

    def clear_faults(self) -> None:
        """Remove random and scripted faults and the latency."""
        self.faults.clear()

    def job_names(self) -> list[str]:
        """Full resource names of the jobs that exist now, oldest first."""
        return self.engine.job_names()

    def job_states(self) -> dict[str, str]:
        """The state of every job that exists now (``{"projects/.../jobs/ID": "RUNNING"}``), e.g. to
        check that nothing is left running at the end of a test."""
        return self.engine.job_states()

    def task_logs(self, job: str) -> list[LogLine]:
        """Output lines the job's scripts wrote so far.

        :param job: the job id or full resource name.
        """
        return self.engine.logs(job)

    # ------------------------------------------------------------- scenarios

    def fail_job(self, job: str, exit_code: int = 1, *, task_index: int | None = 0) -> None:
        """Make a job fail with an exit code.

        Before the job exists: its simulated work fails when it runs. While QUEUED or
        SCHEDULED: the same. While RUNNING: the task fails now and so does the job.

        :param job: the job id or full resource name.
        :param exit_code: the exit code in the task's failure event.
        :param task_index: the failing task; ``None`` for every task.
        """
        self.engine.fail_job(job, exit_code, task_index)

    def preempt_job(self, job: str, *, task_index: int = 0) -> None:
        """Fail a job as a spot preemption (exit code 50001).

        :param job: the job id or full resource name.
        :param task_index: the preempted task.
        """
        self.engine.fail_job(job, PREEMPTION_EXIT_CODE, task_index)

    def fail_task(self, dag_id: str, task_id: str, exit_code: int = 1, *, task_index: int | None = 0) -> None:
        """Make every job an Airflow task submits from now on fail with an exit code.

        The jobs are found by the labels the operator writes (``airflow-dag-id``, ``airflow-task-id``),
        cleaned exactly as it cleans them: ``Marketing.daily_spend`` matches ``marketing-daily_spend``.

        :param dag_id: the DAG's id, as written in the DAG.
        :param task_id: the task's id, as written in the DAG.
        :param exit_code: the exit code in the task's failure event.
        :param task_index: the failing task of the job; ``None`` for every task.
        """
        from airflow_batchstream.spec import task_labels

        self.add_scenario(
            Scenario(exit_code=exit_code, task_index=task_index), labels=task_labels(dag_id, task_id)
        )

    def preempt_task(self, dag_id: str, task_id: str, *, task_index: int | None = 0) -> None:
        """Make every job an Airflow task submits from now on fail as a spot preemption (exit code 50001).

        :param dag_id: the DAG's id, as written in the DAG.
        :param task_id: the task's id, as written in the DAG.
        :param task_index: the preempted task of the job; ``None`` for every task.
        """
        self.fail_task(dag_id, task_id, PREEMPTION_EXIT_CODE, task_index=task_index)

    def hold_job(self, job: str) -> None:
        """Keep a job QUEUED (now, or from its creation) until :meth:`release_job`.

        :param job: the job id or full resource name.
        """
        self.engine.hold_job(job)

    def release_job(self, job: str) -> None:
        """Let a held job leave QUEUED now.

        :param job: the job id or full resource name.
        """
        self.engine.release_job(job)

    def vanish_job(self, job: str) -> None:
        """Delete a job at once, as if someone deleted it under a watcher.

        :param job: the job id or full resource name.
        """
        self.engine.vanish_job(job)

    def add_scenario(
        self,
        scenario: Scenario,
        *,
        job_id: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Apply a scenario to a job created later, by id or by labels.

        :param scenario: exit code, affected task, run time, hold in queue.
        :param job_id: the id of the future job.
        :param labels: labels a future job must carry (all of them).
        """
        self.engine.scenarios.add(scenario, job_id=job_id, labels=labels)

    # ------------------------------------------------------------- clients

    def client(self, api_version: str = "v1alpha", transport: str = "grpc") -> Any:
        """A synchronous ``BatchServiceClient`` connected to this emulator.

        :param api_version: ``"v1alpha"`` or ``"v1"``.
        :param transport: ``"grpc"`` or ``"rest"``.
        """
        return clients.batch_client(api_version, transport, address=self.address, token=self.access_token)

    def async_client(self, api_version: str = "v1alpha") -> Any:
        """An asyncio ``BatchServiceAsyncClient``; create it inside the running event loop.

        :param api_version: ``"v1alpha"`` or ``"v1"``.
        """
        return clients.async_batch_client(api_version, address=self.address, token=self.access_token)

    def logging_client(self) -> Any:
        """A synchronous ``LoggingServiceV2Client`` (GAPIC) reading this emulator's task logs."""
        return clients.logging_api_client(address=self.address, token=self.access_token)

    def async_logging_client(self) -> Any:
        """An asyncio ``LoggingServiceV2AsyncClient``; create it inside the running event loop."""
        return clients.async_logging_api_client(address=self.address, token=self.access_token)

    def redirect_google_clients(self, transport: str = "grpc") -> AbstractContextManager[None]:
        """While the returned context is active, Google's clients that code builds itself reach this emulator.

        :param transport: the transport of Batch clients that name none: ``"grpc"`` or ``"rest"``.
        """
        return clients.redirect_google_clients(transport, address=self.address, token=self.access_token)

    # -------------------------------------------------------------- serving

    def batch_methods(self) -> dict[str, tuple[Callable[[bytes], Any], _Handler]]:
        """The Batch methods: name → (request deserializer, ``handler(request, version) -> bytes``)."""
        return {
            "CreateJob": (
                _pb(batch_v1alpha.CreateJobRequest),
                lambda r, v: self.engine.create_job(r),
            ),
            "GetJob": (
                _pb(batch_v1alpha.GetJobRequest),
                lambda r, v: self.engine.get_job(r.name),
            ),
            "ListJobs": (_pb(batch_v1alpha.ListJobsRequest), self._list_jobs),
            "DeleteJob": (
                _pb(batch_v1alpha.DeleteJobRequest),
                lambda r, v: self.engine.delete_job(r.name, r.request_id, v),
            ),
            "CancelJob": (
                _pb(batch_v1alpha.CancelJobRequest),
                lambda r, v: self.engine.cancel_job(r.name, r.request_id, v),
            ),
            "ListTasks": (_pb(batch_v1alpha.ListTasksRequest), self._list_tasks),
            "GetTask": (
                _pb(batch_v1alpha.GetTaskRequest),
                lambda r, v: self.engine.get_task(r.name),
            ),
        }

    def operation_methods(self) -> dict[str, tuple[Callable[[bytes], Any], _Handler]]:
        """The ``google.longrunning.Operations`` methods, shaped like :meth:`batch_methods`."""
        return {
            "GetOperation": (
                operations_pb2.GetOperationRequest.FromString,
                lambda r, v: self.engine.operations.get(r.name),
            ),
            "ListOperations": (
                operations_pb2.ListOperationsRequest.FromString,
                self._list_operations,
            ),
            "DeleteOperation": (
                operations_pb2.DeleteOperationRequest.FromString,
                self._delete_operation,
            ),
            "CancelOperation": (
                operations_pb2.CancelOperationRequest.FromString,
                self._cancel_operation,
            ),
            "WaitOperation": (
                operations_pb2.WaitOperationRequest.FromString,
                self._wait_operation,
            ),
        }

    def list_log_entries(self, request: Any, version: str) -> bytes:
        """Answer a ``ListLogEntriesRequest`` with a serialized ``ListLogEntriesResponse``.

        :param request: the request message.
        :param version: unused (Cloud Logging has one version here).
        """
        entries, token = self.engine.cloud_logs.list(
            list(request.resource_names),
            request.filter,
            request.order_by,
            request.page_size,
            request.page_token,
            self.engine.clock(),
        )
        return _list_response(1, [render_entry(e) for e in entries], token)

    def dispatch(self, key: str, version: str, fn: _Handler, request: Any) -> bytes:
        """Count one call, apply latency and faults, and run it (the gRPC and REST faces share this).

        :param key: the counter key, e.g. ``"v1.GetJob"`` or ``"longrunning.GetOperation"``.
        :param version: ``"v1alpha"``, ``"v1"`` or empty.
        :param fn: the handler.
        :param request: the request message.
        :raises EmulatorError: a refusal or an injected fault.
        """
        method = key.rsplit(".", 1)[-1]
        with self._counts_lock:
            self._counts[key] += 1
        delay = self.faults.latency_seconds
        if delay:
            time.sleep(delay)
        fault = self.faults.decide(method)
        if fault is not None and not fault.after_commit:
            raise EmulatorError(fault.code, fault.message)
        response = fn(request, version)
        if fault is not None:
            raise EmulatorError(fault.code, fault.message)
        return response

    def _handlers(self) -> tuple[grpc.GenericRpcHandler, ...]:
        batch = self.batch_methods()
        operations = self.operation_methods()
        handlers: list[grpc.GenericRpcHandler] = []
        for version in API_VERSIONS:
            methods = {
                method: grpc.unary_unary_rpc_method_handler(
                    self._wrap(f"{version}.{method}", version, fn),
                    request_deserializer=deserialize,
                    response_serializer=_identity,
                )
                for method, (deserialize, fn) in batch.items()
            }
            handlers.append(
                grpc.method_handlers_generic_handler(f"google.cloud.batch.{version}.BatchService", methods)
            )
        handlers.append(
            grpc.method_handlers_generic_handler(
                _OPERATIONS_SERVICE,
                {
                    method: grpc.unary_unary_rpc_method_handler(
                        self._wrap(f"longrunning.{method}", "", fn),
                        request_deserializer=deserialize,
                        response_serializer=_identity,
                    )
                    for method, (deserialize, fn) in operations.items()
                },
            )
        )
        handlers.append(
            grpc.method_handlers_generic_handler(
                _LOGGING_SERVICE,
                {
                    "ListLogEntries": grpc.unary_unary_rpc_method_handler(
                        self._wrap("logging.ListLogEntries", "", self.list_log_entries),
                        request_deserializer=_pb(ListLogEntriesRequest),
                        response_serializer=_identity,
                    )
                },
            )
        )
        handlers.extend(
            pubsub_handlers(self.pubsub, lambda key, fn: self._wrap(key, "", lambda r, v: fn(r)), self._count)
        )
        handlers.append(control_handler(self))
        ports = {"http": lambda: self.registry.port, "rest": lambda: self.rest.port}
        handlers.append(_discovery_handler(self.host, ports))
        return tuple(handlers)

    def _wrap(self, key: str, version: str, fn: _Handler) -> Callable[[Any, grpc.ServicerContext], bytes]:
        def handle(request: Any, context: grpc.ServicerContext) -> bytes:
            try:
                return self.dispatch(key, version, fn, request)
            except EmulatorError as exc:
                context.abort(exc.code, exc.message)
                raise  # unreachable: abort raises

        return handle

    def _count(self, key: str) -> None:
        with self._counts_lock:
            self._counts[key] += 1

    def _list_jobs(self, request: Any, version: str) -> bytes:
        jobs, token = self.engine.list_jobs(
            request.parent,
            request.filter,
            request.page_size,
            request.page_token,
            request.order_by,
        )
        return _list_response(1, jobs, token)

    def _list_tasks(self, request: Any, version: str) -> bytes:
        tasks, token = self.engine.list_tasks(
            request.parent, request.filter, request.page_size, request.page_token
        )
        return _list_response(1, tasks, token)

    def _list_operations(self, request: Any, version: str) -> bytes:
        ops, token = self.engine.operations.list(request.name, request.page_size, request.page_token)
        return _list_response(1, ops, token)

    def _delete_operation(self, request: Any, version: str) -> bytes:
        self.engine.operations.delete(request.name)
        return bytes(empty_pb2.Empty().SerializeToString())

    def _cancel_operation(self, request: Any, version: str) -> bytes:
        self.engine.operations.cancel(request.name)
        return bytes(empty_pb2.Empty().SerializeToString())

    def _wait_operation(self, request: Any, version: str) -> bytes:
        limit = request.timeout.seconds + request.timeout.nanos / 1e9 if request.HasField("timeout") else 30.0
        deadline = time.monotonic() + min(limit, 60.0)
        while True:
            remaining = self.engine.operations.remaining(request.name)
            if remaining <= 0 or time.monotonic() >= deadline:
                return self.engine.operations.get(request.name)
            time.sleep(min(remaining, max(0.0, deadline - time.monotonic()), 0.5))


def _discovery_handler(bound: str, ports: dict[str, Callable[[], int]]) -> grpc.GenericRpcHandler:
    """Answer ``/airflow_batchstream.emulator.Discovery/HttpEndpoint`` with the HTTP servers' URLs:
    ``http`` (registry and Service Usage) and ``rest`` (the Batch and Cloud Logging REST API).

    The request may be ``{"host": "HOST"}``, the host the client dialled: the reply names that
    host (the address that reached this emulator), else the bound interface.
    """
    from airflow_batchstream.preflight.http import DISCOVERY_METHOD

    def answer(request: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            asked = json.loads(request or b"{}").get("host")
        except (ValueError, AttributeError):
            asked = None
        host = reply_host(asked, bound)
        return json.dumps({name: f"http://{host}:{port()}" for name, port in ports.items()}).encode()

    service, method = DISCOVERY_METHOD.strip("/").split("/")
    return grpc.method_handlers_generic_handler(
        service, {method: grpc.unary_unary_rpc_method_handler(answer)}
    )
