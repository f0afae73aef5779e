"""What a refused job specification is told: one :class:`Violation` per problem, all at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Every rule id, with the fix a user applies. The README's rule table is checked against this.
RULES: dict[str, str] = {
    "parse-error": "Give the field the type the Batch Job message expects (the message names it).",
    "unknown-field": "Remove the field or fix its spelling; the message suggests the nearest field name.",
    "no-task-groups": "Give exactly one entry in task_groups.",
    "too-many-task-groups": "Batch runs one task group per job: merge them or submit one job per group.",
    "no-runnables": "Give at least one runnable (container, script or barrier) in task_spec.runnables.",
    "bad-task-count": "Set task_count between 1 and 100,000 (Batch job limits).",
    "bad-parallelism": "Set parallelism between 1 and min(task_count, 5,000); 1 with IN_ORDER scheduling.",
    "bad-job-id": "Use 1-63 lowercase letters, digits and '-', starting with a letter, not ending with '-'.",
    "bad-region": "Give a Batch region such as us-central1 (not a zone, not a multi-region).",
    "streaming-flag-missing": "Set enable_image_streaming: true on the container (or false to opt out).",
    "mixed-streaming": "Turn streaming on for every container runnable of the job, or off for all of them.",
    "not-artifact-registry": "Push the image to Artifact Registry and use its LOCATION-docker.pkg.dev path.",
    "gcr-domain-image": "Use the pkg.dev path of the same gcr.io repository (the hint gives it).",
    "bad-image-path": "Write the image as LOCATION-docker.pkg.dev/PROJECT/REPO/IMAGE[:TAG|@sha256:DIGEST].",
    "location-mismatch": "Use a repository in the job's region or its multi-region, or move the job.",
    "ignored-container-field": "Remove the field: with streaming on Batch honours only image_uri, commands, "
    "entrypoint, volumes and enable_image_streaming.",
}


@dataclass(frozen=True)
class Violation:
    """
    One reason a job cannot stream its images, or cannot be parsed at all.

    :param path: the field, in proto field names: ``task_groups[0].task_spec.runnables[1].container.options``.
    :param rule: a stable rule id, a key of :data:`RULES`.
    :param message: what is wrong (never a password value).
    :param hint: what to do about it.
    """

    path: str
    rule: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        hint = f" Fix: {self.hint}" if self.hint else ""
        return f"{self.path or 'job'}: [{self.rule}] {self.message}{hint}"


class ImageStreamingValidationError(ValueError):
    """
    A job specification that breaks image-streaming rules; carries every :class:`Violation`.

    :param violations: all problems found, in the order of the specification.
    """

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = list(violations)
        lines = "\n".join(f"  - {violation}" for violation in self.violations)
        super().__init__(
            f"the Batch job was refused before submission: {len(self.violations)} problem(s)\n{lines}"
        )
