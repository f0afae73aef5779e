"""Who may use the emulator: it binds loopback only, unless remote access is asked for with a token.

The emulator runs the scripts of any job it is sent, as its own user: anyone who can reach its
port can run commands on the machine. So it refuses a non-loopback interface unless
``allow_remote`` is set, and then requires an access token: every gRPC call must carry it in the
metadata ``x-batch-emulator-token``, every HTTP request in the header ``X-Batch-Emulator-Token``
(the provider sends it from ``BATCH_EMULATOR_TOKEN``). A token can be required on loopback too.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import grpc

from airflow_batchstream.emulator_client import TOKEN_HEADER, TOKEN_METADATA

log = logging.getLogger(__name__)

_HOST_NAME = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})$")


def is_loopback(host: str) -> bool:
    """
    Tell whether a host name or address is the loopback interface.

    :param host: ``127.0.0.1``, ``::1``, ``[::1]``, ``localhost``, ...
    """
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool, access_token: str | None) -> None:
    """
    Refuse a non-loopback bind without ``allow_remote``, and remote access without a token.

    :param host: the interface to bind.
    :param allow_remote: whether the caller asked for remote access.
    :param access_token: the token clients must send.
    :raises ValueError: with what to do instead.
    """
    if not is_loopback(host) and not allow_remote:
        raise ValueError(
            f"refusing to bind {host}: the emulator runs any job's scripts as this user, so it listens "
            "on loopback only; bind 127.0.0.1, or pass --allow-remote (an access token is then required)"
        )
    if allow_remote and not access_token:
        raise ValueError("remote access needs an access token: give one, or let the CLI make one")
    if allow_remote:
        log.warning(
            "The Batch emulator accepts remote clients on %s: anyone with its access token can run "
            "commands on this machine as this user. Use it on a trusted network only.",
            host,
        )


def new_token() -> str:
    """Return a new random access token."""
    return secrets.token_urlsafe(32)


def token_matches(sent: str | None, expected: str | None) -> bool:
    """
    Tell whether a client's token is the expected one (always true when none is required).

    :param sent: what the client sent.
    :param expected: the emulator's token, or ``None``.
    """
    if not expected:
        return True
    return sent is not None and hmac.compare_digest(sent.encode(), expected.encode())


def http_allowed(headers: Mapping[str, str] | Any, expected: str | None) -> bool:
    """
    Tell whether an HTTP request carries the access token.

    :param headers: the request's headers (a mapping, or ``http.client`` headers).
    :param expected: the emulator's token, or ``None``.
    """
    return token_matches(headers.get(TOKEN_HEADER), expected)


class TokenInterceptor(grpc.ServerInterceptor):
    """
    Refuse every call without the access token with UNAUTHENTICATED.

    :param token: the token calls must carry.
    """

    def __init__(self, token: str) -> None:
        self.token = token

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        """
        Pass the call on when it carries the token; else answer UNAUTHENTICATED.

        :param continuation: the next handler lookup.
        :param details: the call's method and metadata.
        """
        sent = dict(details.invocation_metadata or ()).get(TOKEN_METADATA)
        if token_matches(sent, self.token):
            return continuation(details)
        return grpc.unary_unary_rpc_method_handler(_refuse)


def _refuse(request: Any, context: grpc.ServicerContext) -> bytes:
    context.abort(
        grpc.StatusCode.UNAUTHENTICATED,
        f"this emulator needs its access token in the {TOKEN_METADATA} metadata (set BATCH_EMULATOR_TOKEN)",
    )
    raise AssertionError("unreachable")


def reply_host(asked: Any, bound: str) -> str:
    """
    Return the host to name in a discovery reply: the one the client dialled, else the bound one.

    :param asked: the host the client says it used (any JSON value; only a host name is taken).
    :param bound: the interface the emulator bound.
    """
    if isinstance(asked, str) and _HOST_NAME.match(asked):
        return asked
    if bound in ("0.0.0.0", "::", "[::]", ""):
        return "127.0.0.1"
    return f"[{bound}]" if ":" in bound and not bound.startswith("[") else bound
