"""The table of broken job specifications: each with the rule id and path validation must report.

Shared by the unit test (every entry through ``validate_job``) and the integration test (every
entry through the operator against the emulator, which must receive no RPC).
"""

from __future__ import annotations

import copy
import json
from typing import Any, NamedTuple

GOOD_IMAGE = "us-central1-docker.pkg.dev/demo-project/containers/app:1"
C0 = "task_groups[0].task_spec.runnables[0].container"
C1 = "task_groups[0].task_spec.runnables[1].container"
TG = "task_groups[0]"


def job(*containers: dict[str, Any], **group: Any) -> dict[str, Any]:
    """
    Return a camelCase job whose runnables are the given containers (default: one good one).

    :param containers: container objects; ``enableImageStreaming`` is added unless present.
    :param group: extra task group fields.
    """
    runnables = [
        {"container": {"enableImageStreaming": True, **container}}
        for container in (containers or ({"imageUri": GOOD_IMAGE},))
    ]
    return {"taskGroups": [{"taskSpec": {"runnables": runnables}, **group}]}


def with_image(uri: str) -> dict[str, Any]:
    """
    Return a one-container streaming job running ``uri``.

    :param uri: the image.
    """
    return job({"imageUri": uri, "commands": ["run"]})


def edited(path: list[Any], value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """
    Return a copy of a good job with one value set at ``path`` (list of keys and indexes).

    :param path: where to set it.
    :param value: the value.
    :param base: the job to start from (default: a good one-container job).
    """
    out = copy.deepcopy(base or job())
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


class BadSpec(NamedTuple):
    """One row: what to validate and what must be reported."""

    name: str
    spec: Any
    rule: str
    path: str
    region: str = "us-central1"
    job_id: str | None = None


_RUNNABLE0 = ["taskGroups", 0, "taskSpec", "runnables", 0]
_CONTAINER0 = [*_RUNNABLE0, "container"]

BAD_SPECS = [
    # Artifact Registry host and path shape
    BadSpec("docker-hub-short-name", with_image("busybox"), "not-artifact-registry", f"{C0}.image_uri"),
    BadSpec(
        "docker-hub-qualified",
        with_image("docker.io/library/python:3.12"),
        "not-artifact-registry",
        f"{C0}.image_uri",
    ),
    BadSpec("ghcr", with_image("ghcr.io/acme/app:1"), "not-artifact-registry", f"{C0}.image_uri"),
    BadSpec("quay", with_image("quay.io/acme/app"), "not-artifact-registry", f"{C0}.image_uri"),
    BadSpec("gcr-io", with_image("gcr.io/demo-project/app:1"), "gcr-domain-image", f"{C0}.image_uri"),
    BadSpec(
        "eu-gcr-io",
        with_image("eu.gcr.io/demo-project/app:1"),
        "gcr-domain-image",
        f"{C0}.image_uri",
        region="europe-west1",
    ),
    BadSpec(
        "asia-gcr-io-from-us",
        with_image("asia.gcr.io/demo-project/app:1"),
        "location-mismatch",
        f"{C0}.image_uri",
    ),
    BadSpec(
        "no-image-name",
        with_image("us-central1-docker.pkg.dev/demo-project/app"),
        "bad-image-path",
        f"{C0}.image_uri",
    ),
    BadSpec(
        "bad-project",
        with_image("us-central1-docker.pkg.dev/Demo_Project/containers/app"),
        "bad-image-path",
        f"{C0}.image_uri",
    ),
    BadSpec(
        "uppercase-image",
        with_image("us-central1-docker.pkg.dev/demo-project/containers/App:1"),
        "bad-image-path",
        f"{C0}.image_uri",
    ),
    BadSpec(
        "short-digest",
        with_image("us-central1-docker.pkg.dev/demo-project/containers/app@sha256:12ab"),
        "bad-image-path",
        f"{C0}.image_uri",
    ),
    BadSpec(
        "bad-tag",
        with_image("us-central1-docker.pkg.dev/demo-project/containers/app:-x"),
        "bad-image-path",
        f"{C0}.image_uri",
    ),
    BadSpec(
        "unknown-location",
        with_image("moon-docker.pkg.dev/demo-project/containers/app:1"),
        "bad-image-path",
        f"{C0}.image_uri",
    ),
    BadSpec("empty-image", with_image(""), "bad-image-path", f"{C0}.image_uri"),
    # repository location against the job region
    BadSpec(
        "other-region",
        with_image("europe-west1-docker.pkg.dev/demo-project/containers/app:1"),
        "location-mismatch",
        f"{C0}.image_uri",
    ),
    BadSpec(
        "us-multi-region-to-europe",
        with_image("us-docker.pkg.dev/demo-project/containers/app:1"),
        "location-mismatch",
        f"{C0}.image_uri",
        region="europe-west4",
    ),
    BadSpec(
        "asia-multi-region-to-us",
        with_image("asia-docker.pkg.dev/demo-project/containers/app:1"),
        "location-mismatch",
        f"{C0}.image_uri",
        region="us-east1",
    ),
    BadSpec(
        "neighbour-us-region",
        with_image("us-east1-docker.pkg.dev/demo-project/containers/app:1"),
        "location-mismatch",
        f"{C0}.image_uri",
    ),
    BadSpec(
        "us-multi-region-to-montreal",
        with_image("us-docker.pkg.dev/demo-project/containers/app:1"),
        "location-mismatch",
        f"{C0}.image_uri",
        region="northamerica-northeast1",
    ),
    # container fields streaming ignores
    BadSpec(
        "options",
        edited([*_CONTAINER0, "options"], "--network host"),
        "ignored-container-field",
        f"{C0}.options",
    ),
    BadSpec(
        "block-external-network",
        edited([*_CONTAINER0, "blockExternalNetwork"], True),
        "ignored-container-field",
        f"{C0}.block_external_network",
    ),
    BadSpec(
        "username", edited([*_CONTAINER0, "username"], "robot"), "ignored-container-field", f"{C0}.username"
    ),
    BadSpec(
        "password",
        edited([*_CONTAINER0, "password"], "hunter2-secret"),
        "ignored-container-field",
        f"{C0}.password",
    ),
    BadSpec(
        "snake-case-options",
        {
            "task_groups": [
                {
                    "task_spec": {
                        "runnables": [
                            {
                                "container": {
                                    "image_uri": GOOD_IMAGE,
                                    "enable_image_streaming": True,
                                    "options": "--privileged",
                                }
                            }
                        ]
                    }
                }
            ]
        },
        "ignored-container-field",
        f"{C0}.options",
    ),
    # the streaming flag
    BadSpec(
        "mixed-missing-flag",
        job({"imageUri": GOOD_IMAGE}, {"imageUri": GOOD_IMAGE, "enableImageStreaming": None}),
        "mixed-streaming",
        f"{C1}.enable_image_streaming",
    ),
    BadSpec(
        "mixed-false-flag",
        job({"imageUri": GOOD_IMAGE}, {"imageUri": GOOD_IMAGE, "enableImageStreaming": False}),
        "mixed-streaming",
        f"{C1}.enable_image_streaming",
    ),
    BadSpec(
        "flag-missing",
        {"taskGroups": [{"taskSpec": {"runnables": [{"container": {"imageUri": GOOD_IMAGE}}]}}]},
        "streaming-flag-missing",
        f"{C0}.enable_image_streaming",
    ),
    # job id and region
    BadSpec("job-id-uppercase", job(), "bad-job-id", "job_id", job_id="Nightly_ETL"),
    BadSpec("job-id-digit-first", job(), "bad-job-id", "job_id", job_id="1-etl"),
    BadSpec("job-id-trailing-dash", job(), "bad-job-id", "job_id", job_id="etl-"),
    BadSpec("job-id-too-long", job(), "bad-job-id", "job_id", job_id="a" * 64),
    BadSpec("zone-as-region", job(), "bad-region", "region", region="us-central1-a"),
    # task count and parallelism
    BadSpec("task-count-zero", job(taskCount=0), "bad-task-count", f"{TG}.task_count"),
    BadSpec("task-count-over-limit", job(taskCount=100_001), "bad-task-count", f"{TG}.task_count"),
    BadSpec("task-count-negative-text", job(taskCount="-3"), "bad-task-count", f"{TG}.task_count"),
    BadSpec("parallelism-zero", job(taskCount=4, parallelism=0), "bad-parallelism", f"{TG}.parallelism"),
    BadSpec(
        "parallelism-over-task-count", job(taskCount=2, parallelism=5), "bad-parallelism", f"{TG}.parallelism"
    ),
    BadSpec(
        "parallelism-over-job-limit",
        job(taskCount=10_000, parallelism=6_000),
        "bad-parallelism",
        f"{TG}.parallelism",
    ),
    BadSpec(
        "in-order-parallel",
        job(taskCount=3, parallelism=2, schedulingPolicy="IN_ORDER"),
        "bad-parallelism",
        f"{TG}.parallelism",
    ),
    # job shape
    BadSpec("empty-job", {}, "no-task-groups", "task_groups"),
    BadSpec("empty-task-groups", {"taskGroups": []}, "no-task-groups", "task_groups"),
    BadSpec(
        "two-task-groups",
        {"taskGroups": [job()["taskGroups"][0], job()["taskGroups"][0]]},
        "too-many-task-groups",
        "task_groups[1]",
    ),
    BadSpec(
        "no-runnables",
        {"taskGroups": [{"taskSpec": {"runnables": []}}]},
        "no-runnables",
        f"{TG}.task_spec.runnables",
    ),
    BadSpec("no-task-spec", {"taskGroups": [{"taskCount": 2}]}, "no-runnables", f"{TG}.task_spec.runnables"),
    # plain parse errors, with the path and what was expected
    BadSpec(
        "commands-as-string",
        edited([*_CONTAINER0, "commands"], "/scripts/run.sh"),
        "parse-error",
        f"{C0}.commands",
    ),
    BadSpec(
        "volumes-as-string", edited([*_CONTAINER0, "volumes"], "/tmp:/tmp"), "parse-error", f"{C0}.volumes"
    ),
    BadSpec(
        "instances-as-object",
        edited(["allocationPolicy"], {"instances": {"policy": {"machineType": "e2"}}}),
        "parse-error",
        "allocation_policy.instances",
    ),
    BadSpec("task-count-words", job(taskCount="three"), "parse-error", f"{TG}.task_count"),
    BadSpec(
        "streaming-flag-text",
        edited([*_CONTAINER0, "enableImageStreaming"], "yes"),
        "parse-error",
        f"{C0}.enable_image_streaming",
    ),
    BadSpec(
        "unknown-enum",
        edited(["logsPolicy"], {"destination": "STDOUT"}),
        "parse-error",
        "logs_policy.destination",
    ),
    BadSpec("misspelt-top-level", {"taskGroup": job()["taskGroups"]}, "unknown-field", "taskGroup"),
    BadSpec(
        "misspelt-container-field",
        edited([*_CONTAINER0, "imageURI"], GOOD_IMAGE),
        "unknown-field",
        f"{C0}.imageURI",
    ),
    BadSpec(
        "container-and-script",
        edited([*_RUNNABLE0, "script"], {"text": "echo"}),
        "parse-error",
        "task_groups[0].task_spec.runnables[0].script",
    ),
    BadSpec(
        "duration-words",
        edited(["taskGroups", 0, "taskSpec", "maxRunDuration"], "10 minutes"),
        "parse-error",
        f"{TG}.task_spec.max_run_duration",
    ),
    BadSpec("label-number", edited(["labels"], {"team": 7}), "parse-error", 'labels["team"]'),
    BadSpec(
        "password-number", edited([*_CONTAINER0, "password"], 987654321), "parse-error", f"{C0}.password"
    ),
    BadSpec("not-json", '{"taskGroups": [', "parse-error", ""),
    BadSpec("json-list", json.dumps([job()]), "parse-error", ""),
    BadSpec("task-groups-object", {"taskGroups": job()["taskGroups"][0]}, "parse-error", "task_groups"),
    # labels (Batch and Compute Engine label rules)
    BadSpec("label-key-spaces", edited(["labels"], {"Team Name!": "x"}), "bad-label", 'labels["Team Name!"]'),
    BadSpec("label-value-upper", edited(["labels"], {"team": "Data"}), "bad-label", 'labels["team"]'),
    BadSpec(
        "label-batch-job-id",
        edited(["labels"], {"batch-job-id": "x"}),
        "reserved-label",
        'labels["batch-job-id"]',
    ),
    BadSpec(
        "runnable-label-key",
        edited([*_RUNNABLE0, "labels"], {"1st": "x"}),
        "bad-label",
        f'{TG}.task_spec.runnables[0].labels["1st"]',
    ),
    BadSpec(
        "sixty-four-labels",
        edited(["labels"], {f"l{i}": "x" for i in range(64)}),
        "too-many-labels",
        "labels",
    ),
]
