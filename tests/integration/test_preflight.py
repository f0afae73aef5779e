"""Preflight over real HTTP against the emulator's registry v2 and Service Usage endpoints."""

from __future__ import annotations

import json

import pytest
from manifest_documents import (
    APP,
    BUILDKIT_EMPTY,
    DEBIAN_BASE,
    DOCKER_EMPTY,
    PY_DEPS,
    SCHEMA1_SIGNED,
    docker_v2,
    index,
    oci_manifest,
)

from airflow_batchstream.hooks.batch import BatchStreamHook
from airflow_batchstream.preflight import PreflightError, clear_cache

pytestmark = pytest.mark.integration

REPO = "us-central1-docker.pkg.dev/demo-project/containers"


@pytest.fixture
def store(batch_emulator):
    clear_cache()
    yield batch_emulator.registry.store
    clear_cache()


def streaming_job(image: str) -> dict:
    return {
        "taskGroups": [
            {"taskSpec": {"runnables": [{"container": {"imageUri": image, "enableImageStreaming": True}}]}}
        ]
    }


def preflight(image: str, mode: str = "warn", project_id: str = "demo-project") -> list:
    return BatchStreamHook().preflight(streaming_job(image), "us-central1", project_id=project_id, mode=mode)


def register_index(store, name: str, children: list[tuple[dict, str, str]], docker_list: bool = False) -> str:
    entries = []
    for document, os, arch in children:
        body = json.dumps(document, indent=3).encode()
        digest = store.add_image(f"{REPO}/{name}:{os}-{arch}", body)
        entries.append((digest, len(body), os, arch))
    store.add_image(f"{REPO}/{name}:1", index(entries, docker_list=docker_list))
    return f"{REPO}/{name}:1"


BAD_KINDS = [
    (
        "schema1-signed",
        lambda s: s.add_image(f"{REPO}/legacy:1", SCHEMA1_SIGNED),
        "legacy:1",
        "schema1-manifest",
    ),
    (
        "docker-empty-layer",
        lambda s: s.add_image(f"{REPO}/e:1", docker_v2(DEBIAN_BASE, (DOCKER_EMPTY, 32), APP)),
        "e:1",
        "empty-layer",
    ),
    (
        "oci-buildkit-empty-layer",
        lambda s: s.add_image(f"{REPO}/o:1", oci_manifest(DEBIAN_BASE, (BUILDKIT_EMPTY, 32))),
        "o:1",
        "empty-layer",
    ),
    (
        "zero-size-layer",
        lambda s: s.add_image(f"{REPO}/z:1", docker_v2(DEBIAN_BASE, ("sha256:" + "0f" * 32, 0))),
        "z:1",
        "empty-layer",
    ),
    (
        "docker-duplicate-layer",
        lambda s: s.add_image(f"{REPO}/d:1", docker_v2(DEBIAN_BASE, APP, APP)),
        "d:1",
        "duplicate-layer",
    ),
    (
        "oci-duplicate-layer",
        lambda s: s.add_image(f"{REPO}/od:1", oci_manifest(PY_DEPS, DEBIAN_BASE, PY_DEPS)),
        "od:1",
        "duplicate-layer",
    ),
    (
        "index-amd64-child-duplicate",
        lambda s: register_index(
            s,
            "multi",
            [(oci_manifest(DEBIAN_BASE), "linux", "arm64"), (oci_manifest(APP, APP), "linux", "amd64")],
        ),
        "multi:1",
        "duplicate-layer",
    ),
    (
        "manifest-list-arm-only",
        lambda s: register_index(s, "arm", [(docker_v2(DEBIAN_BASE), "linux", "arm64")], docker_list=True),
        "arm:1",
        "no-linux-amd64",
    ),
]


@pytest.mark.parametrize(("name", "register", "image", "rule"), BAD_KINDS, ids=[k[0] for k in BAD_KINDS])
def test_each_bad_manifest_kind_is_refused(store, name, register, image, rule):
    register(store)
    with pytest.raises(PreflightError) as raised:
        preflight(f"{REPO}/{image}")
    assert [f.rule for f in raised.value.findings] == [rule]
    assert raised.value.findings[0].path == "task_groups[0].task_spec.runnables[0].container.image_uri"


@pytest.mark.parametrize(
    "register",
    [
        lambda s: s.add_image(f"{REPO}/good:1", docker_v2(DEBIAN_BASE, PY_DEPS, APP)),
        lambda s: s.add_image(f"{REPO}/good:1", oci_manifest(DEBIAN_BASE, PY_DEPS)),
        lambda s: register_index(
            s,
            "good",
            [(oci_manifest(APP, APP), "linux", "arm64"), (oci_manifest(DEBIAN_BASE, APP), "linux", "amd64")],
        ),
    ],
    ids=["docker-schema2", "oci-manifest", "oci-index-resolved-to-amd64"],
)
def test_a_good_image_passes_through_the_token_handshake(store, register):
    register(store)
    assert preflight(f"{REPO}/good:1") == []
    assert store.counts["token"] >= 1  # every manifest request first met a Bearer challenge


def test_a_missing_image_is_refused_when_the_registry_does_not_invent_it(store):
    store.synthesize_unknown = False
    with pytest.raises(PreflightError, match="image-not-found"):
        preflight(f"{REPO}/nowhere:1")


def test_a_disabled_api_names_the_enable_command(store):
    store.set_service("other-project", "containerfilesystem.googleapis.com", enabled=False)
    with pytest.raises(PreflightError) as raised:
        preflight(f"{REPO}/debian:12", project_id="other-project")
    (finding,) = raised.value.findings
    assert finding.rule == "api-disabled"
    assert "gcloud services enable containerfilesystem.googleapis.com --project=other-project" in str(
        raised.value
    )


def test_a_permission_error_only_warns_unless_strict(store, capfd):
    store.deny(f"{REPO}/private")
    store.deny_service_usage("demo-project")
    warnings = preflight(f"{REPO}/private/app:1")
    assert [f.rule for f in warnings] == ["preflight-unavailable", "preflight-unavailable"]
    logged = "".join(capfd.readouterr())
    assert "HTTP 403" in logged and "roles/artifactregistry.reader" in logged
    with pytest.raises(PreflightError, match="preflight-unavailable"):
        preflight(f"{REPO}/private/app:1", mode="strict")


def test_passing_checks_are_cached_for_the_process(store):
    store.add_image(f"{REPO}/cached:1", docker_v2(DEBIAN_BASE, APP))
    preflight(f"{REPO}/cached:1")
    before = dict(store.counts)
    preflight(f"{REPO}/cached:1")
    assert dict(store.counts) == before


def test_the_store_reports_image_sizes_for_the_start_up_model(store):
    store.add_image(f"{REPO}/sized:1", docker_v2(DEBIAN_BASE, PY_DEPS, APP))
    register_index(
        store,
        "sized-multi",
        [(oci_manifest(APP), "linux", "arm64"), (oci_manifest(DEBIAN_BASE, PY_DEPS), "linux", "amd64")],
    )
    assert store.image_size(f"{REPO}/sized:1") == DEBIAN_BASE[1] + PY_DEPS[1] + APP[1]
    assert store.image_size(f"{REPO}/sized-multi:1") == DEBIAN_BASE[1] + PY_DEPS[1]
    assert store.image_size(f"{REPO}/legacy:1") is None


def test_the_cli_emulator_is_found_through_its_discovery_method(monkeypatch):
    from airflow_batchstream.emulator.process import EmulatorProcess
    from airflow_batchstream.emulator.pytest_plugin import DEFAULT_CONNECTION_ENV, EMULATOR_CONNECTION

    clear_cache()
    monkeypatch.setenv(DEFAULT_CONNECTION_ENV, EMULATOR_CONNECTION)
    with EmulatorProcess() as process:
        monkeypatch.setenv("BATCH_EMULATOR_HOST", process.address)
        from airflow_batchstream.preflight.http import emulator_http_endpoint

        assert emulator_http_endpoint().startswith("http://127.0.0.1:")
        assert preflight(f"{REPO}/debian:12") == []


def test_the_emulator_start_up_model_reads_sizes_from_the_registry(batch_emulator, store):
    store.add_image(f"{REPO}/big:1", docker_v2(DEBIAN_BASE, PY_DEPS))
    assert batch_emulator.engine.images.size(f"{REPO}/big:1") == DEBIAN_BASE[1] + PY_DEPS[1]


def test_an_emulator_restarted_on_the_same_port_is_found_again(monkeypatch):
    from airflow_batchstream.emulator import BatchEmulator
    from airflow_batchstream.emulator.pytest_plugin import DEFAULT_CONNECTION_ENV, EMULATOR_CONNECTION
    from airflow_batchstream.preflight.http import emulator_http_endpoint

    monkeypatch.setenv(DEFAULT_CONNECTION_ENV, EMULATOR_CONNECTION)
    with BatchEmulator("127.0.0.1", 0) as first:
        monkeypatch.setenv("BATCH_EMULATOR_HOST", first.address)
        first_http = emulator_http_endpoint()
        port = first.port
    with BatchEmulator("127.0.0.1", port) as second:
        # Same gRPC address, new HTTP server: the preflight must ask again, not reuse the old port.
        assert emulator_http_endpoint() != first_http
        clear_cache()
        assert preflight(f"{REPO}/debian:12") == []
        assert second.registry.store.counts
