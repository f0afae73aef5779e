"""The docker runtime: no image read as a flag, no value in ``ps``; the pass cache is scoped and bounded."""

from __future__ import annotations

import os
import stat

import pytest
from google.cloud import batch_v1alpha

from airflow_batchstream.emulator.runtime import EngineRuntime
from airflow_batchstream.emulator.server import BatchEmulator
from airflow_batchstream.preflight import run_preflight

pytestmark = pytest.mark.integration
IMAGE = "us-central1-docker.pkg.dev/demo-project/containers/app:1"
IMAGES = [("task_groups[0].task_spec.runnables[0].container.image_uri", IMAGE)]


def _command(image: str, env: dict[str, str]):
    container = batch_v1alpha.Runnable.Container.pb()(image_uri=image, commands=["echo", "hi"])
    return EngineRuntime("docker").command(container, env)


def test_an_image_named_like_a_flag_is_not_read_as_one():
    with _command("--privileged", {}) as argv:
        assert argv[argv.index("--") + 1 :] == ["--privileged", "echo", "hi"]


def test_variables_go_through_a_private_env_file_not_the_command_line():
    with _command(IMAGE, {"API_KEY": "s3cr3t"}) as argv:
        assert "s3cr3t" not in " ".join(argv) and "-e" not in argv
        path = argv[argv.index("--env-file") + 1]
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path) as handle:
            assert handle.read() == "API_KEY=s3cr3t\n"
    assert not os.path.exists(path)


def test_the_pass_cache_is_keyed_by_endpoint(monkeypatch):
    with BatchEmulator() as open_registry, BatchEmulator() as denying:
        denying.registry.store.deny("us-central1-docker.pkg.dev/demo-project/containers")
        monkeypatch.setenv("BATCH_EMULATOR_HOST", open_registry.address)
        assert run_preflight(IMAGES, "demo-project", None) == []
        monkeypatch.setenv("BATCH_EMULATOR_HOST", denying.address)
        assert {f.rule for f in run_preflight(IMAGES, "demo-project", None)} == {"preflight-unavailable"}


@pytest.mark.usefixtures("allow_google_calls")  # the cache key of real Google calls, without an emulator
def test_the_pass_cache_is_keyed_by_identity():
    from airflow_batchstream.preflight import _identity

    class Account:
        def __init__(self, email: str) -> None:
            self.service_account_email = email

    assert _identity(Account("a@p.iam.gserviceaccount.com"), "t") != _identity(
        Account("b@p.iam.gserviceaccount.com"), "t"
    )
    assert _identity(None, "token-1") != _identity(None, "token-2")


def test_the_pass_cache_is_bounded_and_expires():
    from airflow_batchstream import preflight

    assert preflight._passed.maxsize == preflight.MAX_PASSES
    assert preflight._passed.ttl == preflight.PASS_SECONDS
    for n in range(preflight.MAX_PASSES + 10):
        preflight._remember(("e", "i", "image", f"img-{n}"))
    assert len(preflight._passed) <= preflight.MAX_PASSES
    preflight.clear_cache()
