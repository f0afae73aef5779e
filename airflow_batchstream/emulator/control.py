"""Control an emulator from another process: a small JSON-over-gRPC service on the same port.

The service is ``batchstream.emulator.Control`` with one unary method, ``Invoke``. Its request
and response are UTF-8 JSON bytes (no protobuf schema needed)::

    request:  {"op": "set_faults", "args": {"rate": 0.3, "seed": 7}}
    response: {"result": ...}

``op`` is one of :data:`OPERATIONS`, each the :class:`~.server.BatchEmulator` method of the same
name with the same keyword arguments. ``add_scenario``'s ``scenario`` is the fields of a
:class:`~.model.Scenario` as an object (``{"exit_code": 3, "task_index": null}``); results that are
dataclasses (``task_logs``' :class:`~.logs.LogLine`) come back as objects of their fields. Errors
come back as INVALID_ARGUMENT (bad arguments) or NOT_FOUND (unknown job). Control calls are neither
counted in ``rpc_counts`` nor faulted.

From Python use :class:`EmulatorControl`; from a shell, any gRPC tool that sends raw bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from typing import TYPE_CHECKING, Any

import grpc

from airflow_batchstream.emulator.model import Scenario

if TYPE_CHECKING:
    from airflow_batchstream.emulator.server import BatchEmulator

CONTROL_SERVICE = "batchstream.emulator.Control"
INVOKE_METHOD = f"/{CONTROL_SERVICE}/Invoke"

#: The operations the control service accepts (BatchEmulator methods of the same name).
OPERATIONS = (
    "rpc_counts",
    "reset_counts",
    "jobs_created",
    "faults_injected",
    "set_faults",
    "set_latency",
    "fail_next",
    "clear_faults",
    "fail_job",
    "preempt_job",
    "hold_job",
    "release_job",
    "vanish_job",
    "add_scenario",
    "fail_task",
    "preempt_task",
    "job_names",
    "job_states",
    "task_logs",
    "register_image",
)


class EmulatorControlError(RuntimeError):
    """The emulator refused a control request.

    :param code: the gRPC status code name.
    :param message: the emulator's explanation.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def _dataclass_fields(value: Any) -> dict[str, Any]:
    """``json.dumps``'s ``default``: a dataclass (``Scenario``, ``LogLine``) as the object of its fields."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, default=_dataclass_fields).encode()


def control_handler(emulator: BatchEmulator) -> grpc.GenericRpcHandler:
    """The gRPC handler serving :data:`CONTROL_SERVICE` for one emulator.

    :param emulator: the emulator to control.
    """

    def invoke(request: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            body = json.loads(request.decode("utf-8"))
            op, args = body["op"], body.get("args") or {}
            if op not in OPERATIONS or not isinstance(args, dict):
                raise ValueError(f"op must be one of {', '.join(OPERATIONS)} with an args object")
            if op == "add_scenario":
                args = {**args, "scenario": Scenario(**args.get("scenario", {}))}
            result = getattr(emulator, op)(**args)
        except KeyError as exc:
            context.abort(grpc.StatusCode.NOT_FOUND, f"not found: {exc}")
        except (ValueError, TypeError) as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return _dumps({"result": result})

    return grpc.method_handlers_generic_handler(
        CONTROL_SERVICE,
        {
            "Invoke": grpc.unary_unary_rpc_method_handler(
                invoke, request_deserializer=None, response_serializer=None
            )
        },
    )


class EmulatorControl:
    """A client of the control service; mirrors :class:`~.server.BatchEmulator`'s inspection and faults.

    :param address: ``host:port`` of the emulator (the value of ``BATCH_EMULATOR_HOST``).
    :param timeout: seconds each control call may take.
    :param token: the emulator's access token; ``BATCH_EMULATOR_TOKEN`` when ``None``.
    """

    def __init__(self, address: str, timeout: float = 10.0, token: str | None = None) -> None:
        from airflow_batchstream.emulator_client import emulator_channel

        self.address = address
        self.timeout = timeout
        self._channel = emulator_channel(address, token)
        self._invoke: Callable[..., bytes] = self._channel.unary_unary(INVOKE_METHOD)

    def call(self, op: str, **args: Any) -> Any:
        """Invoke one operation and return its JSON result.

        :param op: one of :data:`OPERATIONS`.
        :param args: the operation's keyword arguments; dataclasses such as ``Scenario`` go as they are.
        :raises EmulatorControlError: the emulator refused the call (bad arguments, unknown job).
        """
        payload = _dumps({"op": op, "args": args})
        try:
            raw = self._invoke(payload, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise EmulatorControlError(exc.code().name, exc.details() or "") from None
        return json.loads(raw.decode("utf-8"))["result"]

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def rpc_counts(self, by_version: bool = False) -> dict[str, int]:
        """RPCs received per method (see ``BatchEmulator.rpc_counts``).

        :param by_version: key by ``"v1alpha.GetJob"`` etc.
        """
        return dict(self.call("rpc_counts", by_version=by_version))

    def reset_counts(self) -> None:
        """Forget RPC, fault and created-job counts."""
        self.call("reset_counts")

    def jobs_created(self) -> int:
        """Jobs really stored by CreateJob."""
        return int(self.call("jobs_created"))

    def faults_injected(self) -> dict[str, int]:
        """Faults injected so far, by bare method name: ``{"GetJob": 3, "CreateJob": 1}``."""
        return dict(self.call("faults_injected"))

    def set_faults(
        self,
        rate: float,
        codes: Sequence[str] | None = None,
        methods: Sequence[str] | None = None,
        seed: int | None = None,
        fault_after_commit: float = 0.0,
    ) -> None:
        """Fail a fraction of RPCs (see ``BatchEmulator.set_faults``).

        :param rate: probability in [0, 1].
        :param codes: status code names (``None``: the transient four).
        :param methods: bare method names (``None``: all).
        :param seed: random seed.
        :param fault_after_commit: fraction of mutation faults that happen after the change is stored.
        """
        args: dict[str, Any] = {
            "rate": rate,
            "methods": None if methods is None else list(methods),
            "seed": seed,
            "fault_after_commit": fault_after_commit,
        }
        if codes is not None:
            args["codes"] = list(codes)
        self.call("set_faults", **args)

    def set_latency(self, latency_ms: float) -> None:
        """Delay every RPC.

        :param latency_ms: milliseconds.
        """
        self.call("set_latency", latency_ms=latency_ms)

    def fail_next(
        self, method: str, code: str = "UNAVAILABLE", *, times: int = 1, after_commit: bool = False
    ) -> None:
        """Fail the next calls of one method.

        :param method: the bare method name.
        :param code: the status code name.
        :param times: how many calls fail.
        :param after_commit: store the change first, then fail.
        """
        self.call("fail_next", method=method, code=code, times=times, after_commit=after_commit)

    def clear_faults(self) -> None:
        """Remove every fault and the latency."""
        self.call("clear_faults")

    def add_scenario(
        self, scenario: Scenario, *, job_id: str | None = None, labels: Mapping[str, str] | None = None
    ) -> None:
        """Apply a scenario to a job created later, by id or by labels (see ``BatchEmulator.add_scenario``).

        :param scenario: exit code, affected task, run time, hold in queue.
        :param job_id: the id of the future job.
        :param labels: labels a future job must carry (all of them).
        """
        wanted = None if labels is None else dict(labels)
        self.call("add_scenario", scenario=scenario, job_id=job_id, labels=wanted)

    def fail_task(self, dag_id: str, task_id: str, exit_code: int = 1, *, task_index: int | None = 0) -> None:
        """Make every job an Airflow task submits from now on fail (see ``BatchEmulator.fail_task``).

        :param dag_id: the DAG's id, as written in the DAG.
        :param task_id: the task's id, as written in the DAG.
        :param exit_code: the exit code in the task's failure event.
        :param task_index: the failing task of the job; ``None`` for every task.
        """
        self.call("fail_task", dag_id=dag_id, task_id=task_id, exit_code=exit_code, task_index=task_index)

    def preempt_task(self, dag_id: str, task_id: str, *, task_index: int | None = 0) -> None:
        """Make every job an Airflow task submits from now on end as a spot preemption (exit code 50001).

        :param dag_id: the DAG's id, as written in the DAG.
        :param task_id: the task's id, as written in the DAG.
        :param task_index: the preempted task of the job; ``None`` for every task.
        """
        self.call("preempt_task", dag_id=dag_id, task_id=task_id, task_index=task_index)

    def fail_job(self, job: str, exit_code: int = 1, *, task_index: int | None = 0) -> None:
        """Make a job fail with an exit code (see ``BatchEmulator.fail_job``).

        :param job: the job id or full resource name (a future job's id works too).
        :param exit_code: the exit code in the task's failure event.
        :param task_index: the failing task; ``None`` for every task.
        """
        self.call("fail_job", job=job, exit_code=exit_code, task_index=task_index)

    def preempt_job(self, job: str, *, task_index: int = 0) -> None:
        """Fail a job as a spot preemption (exit code 50001).

        :param job: the job id or full resource name.
        :param task_index: the preempted task.
        """
        self.call("preempt_job", job=job, task_index=task_index)

    def hold_job(self, job: str) -> None:
        """Keep a job QUEUED (now, or from its creation) until :meth:`release_job`.

        :param job: the job id or full resource name.
        """
        self.call("hold_job", job=job)

    def release_job(self, job: str) -> None:
        """Let a held job leave QUEUED now.

        :param job: the job id or full resource name.
        """
        self.call("release_job", job=job)

    def vanish_job(self, job: str) -> None:
        """Delete a job at once, as if someone deleted it under a watcher.

        :param job: the job id or full resource name.
        """
        self.call("vanish_job", job=job)

    def register_image(self, uri: str, size_bytes: int) -> None:
        """Declare an image's size (a non-streamed pull then takes ``size / image_bandwidth``).

        :param uri: the image URI exactly as jobs name it.
        :param size_bytes: the image's size in bytes.
        """
        self.call("register_image", uri=uri, size_bytes=size_bytes)

    def job_names(self) -> list[str]:
        """Full resource names of the jobs that exist now, oldest first."""
        return list(self.call("job_names"))

    def job_states(self) -> dict[str, str]:
        """The state name of every live job, by full name."""
        return dict(self.call("job_states"))

    def task_logs(self, job: str) -> list[dict[str, Any]]:
        """Output lines of a job: dicts of ``time``, ``task_index``, ``attempt``, ``stream``, ``text``.

        :param job: the job id or full name.
        """
        return list(self.call("task_logs", job=job))
