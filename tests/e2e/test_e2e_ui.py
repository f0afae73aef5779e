"""The Airflow UI in a real browser: a finished Batch task's page, its log and its links."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest
from airflow_deployment import USERNAME
from browser import CHROMIUM, chromium_page, log_in

# The first test also starts the deployment and the last one stops it: generous per-test limits.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

DAG_ID = "example_image_streaming_simple"
TASK_ID = "sleep_in_streamed_debian"
ARTIFACTS = Path(__file__).parents[2] / "artifacts" / "e2e"


def test_task_instance_page_shows_the_job(airflow):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)")
    api = airflow.api
    api.wait_for_dag(DAG_ID)
    api.unpause(DAG_ID)
    run_id = api.trigger(DAG_ID)
    assert api.wait_for_run(DAG_ID, run_id, timeout=180) == "success", airflow.diagnostics()
    summary = api.xcom(DAG_ID, run_id, TASK_ID)
    links = api.links(DAG_ID, run_id, TASK_ID)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with chromium_page() as page:
        log_in(page, airflow.base_url, USERNAME, airflow.password)
        page.goto(f"{airflow.base_url}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/tasks/{TASK_ID}")
        submitted = page.get_by_text(f"Submitted Batch job {summary['job_name']}")
        submitted.wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "task_instance.png"))
        assert page.get_by_text("BatchStreamSubmitJobOperator").first.is_visible()
        assert page.get_by_text("Success").first.is_visible()
        # The extra links ("Extra Links" buttons) are on the task instance's Details tab.
        page.get_by_text("Details", exact=True).click()
        page.get_by_text("Extra Links").wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "task_instance_details.png"))
        for name, url in links.items():
            anchor = page.get_by_role("link", name=name, exact=True)
            assert anchor.get_attribute("href") == url
