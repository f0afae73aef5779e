"""``preflight="warn"`` never crashes on an odd answer: it becomes ``preflight-unavailable``."""

from __future__ import annotations

import pytest
from security_helpers import GOOD_MANIFEST, IMAGE, MANIFEST_PATH, SERVICE_PATH, json_reply

from airflow_batchstream.preflight import run_preflight

pytestmark = pytest.mark.integration
IMAGES = [("task_groups[0].task_spec.runnables[0].container.image_uri", IMAGE)]
HTML = (200, {"Content-Type": "text/html"}, b"<html><body>Sign in</body></html>")


def _findings(capture) -> dict[str, str]:
    capture.routes.setdefault(SERVICE_PATH, lambda headers: json_reply({"state": "ENABLED"}))
    return {f.subject: f.rule for f in run_preflight(IMAGES, "demo-project", None, mode="warn")}


def test_an_html_answer_from_the_token_endpoint(capture, discovery):
    challenge = f'Bearer realm="{capture.url}/token",service="x"'
    capture.routes[MANIFEST_PATH] = lambda headers: json_reply({}, 401, {"WWW-Authenticate": challenge})
    capture.routes["/token"] = lambda headers: HTML
    assert _findings(capture) == {IMAGE: "preflight-unavailable"}


def test_an_html_answer_from_service_usage(capture, discovery):
    capture.routes[MANIFEST_PATH] = lambda headers: json_reply(GOOD_MANIFEST)
    capture.routes[SERVICE_PATH] = lambda headers: HTML
    assert _findings(capture) == {"project demo-project": "preflight-unavailable"}


@pytest.mark.parametrize(
    "document",
    [
        [GOOD_MANIFEST],
        {**GOOD_MANIFEST, "layers": ["sha256:1", "sha256:2"]},
        {"mediaType": "application/vnd.oci.image.index.v1+json", "manifests": ["sha256:1"]},
        {**GOOD_MANIFEST, "layers": [{"digest": 7, "size": "big"}]},
    ],
    ids=["a-list", "string-layers", "string-index-entries", "wrong-field-types"],
)
def test_a_malformed_manifest(capture, discovery, document):
    capture.routes[MANIFEST_PATH] = lambda headers: json_reply(document)
    assert _findings(capture) == {IMAGE: "preflight-unavailable"}
