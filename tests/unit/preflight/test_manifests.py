"""Manifest reading: media types by field, header or shape; empty and duplicate layers; platforms."""

from __future__ import annotations

import hashlib

from manifest_documents import APP, DEBIAN_BASE, DOCKER_EMPTY, SCHEMA1_SIGNED, docker_v2, index, oci_manifest

from airflow_batchstream.preflight.manifests import (
    DOCKER_V1,
    DOCKER_V1_SIGNED,
    EMPTY_LAYER_DIGESTS,
    OCI_INDEX,
    OCI_MANIFEST,
    layer_problems,
    media_type,
    pick_platform,
)


def test_the_uncompressed_empty_layer_digest_is_the_sha256_of_an_empty_tar():
    assert "sha256:" + hashlib.sha256(b"\0" * 1024).hexdigest() in EMPTY_LAYER_DIGESTS


def test_schema1_is_recognised_by_header_or_shape_even_as_application_json():
    assert media_type(SCHEMA1_SIGNED, DOCKER_V1_SIGNED) == DOCKER_V1_SIGNED
    assert media_type(SCHEMA1_SIGNED, "application/json") == DOCKER_V1
    assert [p.rule for p in layer_problems(SCHEMA1_SIGNED, media_type(SCHEMA1_SIGNED))] == [
        "schema1-manifest"
    ]


def test_oci_documents_without_media_type_field_are_told_apart_by_shape():
    bare_index = {"schemaVersion": 2, "manifests": []}
    bare_manifest = {"schemaVersion": 2, "config": {}, "layers": []}
    assert media_type(bare_index) == OCI_INDEX
    assert media_type(bare_manifest) == OCI_MANIFEST


def test_one_finding_per_kind_with_the_layer_indexes():
    problems = layer_problems(
        docker_v2(DEBIAN_BASE, (DOCKER_EMPTY, 32), APP, APP, (DOCKER_EMPTY, 32)), media_type(docker_v2())
    )
    assert [p.rule for p in problems] == ["empty-layer", "duplicate-layer"]
    assert "layer(s) 1, 4 of 5" in problems[0].message
    assert "layer 3 repeats layer 2" in problems[1].message


def test_a_clean_image_has_no_problem_and_index_resolution_takes_linux_amd64_only():
    assert layer_problems(oci_manifest(DEBIAN_BASE, APP), OCI_MANIFEST) == []
    entries = [
        ("sha256:" + "a" * 64, 1, "linux", "arm64"),
        ("sha256:" + "b" * 64, 1, "unknown", "unknown"),
        ("sha256:" + "c" * 64, 1, "linux", "amd64"),
    ]
    assert pick_platform(index(entries))["digest"] == "sha256:" + "c" * 64
    assert pick_platform(index(entries[:2])) is None
