"""Real-shaped manifest documents for the emulator's registry.

Shapes follow the specifications and real registry output: Docker schema 2 and manifest list
(https://distribution.github.io/distribution/spec/manifest-v2-2/), signed schema 1 (the
``hello-world`` example of distribution's ``docs/spec/manifest-v2-1.md``), OCI manifest and index
(https://github.com/opencontainers/image-spec, ``manifest.md`` / ``image-index.md``, with the
``unknown/unknown`` attestation entry BuildKit adds). Empty layers: the Docker engine's gzipped
empty tar (``a3ed95ca...``, 32 bytes), BuildKit's (``4f4fb700...``, 32 bytes), a zero-size layer.
"""

from __future__ import annotations

from typing import Any

DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_EMPTY = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"
BUILDKIT_EMPTY = "sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1"
DEBIAN_BASE = ("sha256:cd0a524342efac6edff500c17e625735bbe479c926439b263bbe3c8518a0849c", 52_550_276)
PY_DEPS = ("sha256:57de64c72267e88e952b064236cb906c7626f7c07a1a2d5900cf6953e72632b3", 18_529_983)
APP = ("sha256:cd1fc1696ecd26a5941dda9fb149af093b44010744b855d220fc44264a5a0f15", 566_962)


def _manifest(
    kind: str, config: tuple[str, int, str], layer_type: str, layers: tuple[tuple[str, int], ...]
) -> dict:
    config_type, config_size, config_digest = config
    return {
        "schemaVersion": 2,
        "mediaType": kind,
        "config": {"mediaType": config_type, "size": config_size, "digest": config_digest},
        "layers": [{"mediaType": layer_type, "size": size, "digest": digest} for digest, size in layers],
    }


def docker_v2(*layers: tuple[str, int]) -> dict[str, Any]:
    """
    Return a Docker image manifest v2 schema 2.

    :param layers: ``(digest, size)`` of each layer.
    """
    config = (
        "application/vnd.docker.container.image.v1+json",
        7023,
        "sha256:054abe38b1e6f863befa4258cbfaf127b1cc9440d2e2e349b15d22e676b591e7",
    )
    return _manifest("application/vnd.docker.distribution.manifest.v2+json", config, DOCKER_LAYER, layers)


def oci_manifest(*layers: tuple[str, int]) -> dict[str, Any]:
    """
    Return an OCI image manifest as BuildKit pushes it (with its creation annotation).

    :param layers: ``(digest, size)`` of each layer.
    """
    config = (
        "application/vnd.oci.image.config.v1+json",
        2297,
        "sha256:6d1ef012b5674ad8a127ecfa9b5e6f5178d171b90ee462846974177fd9bdd39f",
    )
    document = _manifest("application/vnd.oci.image.manifest.v1+json", config, OCI_LAYER, layers)
    document["annotations"] = {"org.opencontainers.image.created": "2026-11-02T10:14:03Z"}
    return document


def index(entries: list[tuple[str, int, str, str]], *, docker_list: bool = False) -> dict[str, Any]:
    """
    Return an OCI image index (or a Docker manifest list) over registered manifests.

    :param entries: ``(digest, size, os, architecture)`` of each manifest.
    :param docker_list: a Docker manifest list instead of an OCI index.
    """
    child = (
        "application/vnd.docker.distribution.manifest.v2+json"
        if docker_list
        else "application/vnd.oci.image.manifest.v1+json"
    )
    return {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json"
        if docker_list
        else "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": child, "size": size, "digest": digest, "platform": {"architecture": arch, "os": os}}
            for digest, size, os, arch in entries
        ],
    }


#: Signed schema 1: the hello-world example of the distribution spec (history trimmed to ids).
SCHEMA1_SIGNED: dict[str, Any] = {
    "name": "demo-project/containers/legacy",
    "tag": "1",
    "architecture": "amd64",
    "fsLayers": [
        {"blobSum": "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"},
        {"blobSum": "sha256:cc8567d70002e957612902a8e985ea129d831ebe04057d88fb644857caa45d11"},
    ],
    "history": [
        {
            "v1Compatibility": '{"id":"e45a5af57b00862e5ef5782a9925979a02ba2b12dff832fd0991335f4a11e5c5",'
            '"parent":"31cbccb51277105ba3ae35ce33c22b69c9e3f1002e76e4c736a2e8ebff9d7b5d","Size":0}'
        },
        {
            "v1Compatibility": '{"id":"31cbccb51277105ba3ae35ce33c22b69c9e3f1002e76e4c736a2e8ebff9d7b5d",'
            '"Size":910}'
        },
    ],
    "schemaVersion": 1,
    "signatures": [
        {
            "header": {
                "jwk": {
                    "crv": "P-256",
                    "kid": "OD6I:6DRK:JXEJ:KBM4:255X:NSAA:MUSF:E4VM:ZI6W:CUN2:L4Z6:LSF4",
                    "kty": "EC",
                    "x": "3gAwX48IQ5oaYQAYSxor6rYYc_6yjuLCjtQ9LUakg4A",
                    "y": "t72ge6kIA1XOjqjVoEOiPPAURltJFBMGDSQvEGVB010",
                },
                "alg": "ES256",
            },
            "signature": "XREm0L8WNn27Ga_iE_vRnTxVMhhYY0Zst_FfkKopg6gWSoTOZTuW4rK0fg_IqnKkEKlbD83tD46L"
            "KEGi5aIVFg",
            "protected": "eyJmb3JtYXRMZW5ndGgiOjY2MjgsImZvcm1hdFRhaWwiOiJDbjAiLCJ0aW1lIjoiMjAxNS0wNC0w"
            "OFQxODo1Mjo1OVoifQ",
        }
    ],
}
