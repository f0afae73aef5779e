"""Read image manifests: which kind they are, which layers they have, and what streaming refuses.

Sources:
- Docker Image Manifest V2 Schema 2 and manifest lists:
  https://distribution.github.io/distribution/spec/manifest-v2-2/
- Schema 1 (``schemaVersion: 1``, ``fsLayers[].blobSum``, signed ``+prettyjws``):
  https://github.com/distribution/distribution/blob/main/docs/spec/manifest-v2-1.md
- OCI image manifest and index: https://github.com/opencontainers/image-spec (manifest.md,
  image-index.md); an index entry's ``platform`` has ``os`` and ``architecture``.
- Batch refuses schema 1, empty layers and duplicate layers:
  https://cloud.google.com/batch/docs/use-image-streaming ("Limitations").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_V1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
#: Sent on every manifest request: a registry that is not told it may answer v2/OCI can down-convert
#: to schema 1 (distribution spec, "Backward compatibility").
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_V2))
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
SCHEMA1_TYPES = frozenset({DOCKER_V1, DOCKER_V1_SIGNED})
#: Layers that hold an empty filesystem change:
#: - gzip of an empty tar as the Docker engine writes it (32 bytes; the "v2 Blob" of every no-op
#:   instruction in images converted from schema 1, see docker-library/repo-info);
#: - gzip of an empty tar as BuildKit/containerd write it (32 bytes);
#: - the empty tar itself, 1024 zero bytes, uncompressed (its sha256 is also the diff id of both).
EMPTY_LAYER_DIGESTS = frozenset(
    {
        "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4",
        "sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1",
        "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
    }
)
PLATFORM = ("linux", "amd64")


@dataclass(frozen=True)
class Problem:
    """
    One reason an image cannot stream.

    :param rule: ``schema1-manifest``, ``empty-layer``, ``duplicate-layer``, ``no-linux-amd64``
        or ``unknown-manifest``.
    :param message: what is wrong.
    :param hint: what to do.
    """

    rule: str
    message: str
    hint: str


def malformed(document: Any) -> str | None:
    """
    Say why a parsed answer cannot be a manifest or an index, or return ``None`` when its shape is fine.

    :param document: the parsed JSON answer.
    """
    if not isinstance(document, dict):
        return f"a JSON {type(document).__name__}, not an object"
    if not isinstance(document.get("mediaType", ""), str):
        return "mediaType is not a string"
    for key in ("layers", "manifests", "fsLayers"):
        items = document.get(key, [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            return f"{key} is not a list of objects"
    for entry in document.get("manifests", []):
        if not isinstance(entry.get("digest"), str) or not isinstance(entry.get("platform", {}), dict):
            return "an index entry has no digest or a platform that is not an object"
    for layer in document.get("layers", []):
        if not isinstance(layer.get("digest", ""), str) or not isinstance(layer.get("size", 0), int):
            return "a layer's digest or size has the wrong type"
    return None


def media_type(document: dict[str, Any], content_type: str = "") -> str:
    """
    Return a manifest's media type: its ``mediaType`` field, else the response's, else by shape.

    :param document: the parsed manifest.
    :param content_type: the ``Content-Type`` the registry answered with.
    """
    declared = document.get("mediaType") or content_type.split(";")[0].strip()
    if document.get("schemaVersion") == 1 or "fsLayers" in document:
        return declared if declared in SCHEMA1_TYPES else DOCKER_V1
    if declared and declared != "application/json":
        return declared
    return OCI_INDEX if "manifests" in document else OCI_MANIFEST


def pick_platform(index: dict[str, Any]) -> dict[str, Any] | None:
    """
    Return the index entry for linux/amd64 (Batch VMs are x86-64), or ``None``.

    :param index: a manifest list or OCI index.
    """
    for entry in index.get("manifests") or []:
        platform = entry.get("platform") or {}
        if (platform.get("os"), platform.get("architecture")) == PLATFORM:
            return entry
    return None


def layer_problems(document: dict[str, Any], kind: str) -> list[Problem]:
    """
    Return the problems of one image manifest (not an index): schema 1, empty or duplicate layers.

    :param document: the parsed manifest.
    :param kind: its media type, from :func:`media_type`.
    """
    if kind in SCHEMA1_TYPES:
        return [
            Problem(
                "schema1-manifest",
                "the image has a Docker manifest v2 schema 1, which Batch does not stream",
                "rebuild and push it with a current Docker or BuildKit (schema 2 / OCI manifest)",
            )
        ]
    if kind not in (DOCKER_V2, OCI_MANIFEST):
        return [
            Problem("unknown-manifest", f"the manifest has media type {kind!r}", "push a container image")
        ]
    layers = document.get("layers") or []
    out = []
    empty = [
        index
        for index, layer in enumerate(layers)
        if layer.get("digest") in EMPTY_LAYER_DIGESTS or layer.get("size") == 0
    ]
    if empty:
        out.append(
            Problem(
                "empty-layer",
                f"layer(s) {', '.join(map(str, empty))} of {len(layers)} are empty "
                f"({layers[empty[0]].get('digest')}, {layers[empty[0]].get('size')} bytes)",
                "rebuild without the no-op layers (a current Docker/BuildKit writes none)",
            )
        )
    seen: dict[str, int] = {}
    for index, layer in enumerate(layers):
        digest = layer.get("digest", "")
        if digest in seen and index not in empty:
            out.append(
                Problem(
                    "duplicate-layer",
                    f"layer {index} repeats layer {seen[digest]} ({digest})",
                    "rebuild so that no layer is repeated (e.g. squash the repeated step)",
                )
            )
        seen.setdefault(digest, index)
    return out


def image_size(document: dict[str, Any]) -> int:
    """
    Return the sum of an image manifest's layer sizes, in bytes.

    :param document: a schema 2 or OCI image manifest.
    """
    return sum(int(layer.get("size") or 0) for layer in document.get("layers") or [])
