"""BatchStreamHook against the emulator: the real google-cloud-batch client over real gRPC."""

from __future__ import annotations

import time
import uuid

import pytest
from google.api_core import exceptions

from airflow_batchstream.hooks.batch import BatchStreamHook, job_path
from airflow_batchstream.spec import convenience_job, parse_job
from airflow_batchstream.validation.violations import ArgumentError

pytestmark = pytest.mark.integration

PROJECT, REGION = "test-project", "us-central1"
IMAGE = "us-central1-docker.pkg.dev/test-project/containers/debian:12"
FIRST_REQUEST = str(uuid.uuid4())


def _wait_for(hook, name, states, deadline=30.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        job = hook.get_job(name)
        if job.status.state.name in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"{name} never reached {states}; last {job.status.state.name}")


@pytest.fixture(params=["v1alpha", "v1"])
def hook(request, batch_emulator):
    return BatchStreamHook(api_version=request.param)


def _job(hook, **kwargs):
    return parse_job(
        convenience_job(image_uri=IMAGE, commands=["1"], entrypoint="sleep", **kwargs), hook.api_version
    )


def test_create_get_list_and_run_to_success(hook):
    created = hook.submit_job(
        job=_job(hook, task_count=2), job_id="hook-ok", region=REGION, project_id=PROJECT
    )
    assert created.name == job_path(PROJECT, REGION, "hook-ok")
    assert created.uid
    assert hook.get_job(created.name).uid == created.uid
    listed = hook.list_jobs(region=REGION, project_id=PROJECT)
    assert [job.name for job in listed] == [created.name]
    done = _wait_for(hook, created.name, {"SUCCEEDED", "FAILED"})
    assert done.status.state.name == "SUCCEEDED"
    assert len(hook.list_tasks(created.name)) == 2


def test_project_defaults_to_the_connections(hook):
    created = hook.submit_job(job=_job(hook), job_id="from-connection", region=REGION)
    assert created.name.startswith(f"projects/{hook.project_id}/")


def test_duplicate_id_is_already_exists_but_same_request_id_is_the_same_job(hook):
    first = hook.submit_job(
        job=_job(hook), job_id="dup", region=REGION, project_id=PROJECT, request_id=FIRST_REQUEST
    )
    again = hook.submit_job(
        job=_job(hook), job_id="dup", region=REGION, project_id=PROJECT, request_id=FIRST_REQUEST
    )
    assert again.uid == first.uid
    with pytest.raises(exceptions.AlreadyExists):
        hook.submit_job(
            job=_job(hook), job_id="dup", region=REGION, project_id=PROJECT, request_id=str(uuid.uuid4())
        )


def test_unknown_job_is_not_found_and_not_retried(hook, batch_emulator):
    batch_emulator.reset_counts()
    with pytest.raises(exceptions.NotFound):
        hook.get_job(job_path(PROJECT, REGION, "nobody"))
    assert batch_emulator.rpc_counts().get("GetJob") == 1


def test_malformed_id_is_refused_before_the_call(hook, batch_emulator):
    with pytest.raises(ArgumentError, match=r"job_id: \[bad-job-id\]"):
        hook.submit_job(job=_job(hook), job_id="Not_An_Id", region=REGION, project_id=PROJECT)
    assert batch_emulator.rpc_counts() == {}


def test_cancel_then_delete(hook):
    created = hook.submit_job(job=_job(hook), job_id="to-cancel", region=REGION, project_id=PROJECT)
    hook.cancel_job(created.name).result(timeout=30)
    assert _wait_for(hook, created.name, {"CANCELLED"}).status.state.name == "CANCELLED"
    hook.delete_job(created.name).result(timeout=30)
    with pytest.raises(exceptions.NotFound):
        _wait_for(hook, created.name, {"never"})


def test_listing_retries_a_transient_error_on_a_later_page(hook, batch_emulator):
    client = batch_emulator.client()
    job = (
        _job(hook)
        if hook.api_version == "v1alpha"
        else parse_job(convenience_job(image_uri=IMAGE), "v1alpha")
    )
    for index in range(150):  # the emulator's pages hold 100 jobs
        client.create_job(parent=f"projects/{PROJECT}/locations/{REGION}", job_id=f"paged-{index}", job=job)
    jobs = hook.iter_jobs(region=REGION, project_id=PROJECT, order_by="create_time desc")
    first_page = [next(jobs) for _ in range(100)]
    batch_emulator.reset_counts()
    batch_emulator.fail_next("ListJobs", "UNAVAILABLE")
    rest = list(jobs)
    assert batch_emulator.rpc_counts()["ListJobs"] == 2  # the failed second page, then its retry
    names = [job.name for job in first_page + rest]
    assert names == [job_path(PROJECT, REGION, f"paged-{index}") for index in range(149, -1, -1)]
