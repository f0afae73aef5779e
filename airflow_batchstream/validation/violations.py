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
    "bad-label": "Keys: 1-63 lowercase letters, digits, '_' and '-', a lowercase letter first; "
    "values: up to 63 of the same.",
    "reserved-label": "Remove the label: batch-* keys are Batch's own; airflow-* and managed-by are "
    "set by the operator.",
    "too-many-labels": "Keep at most 63 custom labels on a job, the operator's own included.",
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


def listing(violations: Sequence[Violation]) -> str:
    """
    Return violations one a line, as an error message lists them.

    :param violations: the problems.
    """
    return "\n".join(f"  - {violation}" for violation in violations)


class RefusedError(ValueError):
    """
    Something refused before any API call, for the reasons listed; carries every :class:`Violation`.

    :param headline: what was refused.
    :param violations: all problems found.
    """

    def __init__(self, headline: str, violations: Sequence[Violation]) -> None:
        self.violations = list(violations)
        super().__init__(f"{headline}: {len(self.violations)} problem(s)\n{listing(self.violations)}")


class ArgumentError(RefusedError):
    """
    Arguments refused before any network call; carries every :class:`Violation`.

    :param owner: who was called: a task id, or a hook method's name.
    :param violations: all problems found.
    """

    def __init__(self, owner: str, violations: Sequence[Violation]) -> None:
        self.owner = owner
        super().__init__(f"{owner}: arguments refused before any API call", violations)


class ImageStreamingValidationError(RefusedError):
    """
    A job specification that breaks image-streaming rules; carries every :class:`Violation`.

    :param violations: all problems found, in the order of the specification.
    """

    def __init__(self, violations: Sequence[Violation]) -> None:
        super().__init__("the Batch job was refused before submission", violations)
