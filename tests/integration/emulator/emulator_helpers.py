"""Small helpers shared by the emulator integration tests."""

from __future__ import annotations

import time
from typing import Any

from google.api_core import exceptions

PARENT = "projects/test-project/locations/us-central1"
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


def container_job(module: Any, *, labels: dict[str, str] | None = None, task_count: int = 0) -> Any:
    """A minimal image-streaming container job for the given API module.

    :param module: ``google.cloud.batch_v1alpha`` or ``google.cloud.batch_v1``.
    :param labels: job labels.
    :param task_count: tasks in the group (0: the server default).
    """
    runnable = module.Runnable(
        container=module.Runnable.Container(
            image_uri="us-docker.pkg.dev/p/r/debian:12",
            commands=["sleep", "1"],
            enable_image_streaming=True,
        )
    )
    group = module.TaskGroup(task_count=task_count, task_spec=module.TaskSpec(runnables=[runnable]))
    return module.Job(task_groups=[group], labels=labels or {})


def script_job(module: Any, text: str, *, task_count: int = 0, parallelism: int = 0) -> Any:
    """A job whose one runnable is a shell script.

    :param module: ``google.cloud.batch_v1alpha`` or ``google.cloud.batch_v1``.
    :param text: the script text.
    :param task_count: tasks in the group (0: the server default).
    :param parallelism: tasks run at once (0: all).
    """
    runnable = module.Runnable(script=module.Runnable.Script(text=text))
    group = module.TaskGroup(
        task_count=task_count,
        parallelism=parallelism,
        task_spec=module.TaskSpec(runnables=[runnable]),
    )
    return module.Job(task_groups=[group])


def wait_state(client: Any, name: str, states: set[str] = TERMINAL, timeout: float = 15.0) -> Any:
    """Poll GetJob until the job reaches one of ``states``; return the job.

    :param client: a synchronous BatchServiceClient.
    :param name: the job's full name.
    :param states: the state names to wait for.
    :param timeout: seconds before giving up.
    """
    deadline = time.monotonic() + timeout
    while True:
        job = client.get_job(name=name)
        if job.status.state.name in states:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} stayed {job.status.state.name}; wanted {sorted(states)}")
        time.sleep(0.05)


def raised(
    transport: str, grpc_error: type[exceptions.GoogleAPICallError]
) -> type[exceptions.GoogleAPICallError]:
    """The exception Google's client raises for an error over a transport.

    Over REST api-core picks the class by HTTP status, as it does against the real service:
    INVALID_ARGUMENT and FAILED_PRECONDITION are both ``BadRequest`` (400), ALREADY_EXISTS is
    ``Conflict`` (409); over gRPC it is the class of the status code.

    :param transport: ``"grpc"`` or ``"rest"``.
    :param grpc_error: the class raised over gRPC, e.g. ``exceptions.InvalidArgument``.
    """
    if transport == "grpc":
        return grpc_error
    return exceptions.exception_class_for_http_status(grpc_error.code)
