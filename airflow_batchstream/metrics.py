"""A finished job's phase times and final state as Airflow metrics, named under ``batchstream.``.

Sent through Airflow's ``Stats`` (see :func:`airflow_batchstream.compat.stats`), so they go
wherever the deployment sends Airflow's own metrics (StatsD, OpenTelemetry) and nowhere otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

#: Prefix of every metric this provider sends.
PREFIX = "batchstream.job"
#: Summary keys sent as timings, each as ``batchstream.job.<key>``.
TIMED_FIELDS = ("queued_seconds", "startup_seconds", "run_seconds")


def metric_tags(summary: Mapping[str, Any]) -> dict[str, str]:
    """
    Return the tags sent with a job's metrics: its region and whether it streamed its images.

    :param summary: the job's summary (:func:`airflow_batchstream.summary.summarize_job`).
    """
    region = summary["job_name"].split("/")[3]
    return {"region": region, "image_streaming": str(bool(summary.get("image_streaming"))).lower()}


def emit_job_metrics(summary: Mapping[str, Any]) -> list[str]:
    """
    Send ``batchstream.job.<phase>_seconds`` timings and a ``batchstream.job.state.<STATE>`` count.

    Phases the job never reached (``None``) are not sent. Return the names sent.

    :param summary: the job's summary (:func:`airflow_batchstream.summary.summarize_job`).
    """
    from airflow_batchstream.compat import stats

    backend = stats()
    tags = metric_tags(summary)
    sent = []
    for key in TIMED_FIELDS:
        seconds = summary.get(key)
        if seconds is not None:
            name = f"{PREFIX}.{key}"
            backend.timing(name, timedelta(seconds=seconds), tags=tags)
            sent.append(name)
    name = f"{PREFIX}.state.{summary['state']}"
    backend.incr(name, tags=tags)
    sent.append(name)
    return sent
