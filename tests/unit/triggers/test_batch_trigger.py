"""BatchStreamJobTrigger.serialize(): plain JSON that rebuilds the same trigger the way the runtime does."""

from __future__ import annotations

import json

import pytest

from airflow_batchstream.triggers.batch import BatchStreamJobTrigger

NAME = "projects/p/locations/us-central1/jobs/j"


def _round_trip(trigger: BatchStreamJobTrigger) -> BatchStreamJobTrigger:
    """Serialise as the task runner does (serde), deserialise as the triggerer does, import and build."""
    try:
        from airflow.sdk._shared.module_loading import import_string
        from airflow.sdk.serde import deserialize, serialize
    except ImportError:  # Airflow 3.1 keeps them outside the task SDK
        from airflow.serialization.serde import deserialize, serialize
        from airflow.utils.module_loading import import_string

    classpath, kwargs = trigger.serialize()
    wire = json.loads(json.dumps(serialize(kwargs)))
    return import_string(classpath)(**deserialize(wire))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {
            "impersonation_chain": ("a@p.iam.gserviceaccount.com", "b@p.iam.gserviceaccount.com"),
            "api_version": "v1",
            "poll_interval": 3,
            "deadline": 1_900_000_000.25,
            "cancel_on_deadline": False,
            "cancel_on_kill": False,
            "stop_states": {"RUNNING"},
            "progress": {"state": "RUNNING", "counts": {"RUNNING": 2, "SUCCEEDED": 1}},
        },
        {"shared_poller": False, "wait_through": ("CANCELLATION_IN_PROGRESS",)},
    ],
)
def test_serialize_is_plain_json_and_round_trips(kwargs):
    trigger = BatchStreamJobTrigger(job_name=NAME, **kwargs)
    classpath, serialized = trigger.serialize()
    assert classpath == "airflow_batchstream.triggers.batch.BatchStreamJobTrigger"
    assert json.loads(json.dumps(serialized)) == serialized
    rebuilt = _round_trip(trigger)
    assert type(rebuilt) is BatchStreamJobTrigger
    assert rebuilt.serialize() == (classpath, serialized)


def test_subclass_classpath_comes_from_the_class():
    class Shared(BatchStreamJobTrigger):
        pass

    assert Shared(job_name=NAME).serialize()[0].endswith(".Shared")


def test_bad_api_version_is_refused_before_any_call():
    with pytest.raises(ValueError, match="api_version='v2'"):
        BatchStreamJobTrigger(job_name=NAME, api_version="v2")


def test_waiting_through_ending_states_needs_its_own_polls():
    with pytest.raises(ValueError, match="wait_through= needs shared_poller=False"):
        BatchStreamJobTrigger(job_name=NAME, wait_through=["CANCELLATION_IN_PROGRESS"])
