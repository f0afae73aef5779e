"""Preflight: network checks a job's images and project must pass before it is submitted.

(a) each streaming image's manifest, through the registry v2 API (schema 1, empty and duplicate
layers refused; indexes resolved to linux/amd64); (b) the Container File System API enabled in
the project, through Service Usage. A check that cannot run (no permission, no network) warns,
and fails only with ``mode="strict"``. Passing results are cached for the life of the process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PREFLIGHT_MODES = ("warn", "strict", "off")
_cache_lock = threading.Lock()
_passed: set[tuple[str, str]] = set()


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
    :param credentials: Google credentials of the connection.
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
    try:
        token = access_token(credentials)
    except Exception as error:  # any refresh failure means the checks cannot run
        token = None
        findings.append(Finding("credentials", "preflight-unavailable", f"no access token: {error}"))
    with requests.Session() as session:
        for path, uri in dict.fromkeys(images):
            findings += _check_image(path, uri, token, session)
    with AuthorizedSession(credentials) as session:
        findings += _check_api(project_id, session)
    for finding in findings:
        log.warning("Preflight: %s", finding)
    if any(f.blocking or mode == "strict" for f in findings):
        raise PreflightError(findings)
    return findings


def _check_image(path: str, uri: str, token: str | None, session: Any) -> list[Finding]:
    from airflow_batchstream.preflight.registry import AccessProblem, inspect_image
    from airflow_batchstream.validation.images import parse_artifact_registry

    ref = parse_artifact_registry(uri)
    if ref is None or ("image", uri) in _passed:
        return []
    try:
        verdict = inspect_image(ref, token, session)
    except AccessProblem as error:
        return [Finding(uri, "preflight-unavailable", str(error), path=path)]
    if not verdict.problems:
        with _cache_lock:
            _passed.add(("image", uri))
    return [Finding(uri, p.rule, p.message, p.hint, path) for p in verdict.problems]


def _check_api(project_id: str | None, session: Any) -> list[Finding]:
    from airflow_batchstream.preflight.registry import AccessProblem
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
    if ("project", project_id) in _passed:
        return []
    subject = f"project {project_id}"
    try:
        state = service_state(project_id, session)
    except AccessProblem as error:
        return [Finding(subject, "preflight-unavailable", str(error))]
    if state != "ENABLED":
        return [
            Finding(
                subject,
                "api-disabled",
                f"{CONTAINER_FILE_SYSTEM_API} is {state}; image streaming needs it",
                f"run: {enable_command(project_id)}",
            )
        ]
    with _cache_lock:
        _passed.add(("project", project_id))
    return []
