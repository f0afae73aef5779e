"""Image-streaming validation: refuse a Batch job that cannot stream, with every reason at once.

``validate_job`` checks the job structure against the Batch ``Job`` message (paths and expected
types instead of protobuf errors) and the image-streaming rules of the Batch documentation.
Paths use proto field names (snake_case) whatever form the job was written in, so a path reads
the same for camelCase, snake_case and proto input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_batchstream.api_version import DEFAULT_API_VERSION
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
    What validation learnt about a job: the one parsed ``Job`` that checks, preflight and submission read.

    :param violations: every problem found.
    :param tree: the job keyed by proto field names (empty when it could not be read).
    :param streaming_images: ``(path, image_uri)`` of every streaming container on Artifact Registry.
    :param job: the ``Job`` proto, parsed once (``None`` when the specification cannot be parsed).
    """

    violations: list[Violation]
    tree: dict[str, Any] = field(default_factory=dict)
    streaming_images: list[tuple[str, str]] = field(default_factory=list)
    job: Any = None

    def enforce(self, mode: str, log: Any) -> None:
        """
        Apply a validation mode: raise on violations (``"strict"``), log them (``"warn"``), or not.

        A job that could not be parsed is refused in every mode: there is nothing to submit.

        :param mode: ``"strict"``, ``"warn"`` or ``"off"``.
        :param log: where ``"warn"`` logs.
        :raises ImageStreamingValidationError: strict mode found violations, or the job cannot be parsed.
        """
        if self.job is None or (mode == "strict" and self.violations):
            raise ImageStreamingValidationError(self.violations)
        if mode == "warn":
            for violation in self.violations:
                log.warning("Image-streaming validation (warn mode, submitting anyway): %s", violation)


def inspect_job(
    job: Any, *, region: str, api_version: str = DEFAULT_API_VERSION, job_id: str | None = None
) -> Inspection:
    """
    Validate a job, parse it once, and return the violations with the ``Job`` and what the preflight needs.

    :param job: a dict (camelCase or snake_case), a JSON string or a ``Job`` proto.
    :param region: the Batch region the job is for.
    :param api_version: ``"v1"`` or ``"v1alpha"``.
    :param job_id: the job id it will be created under, when known.
    """
    from airflow_batchstream.api_version import API_VERSIONS, batch_module
    from airflow_batchstream.arguments import job_id_problems, region_problems
    from airflow_batchstream.spec import JobSpecError, job_to_dict, parse_job
    from airflow_batchstream.validation.images import parse_artifact_registry
    from airflow_batchstream.validation.rules import check_labels, check_shape, check_streaming, containers
    from airflow_batchstream.validation.structure import StructureWalk

    head = region_problems(region) + (job_id_problems(job_id) if job_id is not None else [])
    try:
        raw = job_to_dict(job)
    except JobSpecError as error:
        return Inspection([*head, Violation("", "parse-error", str(error).removeprefix("job: "))])
    other = next(v for v in API_VERSIONS if v != api_version)
    walk = StructureWalk(batch_module(other).Job.pb().DESCRIPTOR)
    tree = walk.message(raw, batch_module(api_version).Job.pb().DESCRIPTOR, "")
    violations = head + walk.violations
    parsed = None
    if not walk.violations:
        try:
            parsed = parse_job(job if isinstance(job, batch_module(api_version).Job) else raw, api_version)
        except JobSpecError as error:
            violations.append(Violation("", "parse-error", str(error).removeprefix("job: ")))
    violations += (
        check_shape(tree)
        + check_labels(tree)
        + check_streaming(tree, region if isinstance(region, str) else str(region))
    )
    images = [
        (f"{path}.image_uri", container["image_uri"])
        for path, container in containers(tree)
        if container.get("enable_image_streaming")
        and isinstance(container.get("image_uri"), str)
        and parse_artifact_registry(container["image_uri"]) is not None
    ]
    return Inspection(violations, tree, images, parsed)


def validate_job(
    job: Any, *, region: str, api_version: str = DEFAULT_API_VERSION, job_id: str | None = None
) -> list[Violation]:
    """
    Return every reason ``job`` cannot be submitted as an image-streaming Batch job (empty: fine).

    :param job: a dict (camelCase or snake_case), a JSON string or a ``Job`` proto.
    :param region: the Batch region the job is for.
    :param api_version: ``"v1"`` or ``"v1alpha"``.
    :param job_id: the job id it will be created under, when known.
    """
    return inspect_job(job, region=region, api_version=api_version, job_id=job_id).violations
