"""One retry policy for every Batch API call, sync and async: transient gRPC codes only."""

from __future__ import annotations

from typing import Any

import tenacity
from google.api_core import exceptions as api_exceptions

#: Errors worth another try: the service is busy, overloaded, or lost the request.
TRANSIENT_ERRORS: tuple[type[api_exceptions.GoogleAPICallError], ...] = (
    api_exceptions.ServiceUnavailable,  # UNAVAILABLE
    api_exceptions.DeadlineExceeded,  # DEADLINE_EXCEEDED
    api_exceptions.ResourceExhausted,  # RESOURCE_EXHAUSTED
    api_exceptions.InternalServerError,  # INTERNAL
    api_exceptions.Aborted,  # ABORTED
)

#: Default bound of one retried call, in seconds of wall time.
DEFAULT_RETRY_DEADLINE = 120.0
#: First backoff and its cap, in seconds.
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 16.0


def is_transient(error: BaseException) -> bool:
    """
    Tell whether an API error is worth retrying.

    :param error: the exception a Batch API call raised.
    """
    return isinstance(error, TRANSIENT_ERRORS)


def retry_bound(bound: float, deadline: float | None = None) -> float:
    """
    Return how long one call may retry: ``bound``, or less when the caller's own wait ends sooner.

    :param bound: the call's usual retry bound, in seconds.
    :param deadline: seconds left before the caller's deadline, or ``None`` when it has none.
    """
    return max(0.0, bound if deadline is None else min(bound, deadline))


def _retry_kwargs(deadline: float, max_attempts: int | None) -> dict[str, Any]:
    stop: tenacity.stop.stop_base = tenacity.stop_after_delay(deadline)
    if max_attempts is not None:
        stop = stop | tenacity.stop_after_attempt(max_attempts)
    return {
        "retry": tenacity.retry_if_exception(is_transient),
        "stop": stop,
        "wait": tenacity.wait_random_exponential(multiplier=INITIAL_BACKOFF, max=MAX_BACKOFF),
        "reraise": True,
    }


def transient_retrying(
    deadline: float = DEFAULT_RETRY_DEADLINE, max_attempts: int | None = None
) -> tenacity.Retrying:
    """
    Build the synchronous retry loop for one API call.

    :param deadline: seconds of wall time after which the last error is raised.
    :param max_attempts: optional cap on attempts, on top of the deadline.
    """
    return tenacity.Retrying(**_retry_kwargs(deadline, max_attempts))


def transient_async_retrying(
    deadline: float = DEFAULT_RETRY_DEADLINE, max_attempts: int | None = None
) -> tenacity.AsyncRetrying:
    """
    Build the asynchronous retry loop for one API call; same policy as :func:`transient_retrying`.

    :param deadline: seconds of wall time after which the last error is raised.
    :param max_attempts: optional cap on attempts, on top of the deadline.
    """
    return tenacity.AsyncRetrying(**_retry_kwargs(deadline, max_attempts))
