from __future__ import annotations

from urllib.parse import unquote

import pytest

from airflow_batchstream.urls import console_job_url, logs_explorer_url, split_job_name, task_log_filter

JOB = "projects/demo-project/locations/europe-west4/jobs/etl-load-1a2b"


def test_console_url_has_the_documented_form():
    assert console_job_url(JOB) == (
        "https://console.cloud.google.com/batch/jobsDetail/regions/europe-west4/jobs/etl-load-1a2b"
        "/details?project=demo-project"
    )


def test_logs_url_carries_the_job_uid_filter_encoded():
    url = logs_explorer_url(JOB, "etl-load-1a2b-9f8e-7d6c")
    prefix = "https://console.cloud.google.com/logs/query;query="
    assert url.startswith(prefix)
    assert url.endswith("?project=demo-project")
    query = unquote(url[len(prefix) : -len("?project=demo-project")])
    assert query == task_log_filter("demo-project", "etl-load-1a2b-9f8e-7d6c")
    assert query == (
        'logName="projects/demo-project/logs/batch_task_logs" AND labels.job_uid="etl-load-1a2b-9f8e-7d6c"'
    )
    assert ";" not in url[len(prefix) :].split("?")[0]  # the query cannot end the path segment early


def test_a_name_that_is_not_a_job_name_is_refused():
    assert split_job_name(JOB) == ("demo-project", "europe-west4", "etl-load-1a2b")
    with pytest.raises(ValueError, match="not a job name"):
        console_job_url("projects/p/locations/l/jobs")
