"""Artifact Registry image references: their shape, their location, and which job regions they serve.

Sources:
- Batch streams only Artifact Registry images, from a location that contains the job's VMs
  (https://cloud.google.com/batch/docs/use-image-streaming, "Limitations").
- Artifact Registry multi-regions are ``us``, ``europe`` and ``asia``
  (https://cloud.google.com/artifact-registry/docs/repositories/repo-locations; the authority is
  ``gcloud artifacts locations list``). Which regions each contains is not published per region;
  we map by prefix (``us-*`` → ``us``, ``europe-*`` → ``europe``, ``asia-*`` → ``asia``), so
  ``northamerica-*``, ``southamerica-*``, ``me-*``, ``africa-*`` and ``australia-*`` regions
  need a regional repository.
- gcr.io repositories hosted in Artifact Registry live in the multi-region of their host:
  ``gcr.io`` and ``us.gcr.io`` → ``us``, ``eu.gcr.io`` → ``europe``, ``asia.gcr.io`` → ``asia``,
  and are also reachable as ``LOCATION-docker.pkg.dev/PROJECT/HOST/IMAGE``
  (https://cloud.google.com/artifact-registry/docs/transition/gcr-repositories).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from airflow_batchstream.arguments import PROJECT_ID_PATTERN, REGION_PATTERN

MULTI_REGIONS = ("us", "europe", "asia")
#: gcr.io host → (Artifact Registry multi-region, repository name).
GCR_HOSTS = {
    "gcr.io": ("us", "gcr.io"),
    "us.gcr.io": ("us", "us.gcr.io"),
    "eu.gcr.io": ("europe", "eu.gcr.io"),
    "asia.gcr.io": ("asia", "asia.gcr.io"),
}
_AR_HOST = re.compile(r"(?P<location>[a-z0-9-]+)-docker\.pkg\.dev")
_REPOSITORY = re.compile(r"[a-z]([a-z0-9.-]*[a-z0-9])?")
_IMAGE_COMPONENT = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")


@dataclass(frozen=True)
class ImageRef:
    """
    A parsed Artifact Registry image reference.

    :param host: ``LOCATION-docker.pkg.dev`` (or a gcr.io host).
    :param location: the repository's region or multi-region.
    :param name: the repository path the registry API uses: ``PROJECT/REPOSITORY/IMAGE``.
    :param reference: the tag or ``sha256:`` digest (``latest`` when neither is given).
    """

    host: str
    location: str
    name: str
    reference: str


def multi_region_of(region: str) -> str | None:
    """
    Return the Artifact Registry multi-region containing a Batch region, if any.

    :param region: a region such as ``us-central1``.
    """
    prefix = region.split("-", 1)[0]
    return prefix if prefix in MULTI_REGIONS else None


def location_serves(location: str, region: str) -> bool:
    """
    Tell whether a repository in ``location`` can stream to jobs in ``region``.

    :param location: the repository's region or multi-region.
    :param region: the job's region.
    """
    return location == region or location == multi_region_of(region)


def split_reference(uri: str) -> tuple[str, str, str]:
    """
    Split ``host/path[:tag][@digest]`` into host, path and reference (tag or digest).

    :param uri: an image reference.
    """
    host, _, rest = uri.partition("/")
    if "@" in rest:
        rest, _, reference = rest.partition("@")
        rest = rest.rsplit(":", 1)[0] if ":" in rest.rsplit("/", 1)[-1] else rest
        return host, rest, reference
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, _, reference = rest.rpartition(":")
        return host, rest, reference
    return host, rest, "latest"


def is_docker_hub(uri: str) -> bool:
    """
    Tell whether a reference names Docker Hub (no registry host, such as ``busybox`` or ``library/x``).

    :param uri: an image reference.
    """
    first = uri.split("/", 1)[0]
    return "/" not in uri or not ("." in first or ":" in first or first == "localhost")


def path_problems(uri: str) -> list[str]:
    """
    Return what is wrong with the shape of an Artifact Registry reference (empty when nothing).

    :param uri: a reference on a ``*-docker.pkg.dev`` host.
    """
    host, path, reference = split_reference(uri)
    problems = []
    match = _AR_HOST.fullmatch(host)
    location = match.group("location") if match else ""
    if location not in MULTI_REGIONS and not REGION_PATTERN.fullmatch(location):
        problems.append(f"{location!r} is not an Artifact Registry region or multi-region")
    parts = path.split("/")
    if len(parts) < 3:
        return [*problems, "the path needs PROJECT/REPOSITORY/IMAGE"]
    project, repository, *image = parts
    if not PROJECT_ID_PATTERN.fullmatch(project):
        problems.append(f"{project!r} is not a project id")
    if not _REPOSITORY.fullmatch(repository):
        problems.append(f"{repository!r} is not a repository name")
    bad = [part for part in image if not _IMAGE_COMPONENT.fullmatch(part)]
    if bad:
        problems.append(f"{'/'.join(image)!r} is not an image name (lowercase letters, digits, . _ -)")
    if reference.startswith("sha256:") or "@" in uri:
        if not _DIGEST.fullmatch(reference):
            problems.append(f"{reference!r} is not a sha256 digest")
    elif not _TAG.fullmatch(reference):
        problems.append(f"{reference!r} is not a valid tag")
    return problems


def parse_artifact_registry(uri: str) -> ImageRef | None:
    """
    Parse a ``LOCATION-docker.pkg.dev`` or gcr.io reference; ``None`` for any other registry.

    :param uri: an image reference.
    """
    host, path, reference = split_reference(uri)
    match = _AR_HOST.fullmatch(host)
    if match:
        return ImageRef(host, match.group("location"), path, reference)
    if host in GCR_HOSTS:
        return ImageRef(host, GCR_HOSTS[host][0], path, reference)
    return None


def pkg_dev_equivalent(uri: str) -> str:
    """
    Return the ``LOCATION-docker.pkg.dev`` path of a gcr.io reference hosted in Artifact Registry.

    :param uri: a ``[us.|eu.|asia.]gcr.io/PROJECT/IMAGE`` reference.
    """
    host, _, rest = uri.partition("/")
    location, repository = GCR_HOSTS[host]
    project, _, image = rest.partition("/")
    return f"{location}-docker.pkg.dev/{project}/{repository}/{image}"
