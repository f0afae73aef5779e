from __future__ import annotations

from google.cloud import batch_v1alpha

from airflow_batchstream.summary import failure_reason, summarize_job

JobStatus = batch_v1alpha.JobStatus


def _job(state, events=(), counts=None):
    status = JobStatus(
        state=state,
        status_events=[
            batch_v1alpha.StatusEvent(
                description=description,
                event_time={"seconds": 1_800_000_000 + index},
                task_execution=batch_v1alpha.TaskExecution(exit_code=code),
            )
            for index, (description, code) in enumerate(events)
        ],
        task_groups={"group0": JobStatus.TaskGroupStatus(counts=counts or {})},
    )
    return batch_v1alpha.Job(
        name="projects/p/locations/us-central1/jobs/j1",
        uid="j1-abc",
        status=status,
        create_time={"seconds": 1_800_000_000},
    )


def test_summary_of_a_succeeded_job():
    job = _job(
        JobStatus.State.SUCCEEDED, [("Job state is set from RUNNING to SUCCEEDED", 0)], {"SUCCEEDED": 3}
    )
    assert summarize_job(job) == {
        "job_name": "projects/p/locations/us-central1/jobs/j1",
        "job_id": "j1",
        "uid": "j1-abc",
        "state": "SUCCEEDED",
        "create_time": "2027-01-15T08:00:00+00:00",
        "end_time": "2027-01-15T08:00:00+00:00",
        "task_counts": {"SUCCEEDED": 3},
        "failed_exit_codes": [],
    }


def test_running_job_has_no_end_time():
    assert summarize_job(_job(JobStatus.State.RUNNING))["end_time"] is None


def test_failure_reason_names_failed_tasks_exit_codes_and_events():
    job = _job(
        JobStatus.State.FAILED,
        [
            ("Task state is updated from RUNNING to FAILED with exit code 3.", 3),
            ("Task state is updated from RUNNING to FAILED with exit code 50001.", 50001),
            ("Job state is set from RUNNING to FAILED", 0),
        ],
        {"FAILED": 2, "SUCCEEDED": 1},
    )
    reason = failure_reason(job)
    assert "ended FAILED" in reason
    assert "2 of 3 task(s) failed" in reason
    assert "exit code 3" in reason
    assert "exit code 50001 (the VM was preempted (Spot))" in reason
    assert "Job state is set from RUNNING to FAILED" in reason
