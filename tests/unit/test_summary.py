from __future__ import annotations

from google.cloud import batch_v1alpha

from airflow_batchstream.summary import failure_reason, summarize_job, summarize_task

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
        "console_url": "https://console.cloud.google.com/batch/jobsDetail/regions/us-central1/jobs/j1/details?project=p",
        "logs_url": "https://console.cloud.google.com/logs/query;query=logName%3D%22projects%2Fp%2Flogs%2F"
        "batch_task_logs%22%20AND%20labels.job_uid%3D%22j1-abc%22?project=p",
        "image_streaming": False,
        "queued_seconds": None,
        "startup_seconds": None,
        "run_seconds": None,
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


def _timeline_job(streaming):
    """A job with Batch's own event texts: created at T, scheduled T+5, first task runs T+12, ends T+40."""
    name = "projects/p/locations/us-central1/jobs/j1"
    events = [
        (5, f"Job state is set from QUEUED to SCHEDULED for job {name}."),
        (12, f"Job state is set from SCHEDULED to RUNNING for job {name}."),
        (13, "Task state is updated from ASSIGNED to RUNNING on zones/us-central1-a/instances/1."),
        (40, f"Job state is set from RUNNING to SUCCEEDED for job {name}."),
    ]
    container = batch_v1alpha.Runnable.Container(
        image_uri="us-docker.pkg.dev/p/r/i", enable_image_streaming=streaming
    )
    return batch_v1alpha.Job(
        name=name,
        uid="j1-abc",
        create_time={"seconds": 1_800_000_000},
        task_groups=[
            batch_v1alpha.TaskGroup(
                task_spec=batch_v1alpha.TaskSpec(
                    runnables=[batch_v1alpha.Runnable(container=container)],
                    environment=batch_v1alpha.Environment(variables={"API_KEY": "sk-live-0123456789abcdef"}),
                )
            )
        ],
        status=JobStatus(
            state=JobStatus.State.SUCCEEDED,
            status_events=[
                batch_v1alpha.StatusEvent(description=text, event_time={"seconds": 1_800_000_000 + t})
                for t, text in events
            ],
        ),
    )


def test_phase_seconds_come_from_batchs_status_events():
    summary = summarize_job(_timeline_job(streaming=True))
    assert (summary["queued_seconds"], summary["startup_seconds"], summary["run_seconds"]) == (5, 7, 28)
    assert summary["image_streaming"] is True


def test_run_duration_wins_over_events_and_a_pulled_image_does_not_stream():
    job = _timeline_job(streaming=False)
    job.status.run_duration = {"seconds": 27, "nanos": 500_000_000}
    summary = summarize_job(job)
    assert summary["run_seconds"] == 27.5
    assert summary["image_streaming"] is False


def test_summary_is_json_and_carries_no_environment_value():
    import json

    text = json.dumps(summarize_job(_timeline_job(streaming=True)))
    assert "sk-live" not in text
    assert "API_KEY" not in text


def _task(state, transitions):
    """A task of index 2 whose events are ``(old, new, exit_code or None)`` transitions, a second apart."""
    events = []
    for index, (old, new, code) in enumerate(transitions):
        event = batch_v1alpha.StatusEvent(
            description=f"Task state is updated from {old} to {new} on zones/z/instances/vm.",
            event_time={"seconds": 1_800_000_000 + index},
        )
        if code is not None:
            event.task_execution = batch_v1alpha.TaskExecution(exit_code=code)
        events.append(event)
    return batch_v1alpha.Task(
        name="projects/p/locations/us-central1/jobs/j1/taskGroups/group0/tasks/2",
        status=batch_v1alpha.TaskStatus(state=state, status_events=events),
    )


def test_task_summary_of_a_task_that_failed_after_a_retry():
    failed_twice = [
        ("PENDING", "ASSIGNED", None),
        ("ASSIGNED", "RUNNING", None),
        ("RUNNING", "FAILED", 7),
        ("PENDING", "ASSIGNED", None),
        ("ASSIGNED", "RUNNING", None),
        ("RUNNING", "FAILED", 9),
    ]
    assert summarize_task(_task(batch_v1alpha.TaskStatus.State.FAILED, failed_twice)) == {
        "index": 2,
        "state": "FAILED",
        "exit_code": 9,
        "start_time": "2027-01-15T08:00:01+00:00",
        "end_time": "2027-01-15T08:00:05+00:00",
        "retry_attempts": 1,
    }


def test_task_summary_of_a_running_and_a_succeeded_task():
    running = [("PENDING", "ASSIGNED", None), ("ASSIGNED", "RUNNING", None)]
    summary = summarize_task(_task(batch_v1alpha.TaskStatus.State.RUNNING, running))
    assert (summary["exit_code"], summary["end_time"], summary["retry_attempts"]) == (None, None, 0)
    done = summarize_task(
        _task(batch_v1alpha.TaskStatus.State.SUCCEEDED, [*running, ("RUNNING", "SUCCEEDED", None)])
    )
    assert (done["exit_code"], done["end_time"]) == (0, "2027-01-15T08:00:02+00:00")
