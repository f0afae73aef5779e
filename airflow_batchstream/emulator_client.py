"""How the provider reaches an emulator: its access token, and channels that carry it.

``BATCH_EMULATOR_HOST`` names the emulator; ``BATCH_EMULATOR_TOKEN`` (printed by
``batchstream-emulator --allow-remote``) is sent with every gRPC call as the metadata
``x-batch-emulator-token`` and with every HTTP request as the header ``X-Batch-Emulator-Token``.
No Google credential is ever sent to an emulator.
"""

from __future__ import annotations

import os
from typing import Any

#: The emulator's access token; sent when set.
EMULATOR_TOKEN_ENV = "BATCH_EMULATOR_TOKEN"
#: gRPC metadata key that carries the emulator's access token.
TOKEN_METADATA = "x-batch-emulator-token"
#: HTTP header that carries the emulator's access token.
TOKEN_HEADER = "X-Batch-Emulator-Token"


def emulator_token() -> str | None:
    """Return the emulator's access token from ``BATCH_EMULATOR_TOKEN``, or ``None``."""
    return os.environ.get(EMULATOR_TOKEN_ENV) or None


def token_headers(token: str | None = None) -> dict[str, str]:
    """
    Return the HTTP headers that carry the emulator's access token (none when there is no token).

    :param token: the token; ``BATCH_EMULATOR_TOKEN`` when ``None``.
    """
    token = token or emulator_token()
    return {TOKEN_HEADER: token} if token else {}


def emulator_channel(host: str, token: str | None = None, *, asynchronous: bool = False) -> Any:
    """
    Open a plaintext gRPC channel to an emulator that sends its access token on every call.

    :param host: ``host:port`` of the emulator.
    :param token: the access token; ``BATCH_EMULATOR_TOKEN`` when ``None``, nothing when unset.
    :param asynchronous: open a ``grpc.aio`` channel (inside the event loop that will use it).
    """
    import grpc

    token = token or emulator_token()
    if asynchronous:
        return grpc.aio.insecure_channel(host, interceptors=[_async_interceptor(token)] if token else None)
    channel = grpc.insecure_channel(host)
    return grpc.intercept_channel(channel, _sync_interceptor(token)) if token else channel


def _sync_interceptor(token: str) -> Any:
    import collections

    import grpc

    fields = ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")

    class Details(
        collections.namedtuple(
            "Details", ["method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"]
        ),
        grpc.ClientCallDetails,
    ):
        """A call's details with the token added to its metadata."""

    def with_token(details: Any) -> Any:
        values = {name: getattr(details, name, None) for name in fields}
        values["metadata"] = [*(details.metadata or ()), (TOKEN_METADATA, token)]
        return Details(**values)

    class Interceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
        def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            return continuation(with_token(details), request)

        def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
            return continuation(with_token(details), request)

    return Interceptor()


def _async_interceptor(token: str) -> Any:
    from grpc import aio

    class Interceptor(aio.UnaryUnaryClientInterceptor):
        async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            metadata = aio.Metadata(*(details.metadata or ()), (TOKEN_METADATA, token))
            return await continuation(details._replace(metadata=metadata), request)

    return Interceptor()
