"""Long-running operations of CancelJob and DeleteJob (``google.longrunning.Operations``)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import grpc
from cachetools import TTLCache
from google.cloud import batch_v1alpha
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, empty_pb2

from airflow_batchstream.emulator.model import (
    REQUEST_ID_WINDOW_SECONDS,
    EmulatorError,
    JobRecord,
    Operation,
    page_window,
    to_ts,
)

#: Request ids of cancels and deletes remembered at most (each for its 60-minute window).
MAX_REQUEST_IDS = 100_000

OperationMetadataPb: Any = batch_v1alpha.OperationMetadata.pb()
CancelJobResponsePb: Any = batch_v1alpha.CancelJobResponse.pb()


class OperationStore:
    """Every operation started, rendered from the clock: done once its time has come.

    :param clock: returns the current time in epoch seconds.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._lock = threading.RLock()
        self._operations: dict[str, Operation] = {}
        self._requests: TTLCache[tuple[str, str, str], str] = TTLCache(
            MAX_REQUEST_IDS, REQUEST_ID_WINDOW_SECONDS, timer=clock
        )

    def get(self, name: str) -> bytes:
        """Return a serialized ``google.longrunning.Operation``.

        :param name: the operation's resource name.
        """
        now = self.clock()
        with self._lock:
            return self.render(self._require(name), now)

    def list(self, name: str, page_size: int, page_token: str) -> tuple[list[bytes], str]:
        """Return one page of operations under a collection.

        :param name: ``projects/P/locations/L`` (or ``.../operations``); empty lists all.
        :param page_size: the maximum number of operations to return.
        :param page_token: the token from the previous page, or empty.
        """
        prefix = name.removesuffix("/operations")
        now = self.clock()
        with self._lock:
            ops = [op for op in self._operations.values() if op.name.startswith(prefix + "/") or not prefix]
            start, end, token = page_window("ops|" + name, page_token, page_size, len(ops))
            return [self.render(op, now) for op in ops[start:end]], token

    def delete(self, name: str) -> None:
        """Forget an operation.

        :param name: the operation's resource name.
        """
        with self._lock:
            if self._operations.pop(name, None) is None:
                raise EmulatorError(grpc.StatusCode.NOT_FOUND, f"Operation {name} not found")

    def cancel(self, name: str) -> None:
        """Record a cancellation request; cancel and delete operations cannot be undone.

        :param name: the operation's resource name.
        """
        with self._lock:
            self._require(name).requested_cancellation = True

    def remaining(self, name: str) -> float:
        """Seconds until an operation is done (0 when done).

        :param name: the operation's resource name.
        """
        with self._lock:
            return max(0.0, self._require(name).done_time - self.clock())

    def _require(self, name: str) -> Operation:
        op = self._operations.get(name)
        if op is None:
            raise EmulatorError(grpc.StatusCode.NOT_FOUND, f"Operation {name} not found")
        return op

    def new(
        self,
        job: JobRecord,
        verb: str,
        api_version: str,
        now: float,
        done: float,
        request_id: str,
    ) -> Operation:
        """Start an operation on a job that is done at ``done``.

        :param job: the target job.
        :param verb: ``"cancel"`` or ``"delete"``.
        :param api_version: ``"v1alpha"`` or ``"v1"``, for the type URLs.
        :param now: the start time.
        :param done: when the operation completes.
        :param request_id: the request's idempotency key, or empty.
        """
        name = f"{job.parent}/operations/operation-{int(now * 1000)}-{uuid.uuid4().hex[:12]}"
        op = Operation(name, job.name, verb, api_version, now, done)
        self._operations[name] = op
        if request_id:
            self._requests[(job.name, verb, request_id)] = name
        return op

    def repeat(self, job_name: str, verb: str, request_id: str) -> Operation | None:
        """The operation an earlier request with this ``request_id`` started, if any.

        :param job_name: the target job.
        :param verb: ``"cancel"`` or ``"delete"``.
        :param request_id: the idempotency key (empty: never a repeat).
        """
        if not request_id:
            return None
        name = self._requests.get((job_name, verb, request_id))
        return None if name is None else self._operations.get(name)

    def render(self, op: Operation, now: float) -> bytes:
        """The serialized ``google.longrunning.Operation`` at ``now``.

        :param op: the operation.
        :param now: the current time.
        """
        meta = OperationMetadataPb(target=op.target, verb=op.verb, api_version=op.api_version)
        meta.requested_cancellation = op.requested_cancellation
        to_ts(meta.create_time, op.create_time)
        done = now >= op.done_time
        if done:
            to_ts(meta.end_time, op.done_time)
        prefix = f"type.googleapis.com/google.cloud.batch.{op.api_version}"
        msg = operations_pb2.Operation(
            name=op.name,
            done=done,
            metadata=any_pb2.Any(type_url=f"{prefix}.OperationMetadata", value=meta.SerializeToString()),
        )
        if done:
            if op.verb == "cancel":
                msg.response.CopyFrom(
                    any_pb2.Any(
                        type_url=f"{prefix}.CancelJobResponse",
                        value=CancelJobResponsePb().SerializeToString(),
                    )
                )
            else:
                msg.response.Pack(empty_pb2.Empty())
        return bytes(msg.SerializeToString())
