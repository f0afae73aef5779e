"""The image-streaming and job-shape rules, over a job tree keyed by proto field names.

Sources: https://cloud.google.com/batch/docs/use-image-streaming ("Limitations": Artifact Registry
only, same location, only imageUri/commands/entrypoint/volumes/enableImageStreaming honoured);
https://cloud.google.com/batch/quotas ("Job limits": 100,000 tasks per task group, 5,000 parallel
tasks per job); the job id rule from ``CreateJobRequest.job_id`` in google-cloud-batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow_batchstream.arguments import label_problems
from airflow_batchstream.validation.images import (
    GCR_HOSTS,
    is_docker_hub,
    location_serves,
    multi_region_of,
    parse_artifact_registry,
    path_problems,
    pkg_dev_equivalent,
    split_reference,
)
from airflow_batchstream.validation.violations import Violation

MAX_TASKS_PER_GROUP = 100_000
MAX_PARALLEL_TASKS = 5_000
#: Container fields Batch honours with streaming on; any other set field is silently ignored.
STREAMING_FIELDS = frozenset({"image_uri", "commands", "entrypoint", "volumes", "enable_image_streaming"})


def containers(job: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """
    Yield ``(path, container)`` for every container runnable of every task group.

    :param job: the normalised job tree.
    """
    for g, group in enumerate(job.get("task_groups") or []):
        for r, runnable in enumerate((group.get("task_spec") or {}).get("runnables") or []):
            if isinstance(runnable, dict) and isinstance(runnable.get("container"), dict):
                yield f"task_groups[{g}].task_spec.runnables[{r}].container", runnable["container"]


def check_labels(job: dict[str, Any]) -> list[Violation]:
    """
    Check the job's own labels and its runnables' labels against the Batch label rules.

    :param job: the normalised job tree.
    """
    out = []
    if isinstance(job.get("labels"), dict):
        out += label_problems(job["labels"], "labels")
    for g, group in enumerate(job.get("task_groups") or []):
        for r, runnable in enumerate((group.get("task_spec") or {}).get("runnables") or []):
            if isinstance(runnable, dict) and isinstance(runnable.get("labels"), dict):
                path = f"task_groups[{g}].task_spec.runnables[{r}].labels"
                out += label_problems(runnable["labels"], path)
    return out


def check_shape(job: dict[str, Any]) -> list[Violation]:
    """
    Check task groups, runnables, task count and parallelism.

    :param job: the normalised job tree.
    """
    groups = job.get("task_groups") or []
    if not groups:
        return [
            Violation("task_groups", "no-task-groups", "the job has no task group", "give one task group")
        ]
    out = []
    if len(groups) > 1:
        out.append(
            Violation(
                "task_groups[1]",
                "too-many-task-groups",
                f"the job has {len(groups)} task groups; Batch supports one per job",
                "merge them, or submit one job per group",
            )
        )
    for g, group in enumerate(groups):
        out += _check_group(group, f"task_groups[{g}]")
    return out


def _check_group(group: dict[str, Any], path: str) -> list[Violation]:
    out = []
    if not (group.get("task_spec") or {}).get("runnables"):
        out.append(
            Violation(
                f"{path}.task_spec.runnables",
                "no-runnables",
                "the task group has no runnable",
                "give at least one container, script or barrier runnable",
            )
        )
    count = group.get("task_count")
    count = count if isinstance(count, int) and not isinstance(count, bool) else None
    if count is not None and not 1 <= count <= MAX_TASKS_PER_GROUP:
        out.append(
            Violation(
                f"{path}.task_count",
                "bad-task-count",
                f"task_count is {count}; Batch accepts 1 to {MAX_TASKS_PER_GROUP:,}",
                "set task_count to at least 1, or split the work over several jobs",
            )
        )
    parallelism = group.get("parallelism")
    if isinstance(parallelism, int) and not isinstance(parallelism, bool):
        limit = min(count, MAX_PARALLEL_TASKS) if count is not None and count >= 1 else MAX_PARALLEL_TASKS
        if not 1 <= parallelism <= limit:
            out.append(
                Violation(
                    f"{path}.parallelism",
                    "bad-parallelism",
                    f"parallelism is {parallelism}; it must be between 1 and {limit} "
                    f"(task_count {count if count is not None else 'default 1'}, at most "
                    f"{MAX_PARALLEL_TASKS:,} parallel tasks per job)",
                    "lower it, or leave it out and let Batch decide",
                )
            )
        elif group.get("scheduling_policy") == "IN_ORDER" and parallelism != 1:
            out.append(
                Violation(
                    f"{path}.parallelism",
                    "bad-parallelism",
                    "scheduling_policy IN_ORDER needs parallelism 1",
                    "set parallelism: 1, or use AS_SOON_AS_POSSIBLE",
                )
            )
    return out


def check_streaming(job: dict[str, Any], region: str) -> list[Violation]:
    """
    Check the streaming flag, the image's registry and location, and the fields streaming ignores.

    :param job: the normalised job tree.
    :param region: the job's region.
    """
    found = list(containers(job))
    flags = [container.get("enable_image_streaming") for _, container in found]
    out = []
    if any(flags):
        for (path, _), flag in zip(found, flags, strict=True):
            if not flag:
                out.append(
                    Violation(
                        f"{path}.enable_image_streaming",
                        "mixed-streaming",
                        "this container does not stream while others in the job do; "
                        "Batch does not support mixing them",
                        "set enable_image_streaming: true here too (or off everywhere)",
                    )
                )
    else:
        for (path, _), flag in zip(found, flags, strict=True):
            if flag is None:
                out.append(
                    Violation(
                        f"{path}.enable_image_streaming",
                        "streaming-flag-missing",
                        "this container does not say enable_image_streaming, so its image is pulled whole",
                        "set enable_image_streaming: true (or false to opt out on purpose)",
                    )
                )
    for path, container in found:
        if container.get("enable_image_streaming"):
            uri = container.get("image_uri")
            out += check_image(uri if isinstance(uri, str) else "", f"{path}.image_uri", region)
            out += [
                Violation(
                    f"{path}.{name}",
                    "ignored-container-field",
                    f"Batch ignores container field {name!r} when image streaming is on",
                    "remove it (streaming honours only image_uri, commands, entrypoint and volumes)",
                )
                for name, value in container.items()
                if name not in STREAMING_FIELDS and value not in (None, "", False, [], {})
            ]
    return out


def check_image(uri: str, path: str, region: str) -> list[Violation]:
    """
    Check that an image streams to ``region``: Artifact Registry, right shape, right location.

    :param uri: the container's ``image_uri``.
    :param path: its field path.
    :param region: the job's region.
    """
    if not uri:
        return [Violation(path, "bad-image-path", "image_uri is empty", "give the image to run")]
    ref = parse_artifact_registry(uri)
    if ref is None:
        where = "Docker Hub" if is_docker_hub(uri) else split_reference(uri)[0]
        return [
            Violation(
                path,
                "not-artifact-registry",
                f"{uri!r} is on {where}; Batch streams only Artifact Registry images",
                f"push it to {region}-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE and use that path",
            )
        ]
    out = []
    if ref.host in GCR_HOSTS:
        out.append(
            Violation(
                path,
                "gcr-domain-image",
                f"{uri!r} uses a gcr.io host; Batch documents streaming for pkg.dev paths only",
                f"use the same image as {pkg_dev_equivalent(uri)!r}",
            )
        )
    else:
        problems = path_problems(uri)
        if problems:
            return [Violation(path, "bad-image-path", f"{uri!r}: {'; '.join(problems)}", RULE_HINT_PATH)]
    if not location_serves(ref.location, region):
        multi = multi_region_of(region)
        serving = f"{region!r}" + (f" or the {multi!r} multi-region" if multi else "")
        out.append(
            Violation(
                path,
                "location-mismatch",
                f"the image's repository is in {ref.location!r} but the job runs in {region!r}; "
                "Batch streams only from a repository in the job's location",
                f"use a repository in {serving}, or run the job in {ref.location!r}"
                if ref.location not in ("us", "europe", "asia")
                else f"use a repository in {serving}, or run the job in a {ref.location}-* region",
            )
        )
    return out


RULE_HINT_PATH = "write it as LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE[:TAG|@sha256:DIGEST]"
