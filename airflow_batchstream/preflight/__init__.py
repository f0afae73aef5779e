"""Preflight: network checks a job's images and project must pass before it is submitted.

(a) each streaming image's manifest, through the registry v2 API (schema 1, empty and duplicate
layers refused; indexes resolved to linux/amd64); (b) the Container File System API enabled in
the project, through Service Usage. A check that cannot run (no permission, no network, an answer
we cannot read) warns, and fails only with ``mode="strict"``. Passing results are cached for
:data:`PASS_SECONDS`, keyed by endpoint, caller identity and image (or project), at most
:data:`MAX_PASSES` of them. With ``BATCH_EMULATOR_HOST`` set, no Google credential is fetched or sent.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache

from airflow_batchstream.api_version import emulator_host

PREFLIGHT_MODES = ("warn", "strict", "off")
#: Seconds a passed check is remembered.
PASS_SECONDS = 3600
#: Passed checks remembered at most (the oldest go first).
MAX_PASSES = 1024
_cache_lock = threading.Lock()
_passed: TTLCache[tuple[str, ...], bool] = TTLCache(MAX_PASSES, PASS_SECONDS)
#: What a malformed answer may raise while it is read; such an answer makes a check unavailable.
_MALFORMED = (ValueError, TypeError, AttributeError, KeyError, IndexError)


@dataclass(frozen=True)
class Finding:
    """
    One preflight result that is not a pass.

    :param subject: the image reference or ``project P``.
    :param rule: ``schema1-manifest``, ``empty-layer``, ``duplicate-layer``, ``no-linux-amd64``,
        ``image-not-found``, ``unknown-manifest``, ``api-disabled`` or ``preflight-unavailable``.
    :param message: what was found.
    :param hint: what to do.
    :param path: the job field it concerns, when it concerns one.
    """

    subject: str
    rule: str
    message: str
    hint: str = ""
    path: str = ""

    @property
    def blocking(self) -> bool:
        """Whether the finding is a fact about the job (not a check that could not run)."""
        return self.rule != "preflight-unavailable"

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        hint = f" Fix: {self.hint}" if self.hint else ""
        return f"{where}[{self.rule}] {self.subject}: {self.message}{hint}"


class PreflightError(ValueError):
    """
    The preflight found problems; carries every :class:`Finding`.

    :param findings: what was found.
    """

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        lines = "\n".join(f"  - {finding}" for finding in self.findings)
        super().__init__(f"the Batch job failed its preflight: {len(self.findings)} problem(s)\n{lines}")


def clear_cache() -> None:
    """Forget the checks that passed in this process."""
    with _cache_lock:
        _passed.clear()


def _identity(credentials: Any, token: str | None) -> str:
    """Who the checks run as: the emulator, a service account, a token's hash, or anonymous."""
    if emulator_host():
        return "emulator"
    email = getattr(credentials, "service_account_email", None) or getattr(credentials, "signer_email", None)
    if isinstance(email, str) and email:
        return email
    return "token:" + hashlib.sha256(token.encode()).hexdigest() if token else "anonymous"


def _remembered(key: tuple[str, ...]) -> bool:
    with _cache_lock:
        return _passed.get(key, False)


def _remember(key: tuple[str, ...]) -> None:
    with _cache_lock:
        _passed[key] = True


def access_token(credentials: Any) -> str | None:
    """
    Return a fresh OAuth2 access token for ``credentials``, or ``None`` for anonymous ones.

    :param credentials: Google credentials, as a hook's ``get_credentials()`` returns them.
    """
    from google.auth.credentials import AnonymousCredentials
    from google.auth.transport.requests import Request

    if credentials is None or isinstance(credentials, AnonymousCredentials):
        return None
    if not credentials.valid:
        credentials.refresh(Request())
    return credentials.token


def run_preflight(
    images: Sequence[tuple[str, str]],
    project_id: str | None,
    credentials: Any,
    *,
    mode: str = "warn",
    log: Any = None,
) -> list[Finding]:
    """
    Check images and project; raise on problems, warn (or raise in strict mode) on checks that cannot run.

    :param images: ``(path, image_uri)`` of every streaming Artifact Registry image.
    :param project_id: the project the job runs in.
    :param credentials: Google credentials of the connection; never used with an emulator.
    :param mode: ``"warn"`` (default), ``"strict"`` or ``"off"``.
    :param log: where warnings go.
    :return: the findings that did not fail the check (warnings).
    :raises PreflightError: on any blocking finding, or any finding in strict mode.
    """
    if mode not in PREFLIGHT_MODES:
        raise ValueError(f"preflight={mode!r}: use one of {', '.join(map(repr, PREFLIGHT_MODES))}")
    if mode == "off":
        return []
    import requests
    from google.auth.transport.requests import AuthorizedSession

    log = log or logging.getLogger(__name__)
    findings: list[Finding] = []
    emulated = emulator_host() is not None
    token = None
    if not emulated:
        try:
            token = access_token(credentials)
        except Exception as error:  # any refresh failure means the checks cannot run
            findings.append(Finding("credentials", "preflight-unavailable", f"no access token: {error}"))
    scope = (emulator_host() or "google", _identity(credentials, token))
    with requests.Session() as session:
        for path, uri in dict.fromkeys(images):
            findings += _check_image(path, uri, token, session, scope)
    with requests.Session() if emulated else AuthorizedSession(credentials) as session:
        findings += _check_api(project_id, session, scope)
    for finding in findings:
        log.warning("Preflight: %s", finding)
    if any(f.blocking or mode == "strict" for f in findings):
        raise PreflightError(findings)
    return findings


def _check_image(
    path: str, uri: str, token: str | None, session: Any, scope: tuple[str, str]
) -> list[Finding]:
    from airflow_batchstream.preflight.registry import AccessProblem, inspect_image
    from airflow_batchstream.validation.images import parse_artifact_registry

    ref = parse_artifact_registry(uri)
    key = (*scope, "image", uri)
    if ref is None or _remembered(key):
        return []
    try:
        verdict = inspect_image(ref, token, session)
    except AccessProblem as error:
        return [Finding(uri, "preflight-unavailable", str(error), path=path)]
    except _MALFORMED as error:
        return [Finding(uri, "preflight-unavailable", f"unreadable registry answer: {error!r}", path=path)]
    if not verdict.problems:
        _remember(key)
    return [Finding(uri, p.rule, p.message, p.hint, path) for p in verdict.problems]


def _check_api(project_id: str | None, session: Any, scope: tuple[str, str]) -> list[Finding]:
    from airflow_batchstream.preflight.http import AccessProblem
    from airflow_batchstream.preflight.service_usage import (
        CONTAINER_FILE_SYSTEM_API,
        enable_command,
        service_state,
    )

    if not project_id:
        return [
            Finding(
                "project", "preflight-unavailable", "no project id: give project_id or a connection project"
            )
        ]
    key = (*scope, "project", project_id)
    if _remembered(key):
        return []
    subject = f"project {project_id}"
    try:
        state = service_state(project_id, session)
    except AccessProblem as error:
        return [Finding(subject, "preflight-unavailable", str(error))]
    except _MALFORMED as error:
        return [Finding(subject, "preflight-unavailable", f"unreadable Service Usage answer: {error!r}")]
    if state != "ENABLED":
        return [
            Finding(
                subject,
                "api-disabled",
                f"{CONTAINER_FILE_SYSTEM_API} is {state}; image streaming needs it",
                f"run: {enable_command(project_id)}",
            )
        ]
    _remember(key)
    return []
