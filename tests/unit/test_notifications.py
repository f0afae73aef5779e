"""Pub/Sub names, the push arguments' checks and the job's notification entry; no API call."""

from __future__ import annotations

import pytest
from google.cloud import batch_v1, batch_v1alpha

from airflow_batchstream.notifications import add_state_notification, check_push_arguments, resource_path


def test_bare_ids_take_the_jobs_project():
    assert resource_path("states", "topics", "p1", "t") == "projects/p1/topics/states"
    assert (
        resource_path("projects/p2/subscriptions/s-1", "subscriptions", "p1", "s")
        == "projects/p2/subscriptions/s-1"
    )


@pytest.mark.parametrize(
    "value", ["projects/p/topics/x", "goog-topic", "1abc", "projects/p/subscriptions/s/extra"]
)
def test_bad_subscription_names_say_what_to_give(value):
    with pytest.raises(ValueError, match="projects/PROJECT/subscriptions/ID"):
        resource_path(value, "subscriptions", "p", "notification_subscription")


def test_create_needs_both_names_and_the_safety_interval_is_positive():
    with pytest.raises(ValueError, match="create_notification_subscription=True needs"):
        check_push_arguments("t", None, "sub", True, 300)
    with pytest.raises(ValueError, match="safety_poll_interval must be positive"):
        check_push_arguments("t", "topic", "sub", False, 0)
    with pytest.raises(ValueError, match="t: notification_topic='bad/topic'"):
        check_push_arguments("t", "bad/topic", None, False, 300)
    check_push_arguments("t", "topic", "projects/p/subscriptions/sub", True, 300)


@pytest.mark.parametrize("module", [batch_v1, batch_v1alpha])
def test_the_job_asks_for_its_state_changes_once(module):
    job = module.Job()
    add_state_notification(job, "projects/p/topics/t")
    add_state_notification(job, "projects/p/topics/t")
    assert len(job.notifications) == 1
    assert job.notifications[0].pubsub_topic == "projects/p/topics/t"
    assert job.notifications[0].message.type_ == module.JobNotification.Type.JOB_STATE_CHANGED
