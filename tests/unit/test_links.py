"""The extra links read their URL from XCom; a task that stored none has no link, not an error."""

from __future__ import annotations

import httpx
import pytest

from airflow_batchstream.links.batch import BatchStreamJobLink, BatchStreamJobLogsLink


@pytest.mark.parametrize("link", [BatchStreamJobLink(), BatchStreamJobLogsLink()], ids=lambda link: link.name)
def test_a_missing_xcom_answered_with_an_error_gives_no_link(link, monkeypatch):
    # Airflow 3.1's execution API answers a missing XCom with 404, which its client raises; its task
    # runner then asks every extra link of a task that failed before its job was submitted.
    from airflow.sdk.api.client import ServerResponseError
    from airflow.sdk.execution_time.xcom import XCom

    request = httpx.Request("GET", "http://execution-api/xcoms/d/r/t/key")
    response = httpx.Response(404, request=request, json={"detail": "XCom not found"})

    def missing(**_):
        raise ServerResponseError("Server returned error", request=request, response=response)

    monkeypatch.setattr(XCom, "get_value", missing)
    assert link.get_link(operator=None, ti_key=None) == ""


@pytest.mark.parametrize("stored", [None, "https://console.cloud.google.com/batch/jobs"])
def test_the_stored_url_or_nothing(stored, monkeypatch):
    from airflow.sdk.execution_time.xcom import XCom

    monkeypatch.setattr(XCom, "get_value", lambda **_: stored)
    assert BatchStreamJobLink().get_link(operator=None, ti_key=None) == (stored or "")
