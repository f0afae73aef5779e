"""No real credential leaves for an emulator or a stranger's host; discovery and realms are pinned."""

from __future__ import annotations

import pytest
from security_helpers import (
    GOOD_MANIFEST,
    IMAGE,
    MANIFEST_PATH,
    SECRET_TOKEN,
    SERVICE_PATH,
    FakeDiscovery,
    SpyCredentials,
    json_reply,
)

from airflow_batchstream.preflight import run_preflight

pytestmark = pytest.mark.integration
IMAGES = [("task_groups[0].task_spec.runnables[0].container.image_uri", IMAGE)]


def _registry_with_handshake(capture, realm: str) -> None:
    def manifest(headers):
        if headers.get("authorization") == "Bearer registry-token":
            return json_reply(GOOD_MANIFEST)
        challenge = f'Bearer realm="{realm}",service="us-central1-docker.pkg.dev",scope="repository:x:pull"'
        return json_reply({"errors": []}, 401, {"WWW-Authenticate": challenge})

    capture.routes[MANIFEST_PATH] = manifest
    capture.routes["/token"] = lambda headers: json_reply({"token": "registry-token"})
    capture.routes[SERVICE_PATH] = lambda headers: json_reply({"state": "ENABLED"})


def test_emulator_mode_never_fetches_or_sends_real_credentials(capture, discovery):
    _registry_with_handshake(capture, f"{capture.url}/token")
    credentials = SpyCredentials()
    assert run_preflight(IMAGES, "demo-project", credentials) == []
    assert credentials.refreshes == 0
    assert SECRET_TOKEN not in capture.all_headers()
    assert not any(seen.headers.get("authorization", "").startswith("Basic") for seen in capture.seen)
    assert [seen.path.partition("?")[0] for seen in capture.seen] == [
        MANIFEST_PATH,
        "/token",
        MANIFEST_PATH,
        SERVICE_PATH,
    ]


def test_the_hook_reads_no_credentials_in_emulator_mode(capture, discovery, monkeypatch):
    from airflow_batchstream.hooks.batch import BatchStreamHook

    _registry_with_handshake(capture, f"{capture.url}/token")
    monkeypatch.setenv(
        "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT",
        '{"conn_type": "google_cloud_platform", "extra": {"project": "demo-project", '
        '"key_path": "/nonexistent/key.json"}}',
    )
    job = {
        "taskGroups": [
            {"taskSpec": {"runnables": [{"container": {"imageUri": IMAGE, "enableImageStreaming": True}}]}}
        ]
    }
    assert BatchStreamHook().preflight(job, region="us-central1") == []


def test_a_discovery_reply_naming_another_host_is_refused(capture, monkeypatch):
    fake = FakeDiscovery(b'{"http": "http://collector.invalid:8080"}')
    monkeypatch.setenv("BATCH_EMULATOR_HOST", fake.address)
    try:
        findings = run_preflight(IMAGES, "demo-project", None)
    finally:
        fake.stop()
    assert {f.rule for f in findings} == {"preflight-unavailable"}
    assert all("refused" in f.message and "collector.invalid" in f.message for f in findings), findings


def test_a_token_realm_on_another_host_is_not_followed(capture, discovery):
    _registry_with_handshake(capture, "http://collector.invalid/token")
    (finding,) = [f for f in run_preflight(IMAGES, "demo-project", None) if f.subject == IMAGE]
    assert finding.rule == "preflight-unavailable"
    assert "refused" in finding.message and "collector.invalid" in finding.message


@pytest.mark.parametrize(
    ("realm", "allowed"),
    [
        ("https://us-central1-docker.pkg.dev/v2/token", True),
        ("https://oauth2.googleapis.com/token", True),
        ("http://us-central1-docker.pkg.dev/v2/token", False),
        ("https://collector.example/token", False),
        ("https://us-central1-docker.pkg.dev.collector.example/token", False),
        ("https://user:pw@us-central1-docker.pkg.dev/v2/token", False),
        ("file:///etc/passwd", False),
    ],
)
@pytest.mark.usefixtures("allow_google_calls")  # the rule for Google's real hosts, without an emulator
def test_a_realm_is_followed_only_over_https_to_the_registry_or_google(monkeypatch, realm, allowed):
    from airflow_batchstream.preflight.registry import realm_allowed

    monkeypatch.delenv("BATCH_EMULATOR_HOST", raising=False)
    assert realm_allowed(realm, "us-central1-docker.pkg.dev") is allowed


def test_in_emulator_mode_a_realm_must_be_loopback(monkeypatch):
    from airflow_batchstream.preflight.registry import realm_allowed

    monkeypatch.setenv("BATCH_EMULATOR_HOST", "127.0.0.1:1")
    assert realm_allowed("http://127.0.0.1:9/v2/token", "us-central1-docker.pkg.dev")
    assert not realm_allowed("https://us-central1-docker.pkg.dev/v2/token", "us-central1-docker.pkg.dev")


def test_a_token_request_does_not_follow_redirects(capture, discovery):
    _registry_with_handshake(capture, f"{capture.url}/token")
    capture.routes["/token"] = lambda headers: (302, {"Location": f"{capture.url}/elsewhere"}, b"")
    capture.routes["/elsewhere"] = lambda headers: json_reply({"token": "registry-token"})
    (finding,) = [f for f in run_preflight(IMAGES, "demo-project", None) if f.subject == IMAGE]
    assert finding.rule == "preflight-unavailable"
    assert "/elsewhere" not in [seen.path.partition("?")[0] for seen in capture.seen]
