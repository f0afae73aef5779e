"""Fetch an image's manifest through the Docker Registry HTTP API v2 of Artifact Registry.

Authentication (https://cloud.google.com/artifact-registry/docs/reference/docker-api): the
caller's OAuth2 access token goes in ``Authorization: Bearer``. When a registry answers 401 with
``WWW-Authenticate: Bearer realm=...,service=...,scope=...`` (the token handshake of
https://distribution.github.io/distribution/spec/auth/token/), we ask the realm for a registry
token with Basic credentials ``oauth2accesstoken:<access token>`` (the user name Artifact Registry
documents for ``docker login`` with an access token) and retry once with it. The realm is followed
only over HTTPS to the registry's own host or a Google host (with the emulator: only to its own
hosts, and with no Google credential), and a token request never follows a redirect.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from airflow_batchstream.api_version import emulator_host
from airflow_batchstream.preflight.http import (
    HTTP_TIMEOUT,
    AccessProblem,
    emulator_may_serve,
    is_google_host,
    registry_target,
)
from airflow_batchstream.preflight.manifests import (
    ACCEPT,
    INDEX_TYPES,
    Problem,
    layer_problems,
    malformed,
    media_type,
    pick_platform,
)
from airflow_batchstream.validation.images import ImageRef

__all__ = ["AccessProblem", "ManifestVerdict", "RegistryClient", "inspect_image", "realm_allowed"]

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def realm_allowed(realm: str, registry_host: str) -> bool:
    """
    Tell whether a token realm may be asked for a registry token.

    Against Google: HTTPS to the registry's own host or a Google host. With ``BATCH_EMULATOR_HOST``:
    HTTP(S) to loopback or the emulator's host only.

    :param realm: the ``realm`` of the registry's ``WWW-Authenticate`` challenge.
    :param registry_host: the image's registry host.
    """
    parts = urlsplit(realm)
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password:
        return False
    if emulator_host():
        return parts.scheme in ("http", "https") and emulator_may_serve(host)
    return parts.scheme == "https" and (host == registry_host.lower() or is_google_host(host))


@dataclass
class ManifestVerdict:
    """
    What the registry said about one image.

    :param problems: reasons it cannot stream (empty: it can).
    :param media_types: the media types read, index first.
    """

    problems: list[Problem] = field(default_factory=list)
    media_types: list[str] = field(default_factory=list)


def _challenge(response: requests.Response) -> dict[str, str] | None:
    header = response.headers.get("WWW-Authenticate", "")
    if not header.lower().startswith("bearer "):
        return None
    return dict(_CHALLENGE_PARAM.findall(header))


class RegistryClient:
    """
    Read manifests from one registry host with an access token.

    :param ref: the image whose registry this is.
    :param access_token: the caller's OAuth2 access token, or ``None`` (anonymous).
    :param session: the HTTP session to use.
    """

    def __init__(self, ref: ImageRef, access_token: str | None, session: requests.Session) -> None:
        self.ref = ref
        self.base, self.headers = registry_target(ref.host)
        self.session = session
        self.bearer = access_token
        self.access_token = access_token

    def _get(self, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.get(url, timeout=HTTP_TIMEOUT, allow_redirects=False, **kwargs)
        except requests.RequestException as error:
            raise AccessProblem(f"cannot reach {self.ref.host}: {error}") from None

    def manifest(self, reference: str) -> tuple[dict[str, Any], str]:
        """
        Return one manifest document and its media type.

        :param reference: a tag or digest.
        """
        url = f"{self.base}/v2/{self.ref.name}/manifests/{reference}"
        headers = {**self.headers, "Accept": ACCEPT}
        response = self._get(url, headers=self._auth(headers))
        if response.status_code == 401 and (challenge := _challenge(response)):
            self.bearer = self._registry_token(challenge)
            response = self._get(url, headers=self._auth(headers))
        if response.status_code in (401, 403):
            raise AccessProblem(
                f"the registry refused to show {self.ref.host}/{self.ref.name}:{reference} "
                f"(HTTP {response.status_code}); grant the connection's account "
                "roles/artifactregistry.reader on the repository"
            )
        if response.status_code == 404:
            raise LookupError(f"{self.ref.host}/{self.ref.name}:{reference} does not exist")
        if response.status_code != 200:
            raise AccessProblem(f"the registry answered HTTP {response.status_code} for {url}")
        try:
            document = json.loads(response.content)
        except ValueError:
            raise AccessProblem(f"the registry's manifest for {url} is not JSON") from None
        if reason := malformed(document):
            raise AccessProblem(f"the registry's answer for {url} is not a manifest: {reason}")
        return document, media_type(document, response.headers.get("Content-Type", ""))

    def _auth(self, headers: dict[str, str]) -> dict[str, str]:
        return {**headers, "Authorization": f"Bearer {self.bearer}"} if self.bearer else headers

    def _registry_token(self, challenge: dict[str, str]) -> str | None:
        realm = challenge.get("realm", "")
        if not realm_allowed(realm, self.ref.host):
            where = urlsplit(realm).netloc or repr(realm)
            raise AccessProblem(
                f"the registry {self.ref.host} sent its token request to {where}; "
                "refused (only HTTPS to the registry's own host or a Google host is followed)"
            )
        params = {key: value for key, value in challenge.items() if key in ("service", "scope")}
        params.setdefault("scope", f"repository:{self.ref.name}:pull")
        auth = ("oauth2accesstoken", self.access_token) if self.access_token else None
        headers = dict(self.headers)
        response = self._get(realm, params=params, auth=auth, headers=headers)
        if response.status_code in (401, 403):
            raise AccessProblem(
                f"the registry's token service refused a pull token for {self.ref.name} "
                f"(HTTP {response.status_code}); grant roles/artifactregistry.reader"
            )
        if response.status_code != 200:
            raise AccessProblem(f"the registry's token service answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise AccessProblem("the registry's token service did not answer a JSON object")
        token = body.get("token") or body.get("access_token")
        return token if isinstance(token, str) else None


def inspect_image(ref: ImageRef, access_token: str | None, session: requests.Session) -> ManifestVerdict:
    """
    Fetch an image's manifest (resolving an index to linux/amd64) and return its problems.

    :param ref: the image.
    :param access_token: the caller's OAuth2 access token, or ``None``.
    :param session: the HTTP session to use.
    :raises AccessProblem: when the registry cannot be read (permission, network).
    """
    client = RegistryClient(ref, access_token, session)
    verdict = ManifestVerdict()
    try:
        document, kind = client.manifest(ref.reference)
    except LookupError as error:
        verdict.problems.append(Problem("image-not-found", str(error), "push the image, or fix the tag"))
        return verdict
    verdict.media_types.append(kind)
    if kind in INDEX_TYPES:
        entry = pick_platform(document)
        if entry is None:
            verdict.problems.append(
                Problem(
                    "no-linux-amd64",
                    "the image index has no linux/amd64 image; Batch VMs run linux/amd64",
                    "build and push a linux/amd64 variant",
                )
            )
            return verdict
        document, kind = client.manifest(entry["digest"])
        verdict.media_types.append(kind)
    verdict.problems += layer_problems(document, kind)
    return verdict
