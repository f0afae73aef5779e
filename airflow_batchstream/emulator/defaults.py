"""What Batch fills in on a created job when the request leaves it out, and the VMs it reports.

Documented defaults, applied to the stored job (so GetJob and ListJobs show them):

* ``labels["batch-job-id"]``: the job's id ("Organize resources using labels"); a request that
  sets it is refused, as overriding a predefined label is.
* ``task_groups[0].name``, ``task_count`` (1, or one per ``task_environments`` entry) and
  ``parallelism`` (the task count) are set by :mod:`.engine`.
* ``task_spec.compute_resource.cpu_milli``: 2000 ("If undefined, the default value is 2000").
* ``allocation_policy.service_account.email``: the project's default Compute Engine service
  account, ``PROJECT_NUMBER-compute@developer.gserviceaccount.com``; the emulator derives a stable
  12-digit number from the project id, since it has no real project.
* ``allocation_policy.instances[].policy.provisioning_model``: ``STANDARD`` when unspecified
  (an instance policy is added when the job has none).
* ``allocation_policy.location.allowed_locations``: ``["regions/REGION"]`` of the job's region.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

import grpc

from airflow_batchstream.emulator.model import (
    DEFAULT_CPU_MILLI,
    DEFAULT_MACHINE_TYPE,
    GROUP_ID,
    JOB_ID_LABEL,
    EmulatorError,
)

_STANDARD = 1  # AllocationPolicy.ProvisioningModel.STANDARD, the same number in v1 and v1alpha
_VCPUS = re.compile(r"-(\d+)$")


def check_labels(spec: Any) -> None:
    """Refuse a job that sets a label Batch itself sets.

    :param spec: the requested Job (protobuf message).
    :raises EmulatorError: INVALID_ARGUMENT naming the label.
    """
    if JOB_ID_LABEL in spec.labels:
        raise EmulatorError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"job.labels[{JOB_ID_LABEL!r}] is a predefined label Batch sets to the job id; remove it",
        )


def project_number(project: str) -> int:
    """A stable 12-digit stand-in for a project's number.

    :param project: the project id.
    """
    digest = int(hashlib.sha256(project.encode()).hexdigest()[:12], 16)
    return 100_000_000_000 + digest % 900_000_000_000


def apply_defaults(spec: Any, job_id: str, project: str, location: str) -> None:
    """Fill in the fields Batch sets on a created job (see the module docstring).

    :param spec: the stored Job (protobuf message), changed in place.
    :param job_id: the job's id.
    :param project: the project id.
    :param location: the job's region.
    """
    spec.labels[JOB_ID_LABEL] = job_id
    resource = spec.task_groups[0].task_spec.compute_resource
    if resource.cpu_milli == 0:
        resource.cpu_milli = DEFAULT_CPU_MILLI
    policy = spec.allocation_policy
    if not policy.service_account.email:
        policy.service_account.email = f"{project_number(project)}-compute@developer.gserviceaccount.com"
    if len(policy.instances) == 0:
        policy.instances.add()
    for instance in policy.instances:
        if not instance.instance_template and instance.policy.provisioning_model == 0:
            instance.policy.provisioning_model = _STANDARD
    if len(policy.location.allowed_locations) == 0:
        policy.location.allowed_locations.append(f"regions/{location}")


def fill_instances(status: Any, spec: Any, task_count: int) -> None:
    """Report the VMs a group uses in ``status.task_groups[group0].instances``.

    The machine type is the job's own (``allocation_policy.instances[0].policy.machine_type``) or
    e2-standard-4; ``task_pack`` is how many tasks fit on one VM: ``task_count_per_node`` when set,
    otherwise the machine's vCPUs divided by each task's ``cpu_milli``, at most the task count.

    :param status: the JobStatus message to fill.
    :param spec: the stored Job.
    :param task_count: the group's task count.
    """
    instance = status.task_groups[GROUP_ID].instances.add()
    policy = spec.allocation_policy.instances[0].policy if len(spec.allocation_policy.instances) else None
    instance.machine_type = (policy.machine_type if policy is not None else "") or DEFAULT_MACHINE_TYPE
    instance.provisioning_model = (
        policy.provisioning_model if policy is not None and policy.provisioning_model else _STANDARD
    )
    group = spec.task_groups[0]
    if group.task_count_per_node:
        pack = group.task_count_per_node
    else:
        match = _VCPUS.search(instance.machine_type)
        vcpus = int(match.group(1)) if match else 1
        pack = max(
            1, math.floor(vcpus * 1000 / (group.task_spec.compute_resource.cpu_milli or DEFAULT_CPU_MILLI))
        )
    instance.task_pack = max(1, min(pack, task_count))
