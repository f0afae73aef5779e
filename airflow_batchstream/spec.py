"""Turn what a DAG author writes into a Batch ``Job``: convenience arguments, dicts, JSON or protos."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from airflow_batchstream.api_version import batch_module

#: Label every job this provider creates carries, so they can be found again.
MANAGED_BY_LABEL = ("managed-by", "airflow-batchstream")
#: Label keys the operator sets itself (see :func:`airflow_labels`); a user may not set them.
AIRFLOW_LABEL_KEYS = frozenset(
    {
        "airflow-dag-id",
        "airflow-task-id",
        "airflow-run-id",
        "airflow-try-number",
        "airflow-map-index",
        MANAGED_BY_LABEL[0],
    }
)
JOB_ID_MAX_LENGTH = 63
_NOT_ID_CHARS = re.compile(r"[^a-z0-9-]+")
_NOT_LABEL_CHARS = re.compile(r"[^a-z0-9_-]+")


class JobSpecError(ValueError):
    """A job specification that cannot be turned into a Batch ``Job``."""


def job_to_dict(job: Any) -> dict[str, Any]:
    """
    Return any accepted job form as a plain dict (field names as given, or camelCase from protos).

    :param job: a dict (camelCase REST JSON or snake_case), a JSON string, or a ``Job`` proto of
        either API version (proto-plus or raw protobuf).
    """
    if isinstance(job, Mapping):
        return dict(job)
    if isinstance(job, (str, bytes)):
        try:
            loaded = json.loads(job)
        except json.JSONDecodeError as error:
            raise JobSpecError(
                f"job: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}); "
                "pass a dict, a JSON object string or a Job proto."
            ) from None
        if not isinstance(loaded, dict):
            raise JobSpecError(f"job: expected a JSON object, got a JSON {type(loaded).__name__}.")
        return loaded
    raw = getattr(type(job), "pb", None)
    message = raw(job) if callable(raw) and not isinstance(job, Message) else job
    if isinstance(message, Message):
        return json_format.MessageToDict(message)
    raise JobSpecError(f"job: expected a dict, a JSON string or a Job proto, got {type(job).__name__}.")


def is_job_proto(job: Any) -> bool:
    """
    Return whether ``job`` is a protobuf message (proto-plus or raw), of either API version.

    :param job: any value.
    """
    return isinstance(job, Message) or callable(getattr(type(job), "pb", None))


def load_yaml_job(text: str, source: str) -> Any:
    """
    Parse a job written in YAML (a ``.yaml``/``.yml`` template file, rendered) into a dict.

    :param text: the rendered YAML.
    :param source: the file's name, for the message.
    :raises JobSpecError: the text is not YAML, or not a mapping.
    """
    import yaml

    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise JobSpecError(f"job: {source} is not valid YAML: {error}") from None
    if not isinstance(loaded, dict):
        raise JobSpecError(f"job: {source} must hold a mapping (the Job), not a {type(loaded).__name__}.")
    return loaded


def parse_job(job: Any, api_version: str) -> Any:
    """
    Parse any accepted job form into a ``Job`` of ``api_version``.

    Field names may be camelCase (as ``gcloud batch jobs submit --config`` takes them) or snake_case.

    :param job: a dict, a JSON string or a ``Job`` proto.
    :param api_version: ``"v1alpha"`` or ``"v1"``.
    """
    job_cls = batch_module(api_version).Job
    if isinstance(job, job_cls):
        return job
    as_dict = job_to_dict(job)
    try:
        return job_cls.from_json(json.dumps(as_dict))
    except json_format.ParseError as error:
        raise JobSpecError(f"job: not a valid Batch {api_version} Job: {error}") from None
    except TypeError as error:
        raise JobSpecError(f"job: not JSON-serialisable: {error}") from None


def convenience_job(
    *,
    image_uri: str,
    commands: Sequence[str] | None = None,
    entrypoint: str | None = None,
    volumes: Sequence[str] | None = None,
    task_count: int = 1,
    parallelism: int | None = None,
    environment: Mapping[str, str] | None = None,
    machine_type: str | None = None,
) -> dict[str, Any]:
    """
    Build the dict of a one-container job that streams its image, with its logs in Cloud Logging.

    :param image_uri: Artifact Registry image, ``LOCATION-docker.pkg.dev/PROJECT/REPO/IMAGE[:TAG]``.
    :param commands: the container's commands (arguments to the entrypoint).
    :param entrypoint: overrides the image's entrypoint.
    :param volumes: ``"host_path:container_path[:mode]"`` mounts.
    :param task_count: how many tasks run the container.
    :param parallelism: how many tasks may run at once; Batch decides when not given.
    :param environment: environment variables of every task.
    :param machine_type: Compute Engine machine type, such as ``e2-standard-4``.
    """
    container: dict[str, Any] = {"image_uri": image_uri, "enable_image_streaming": True}
    if commands is not None:
        container["commands"] = list(commands)
    if entrypoint is not None:
        container["entrypoint"] = entrypoint
    if volumes is not None:
        container["volumes"] = list(volumes)
    task_spec: dict[str, Any] = {"runnables": [{"container": container}]}
    if environment:
        task_spec["environment"] = {"variables": dict(environment)}
    task_group: dict[str, Any] = {"task_count": task_count, "task_spec": task_spec}
    if parallelism is not None:
        task_group["parallelism"] = parallelism
    job: dict[str, Any] = {"task_groups": [task_group], "logs_policy": {"destination": "CLOUD_LOGGING"}}
    if machine_type:
        job["allocation_policy"] = {"instances": [{"policy": {"machine_type": machine_type}}]}
    return job


def label_value(value: str) -> str:
    """
    Make any string a valid Batch label value: lowercase letters, digits, ``_`` and ``-``, 63 at most.

    :param value: the text to fit, such as a DAG id or run id.
    """
    return _NOT_LABEL_CHARS.sub("-", value.lower())[:63]


def task_labels(dag_id: str, task_id: str, run_id: str | None = None) -> dict[str, str]:
    """
    Return the labels naming the Airflow task (and run) a job belongs to, cleaned as jobs carry them.

    :param dag_id: the DAG's id, such as ``Marketing.daily_spend`` (labelled ``marketing-daily_spend``).
    :param task_id: the task's id.
    :param run_id: the DAG run's id; ``None`` leaves the run label out (every run).
    """
    labels = {"airflow-dag-id": label_value(dag_id), "airflow-task-id": label_value(task_id)}
    if run_id is not None:
        labels["airflow-run-id"] = label_value(run_id)
    return labels


def airflow_labels(ti: Any) -> dict[str, str]:
    """
    Return the labels that tie a job to one try of one task instance (and mark it as ours).

    :param ti: the task instance (``dag_id``, ``task_id``, ``run_id``, ``try_number``, ``map_index``).
    """
    labels = {
        **task_labels(ti.dag_id, ti.task_id, ti.run_id),
        "airflow-try-number": str(ti.try_number),
        MANAGED_BY_LABEL[0]: MANAGED_BY_LABEL[1],
    }
    if ti.map_index is not None and ti.map_index >= 0:
        labels["airflow-map-index"] = str(ti.map_index)
    return labels


def with_labels(job: Any, labels: Mapping[str, str]) -> Any:
    """
    Add labels to a ``Job`` proto in place (the job's own labels win on a clash) and return it.

    :param job: a ``Job`` proto of either API version.
    :param labels: labels to add.
    """
    for key, value in labels.items():
        # Not labels.setdefault: protobuf 4's maps insert "" on the lookup it makes, and keep it.
        if key not in job.labels:
            job.labels[key] = value
    return job


def make_job_id(dag_id: str, task_id: str, run_id: str, map_index: int = -1, try_number: int = 1) -> str:
    """
    Return the deterministic Batch job id of one try of one task instance.

    Readable (DAG and task ids, then the try) and unique (a hash of dag, task, run and map index),
    always within the Batch id rule.

    :param dag_id: the DAG's id.
    :param task_id: the task's id.
    :param run_id: the DAG run's id.
    :param map_index: the mapped task's index, ``-1`` when not mapped.
    :param try_number: the task instance's try number.
    """
    key = "\x1f".join((dag_id, task_id, run_id, str(map_index)))
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    suffix = f"-{digest}-t{try_number}"
    stem = _NOT_ID_CHARS.sub("-", f"{dag_id}-{task_id}".lower()).strip("-")
    if not stem[:1].isalpha():
        stem = f"af-{stem}"
    return stem[: JOB_ID_MAX_LENGTH - len(suffix)].rstrip("-") + suffix
