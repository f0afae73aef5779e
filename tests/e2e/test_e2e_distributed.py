"""The distributed engine: deferred tasks spread over two triggerers, one of them killed mid-wait.

Runs on the ``celery`` deployment only (two triggerers). ``E2E_DEFERRED_TASKS`` sets how many
deferred task instances (default 500; CI runs fewer).
"""

from __future__ import annotations

import os
import time

import pytest
from e2e_helpers import PARENT, TERMINAL, TI_STATE_OF_JOB, mapped_instances, wait_until

from airflow_batchstream.spec import label_value

TOTAL = int(os.environ.get("E2E_DEFERRED_TASKS", "500"))
# Deferring costs each task instance a task process: the limits grow with the count.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900 + 15 * TOTAL)]

DAG_ID = "e2e_many_deferred"
#: Seconds over which the region's reads are counted while every job waits in the queue.
READS_WINDOW = 30.0
#: The DAG's poll interval, seconds.
POLL_INTERVAL = 2.0


def test_triggerer_killed_under_hundreds_of_deferred_tasks(airflow, batch_client, emulator_control):
    if len(airflow.triggerers) < 2:
        pytest.skip(f"the {airflow.shape} deployment runs one triggerer")
    total = TOTAL
    failing = [i for i in range(total) if i % 13 == 4]
    api = airflow.api
    api.wait_for_dag(DAG_ID)
    api.unpause(DAG_ID)
    created_before = emulator_control.jobs_created()
    run_id = api.trigger(DAG_ID, conf={"count": total, "failing": failing})

    def spread_deferred() -> set[int] | None:
        tis = mapped_instances(api, DAG_ID, run_id, "job")
        deferred = [
            ti
            for ti in tis.values()
            if ti["state"] == "deferred" and (ti["trigger"] or {}).get("triggerer_id")
        ]
        owners = {ti["trigger"]["triggerer_id"] for ti in deferred}
        return owners if len(tis) == total and len(deferred) == total else None

    owners = wait_until(spread_deferred, 300 + 6 * total, f"{total} task instances deferred", interval=5)
    assert len(owners) == 2, f"every trigger runs in one triggerer: {owners}"

    time.sleep(3 * POLL_INTERVAL)  # past every trigger's first, quicker looks
    reads = _region_reads(emulator_control, READS_WINDOW)
    formula = _reads_per_minute(triggerers=2, active=total)
    print(f"\nreads a minute, 2 triggerers, {total} queued jobs: measured {reads:.0f}, formula {formula:.0f}")
    assert reads <= formula * 1.25, (reads, formula)

    crashed = airflow.triggerers[0]
    airflow.crash_component(crashed)
    jobs = _jobs_by_index(batch_client, run_id)
    for (job,) in jobs.values():
        emulator_control.call("release_job", job=job.name)
    state = api.wait_for_run(DAG_ID, run_id, timeout=300 + 6 * total)
    airflow.start_component(crashed)

    jobs = _jobs_by_index(batch_client, run_id)
    assert emulator_control.jobs_created() - created_before == total
    assert sorted(jobs) == list(range(total)), "one job for each task instance"
    assert all(len(found) == 1 for found in jobs.values())
    left = [job.name for (job,) in jobs.values() if job.status.state.name not in TERMINAL]
    assert not left, f"jobs left running: {left}"
    tis = mapped_instances(api, DAG_ID, run_id, "job")
    for index, (job,) in jobs.items():
        job_state = job.status.state.name
        assert job_state == ("FAILED" if index in failing else "SUCCEEDED"), job.name
        assert tis[index]["state"] == TI_STATE_OF_JOB[job_state], (index, tis[index]["state"], job_state)
    assert state == "failed"  # the failing indexes


def _region_reads(emulator_control, seconds: float) -> float:
    """Count the region's Batch reads (ListJobs pages, GetJob calls) for ``seconds``, per minute."""
    before = emulator_control.rpc_counts()
    began = time.monotonic()
    time.sleep(seconds)
    after = emulator_control.rpc_counts()
    elapsed = time.monotonic() - began
    reads = sum(after.get(m, 0) - before.get(m, 0) for m in ("ListJobs", "GetJob"))
    return reads * 60 / elapsed


def _reads_per_minute(triggerers: int, active: int) -> float:
    """The README's formula, ``T * rounds a minute * (3 + A / 1,000 + L) + G``, no job ending (L = G = 0)."""
    return triggerers * (60 / POLL_INTERVAL) * (3 + active / 1000)


def _jobs_by_index(batch_client, run_id: str) -> dict[int, list]:
    jobs: dict[int, list] = {}
    for job in batch_client.list_jobs(parent=PARENT):
        labels = job.labels
        if labels.get("airflow-dag-id") == DAG_ID and labels.get("airflow-run-id") == label_value(run_id):
            jobs.setdefault(int(labels["index"]), []).append(job)
    return jobs
