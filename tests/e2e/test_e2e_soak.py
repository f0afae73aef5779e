"""Soak: hundreds of Batch task instances across DAG runs while the API fails a fifth of all calls.

``E2E_SOAK_TASKS_LOCAL`` / ``E2E_SOAK_TASKS_CELERY`` (or ``E2E_SOAK_TASKS`` for both) set how many
task instances (default 200, split over runs of 50); CI runs fewer. It prints the wall time, the
triggerers' peak memory and the Batch API calls per job.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict

import pytest
from e2e_helpers import PARENT, TERMINAL, TI_STATE_OF_JOB, mapped_instances

from airflow_batchstream.spec import label_value

#: Per-shape counts, beside ``E2E_SOAK_TASKS`` for every shape.
_PER_SHAPE = ("E2E_SOAK_TASKS_LOCAL", "E2E_SOAK_TASKS_CELERY")

#: The most task instances any deployment soaks (the per-test time limit grows with it).
_MOST = max(int(os.environ.get(name, "200")) for name in ("E2E_SOAK_TASKS", *_PER_SHAPE))
# The first test also starts the deployment and the last one stops it: generous per-test limits.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900 + 6 * _MOST)]

DAG_ID = "e2e_soak"
PER_RUN = 50
FAULT_RATE = 0.2


def test_soak_every_task_ends_in_its_jobs_true_state(airflow, batch_client, emulator_control):
    total = int(
        os.environ.get(f"E2E_SOAK_TASKS_{airflow.shape.upper()}", os.environ.get("E2E_SOAK_TASKS", "200"))
    )
    api = airflow.api
    api.wait_for_dag(DAG_ID)
    api.unpause(DAG_ID)
    created_before = emulator_control.jobs_created()
    calls_before = sum(emulator_control.rpc_counts().values())
    began = time.monotonic()
    # Transient errors on every Batch method; some CreateJob faults lose the response after the job is stored.
    emulator_control.set_faults(rate=FAULT_RATE, seed=20261127, fault_after_commit=0.5)
    try:
        runs = {}
        for start in range(0, total, PER_RUN):
            count = min(PER_RUN, total - start)
            failing = [i for i in range(count) if i % 17 == 5]
            runs[api.trigger(DAG_ID, conf={"count": count, "failing": failing})] = (count, set(failing))
        for run_id in runs:
            api.wait_for_run(DAG_ID, run_id, timeout=max(900, 3 * total))
        wall = time.monotonic() - began
        faults = emulator_control.faults_injected()
        calls = sum(emulator_control.rpc_counts().values()) - calls_before
    finally:
        emulator_control.clear_faults()

    jobs = _soak_jobs(batch_client, runs)
    soak_jobs = [job for found in jobs.values() for job in found]
    still_active = [job.name for job in soak_jobs if job.status.state.name not in TERMINAL]
    assert not still_active, f"jobs left running: {still_active}"
    assert sum(faults.values()) > 0, "the emulator injected no fault"
    assert emulator_control.jobs_created() - created_before == sum(len(v) for v in jobs.values())
    checked = 0
    for run_id, (count, failing) in runs.items():
        tis = mapped_instances(api, DAG_ID, run_id, "job")
        assert sorted(tis) == list(range(count))
        for index, ti in tis.items():
            tries = [int(job.labels["airflow-try-number"]) for job in jobs[run_id, index]]
            # Exactly one job per try that created one; tries that reattached created none.
            assert tries and len(tries) == len(set(tries)), (run_id, index, tries)
            latest = max(jobs[run_id, index], key=lambda job: int(job.labels["airflow-try-number"]))
            job_state = latest.status.state.name
            assert job_state == ("FAILED" if index in failing else "SUCCEEDED"), (run_id, index, latest.name)
            assert ti["state"] == TI_STATE_OF_JOB[job_state], (run_id, index, ti["state"], job_state)
            checked += 1
    assert checked == total
    created = sum(len(v) for v in jobs.values())
    rss = {name: f"{airflow.peak_rss_mib(name):.0f} MiB" for name in airflow.triggerers}
    print(
        f"\nsoak ({airflow.shape}): {total} task instances, {created} jobs in {wall:.0f} s; "
        f"Batch API calls per job {calls / created:.1f} (faults {faults}); triggerers' peak RSS {rss}"
    )


def _soak_jobs(batch_client, runs) -> dict[tuple[str, int], list]:
    by_label = {label_value(run_id): run_id for run_id in runs}
    jobs: dict[tuple[str, int], list] = defaultdict(list)
    for job in batch_client.list_jobs(parent=PARENT):
        run_id = by_label.get(job.labels.get("airflow-run-id", ""))
        if job.labels.get("airflow-dag-id") == DAG_ID and run_id:
            jobs[run_id, int(job.labels["soak-index"])].append(job)
    return jobs
