"""Image-streaming validation: refuse a Batch job that cannot stream, with every reason at once.

``validate_job`` checks the job structure against the Batch ``Job`` message (paths and expected
types instead of protobuf errors) and the image-streaming rules of the Batch documentation.
Paths use proto field names (snake_case) whatever form the job was written in, so a path reads
the same for camelCase, snake_case and proto input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_batchstream.validation.violations import RULES, ImageStreamingValidationError, Violation

__all__ = [
    "RULES",
    "ImageStreamingValidationError",
    "Inspection",
    "Violation",
    "inspect_job",
    "validate_job",
]

VALIDATION_MODES = ("strict", "warn", "off")


@dataclass
class Inspection:
    """
    What validation learnt about a job.

    :param violations: every problem found.
    :param tree: the job keyed by proto field names (empty when it could not be read).
    :param streaming_images: ``(path, image_uri)`` of every streaming container on Artifact Registry.
    """

    violations: list[Violation]
    tree: dict[str, Any] = field(default_factory=dict)
    streaming_images: list[tuple[str, str]] = field(default_factory=list)


def inspect_job(
    job: Any, *, region: str, api_version: str = "v1alpha", job_id: str | None = None
) -> Inspection:
    """
    Validate a job and return the violations with what the preflight needs.

    :param job: a dict (camelCase or snake_case), a JSON string or a ``Job`` proto.
    :param region: the Batch region the job is for.
    :param api_version: ``"v1alpha"`` or ``"v1"``.
    :param job_id: the job id it will be created under, when known.
    """
    from airflow_batchstream.api_version import API_VERSIONS, batch_module
    from airflow_batchstream.spec import JobSpecError, job_to_dict, parse_job
    from airflow_batchstream.validation.images import parse_artifact_registry
    from airflow_batchstream.validation.rules import (
        check_job_id,
        check_region,
        check_shape,
        check_streaming,
        containers,
    )
    from airflow_batchstream.validation.structure import StructureWalk

    head = check_region(region) + check_job_id(job_id)
    try:
        raw = job_to_dict(job)
    except JobSpecError as error:
        return Inspection([*head, Violation("", "parse-error", str(error).removeprefix("job: "))])
    other = next(v for v in API_VERSIONS if v != api_version)
    walk = StructureWalk(batch_module(other).Job.pb().DESCRIPTOR)
    tree = walk.message(raw, batch_module(api_version).Job.pb().DESCRIPTOR, "")
    violations = head + walk.violations
    if not walk.violations:
        try:
            parse_job(raw, api_version)
        except JobSpecError as error:
            violations.append(Violation("", "parse-error", str(error).removeprefix("job: ")))
    violations += check_shape(tree) + check_streaming(tree, region)
    images = [
        (f"{path}.image_uri", container["image_uri"])
        for path, container in containers(tree)
        if container.get("enable_image_streaming")
        and isinstance(container.get("image_uri"), str)
        and parse_artifact_registry(container["image_uri"]) is not None
    ]
    return Inspection(violations, tree, images)


def validate_job(
    job: Any, *, region: str, api_version: str = "v1alpha", job_id: str | None = None
) -> list[Violation]:
    """
    Return every reason ``job`` cannot be submitted as an image-streaming Batch job (empty: fine).

    :param job: a dict (camelCase or snake_case), a JSON string or a ``Job`` proto.
    :param region: the Batch region the job is for.
    :param api_version: ``"v1alpha"`` or ``"v1"``.
    :param job_id: the job id it will be created under, when known.
    """
    return inspect_job(job, region=region, api_version=api_version, job_id=job_id).violations
