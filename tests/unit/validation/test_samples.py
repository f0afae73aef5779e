"""The official Batch samples, placeholders filled and streaming turned on: each gets its deserved verdict.

``read_sample`` cannot fill these files (``$(hostname)`` in scripts is not a ``string.Template``
placeholder), so ``${Name}`` and ``<your ...>`` placeholders are replaced here, by name.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from samples import SAMPLES_DIR

from airflow_batchstream.validation import validate_job

IMAGE = "us-central1-docker.pkg.dev/demo-project/containers/app:1"
DOLLAR = {
    "Location": "us-central1",
    "ProjectID": "demo-project",
    "RepositoryName": "containers",
    "Image": "app:1",
    "BootDiskImage": "projects/debian-cloud/global/images/family/debian-12",
    "BootDiskSize": "50",
    "BootDiskType": "pd-balanced",
    "REMOTE_PATH": "demo-bucket",
    "MOUNT_PATH": "/mnt/disks/share",
    "MOUNT_OPTIONS": "rw,async",
    "INSTALL_GPU_DRIVERS": "true",
    "MACHINE_TYPE": "n1-standard-4",
    "GPU_TYPE": "nvidia-tesla-t4",
    "GPU_COUNT": "1",
    "ALLOWED_LOCATION": "regions/us-central1",
    "DEVICE_NAME": "scratch",
    "LOCAL_SSD_SIZE": "375",
    "CONTAINER_IMAGE_URI": IMAGE,
    "BLOCK_EXTERNAL_NETWORK": "true",
    "HOST_PROJECT_ID": "demo-host",
    "NETWORK": "default",
    "REGION": "us-central1",
    "SUBNET": "default",
    "NO_EXTERNAL_IP_ADDRESS": "true",
    "SERVER": "10.0.0.2",
    "FOLLOWING_SCRIPT": "echo done",
    "TASK_COUNT": "4",
    "PARALLELISM": "2",
    "TASK_COUNT_PER_NODE": "2",
    "ALLOWED_LOCATIONS": "regions/us-central1",
    "EXT_DISK_SELF_LINK": "projects/demo-project/zones/us-central1-a/disks/d",
    "ALLOWED_REGION": "regions/us-central1",
    "ALLOWED_ZONE": "zones/us-central1-a",
    "NEW_DISK_SIZE": "100",
    "NEW_DISK_TYPE": "pd-balanced",
    "JobStateTopic": "jobs",
    "TaskStateTopic": "tasks",
    "ServiceAccountEmail": "batch@demo-project.iam.gserviceaccount.com",
    "InstanceTemplateWithSA": "projects/demo-project/global/instanceTemplates/batch",
    "CONTAINER_IMAGE": "us-central1-docker.pkg.dev/demo-project/containers/axolotl:1",
    "CONTAINER_COMMAND": "accelerate launch -m axolotl.cli.train config.yaml",
    "SHM_SIZE": "1g",
    "WANDB_API_KEY_SECRET": "projects/demo-project/secrets/wandb/versions/1",
    "HF_TOKEN_SECRET": "projects/demo-project/secrets/hf/versions/1",
    "BUCKET_PATH": "demo-bucket",
    "CPU_MILLI": "8000",
    "MEMORY_MIB": "30000",
    "BOOT_DISK_SIZE_GB": "200",
    "RESERVATION": "NO_RESERVATION",
    "BATCH_SERVICE_ACCOUNT_EMAIL": "batch@demo-project.iam.gserviceaccount.com",
    "LOGS_DESTINATION": "CLOUD_LOGGING",
}
ANGLE = {
    "your project": "demo-project",
    "your repo": "containers",
    "your image name": "app:1",
    "CUSTOM_GPU_TYPE": "nvidia-l4",
    "CUSTOM_BOOT_IMAGE": "batch-hpc-rocky",
    "CUSTOM_BOOT_DISK_SIZE": "50",
    "SELECTED_ZONE": "us-central1-a",
    "SRUN_COMMAND": "srun hostname",
    "YOUR PROJECT ID": "demo-project",
}
R = "task_groups[0].task_spec.runnables"

#: file -> the (rule, path) pairs it deserves; empty: it streams as written.
VERDICTS: dict[str, set[tuple[str, str]]] = {
    "api-samples/image-streaming/image_streaming_simple_job.json": set(),
    "busybox/job.json": {("not-artifact-registry", f"{R}[0].container.image_uri")},
    "api-samples/pubsub/pubsub.json": {("not-artifact-registry", f"{R}[0].container.image_uri")},
    "api-samples/network/container_job_block_external_network.json": {
        ("ignored-container-field", f"{R}[0].container.block_external_network")
    },
    "gen-ai/fine-tune-axolotl/config.json": {("ignored-container-field", f"{R}[0].container.options")},
    # commands given as a string where Batch wants a list; options ignored by streaming
    "mpi-container/job.yaml": {
        ("parse-error", f"{R}[0].container.commands"),
        ("parse-error", f"{R}[3].container.commands"),
        ("ignored-container-field", f"{R}[0].container.options"),
        ("ignored-container-field", f"{R}[3].container.options"),
    },
    "train-cnn/normalize.yaml": set(),
    # volumes given as a string where Batch wants a list; options ignored by streaming
    "train-cnn/train.yaml": {
        ("parse-error", f"{R}[0].container.volumes"),
        ("parse-error", f"{R}[2].container.volumes"),
        ("ignored-container-field", f"{R}[2].container.options"),
    },
    # script-only jobs: nothing to stream, judged on shape and types alone
    "api-samples/boot-disk/job_with_custom_boot_disk.json": set(),
    "api-samples/gcs/job_with_gcs_volume.json": set(),
    "api-samples/gpu/gpu_job_with_driver_installation.json": set(),
    "api-samples/local-ssd/job_with_local_ssd_volume.json": {
        ("parse-error", "task_groups[0].task_spec.volumes[0].mount_options")
    },
    "api-samples/network/job_with_custom_network.json": set(),
    "api-samples/nfs/job_with_nfs_volume.json": set(),
    "api-samples/ops-agent/multi_tasks_per_node_w_gpu.yaml": set(),
    "api-samples/ops-agent/one_simple_task_per_node.yaml": set(),
    "api-samples/ops-agent/one_task_per_node_w_gpu.yaml": set(),
    "api-samples/persistent-disk/job_with_existing_pd_volume.json": set(),
    "api-samples/persistent-disk/job_with_new_pd_volume.json": {
        ("parse-error", "task_groups[0].task_spec.volumes[0].mount_options")
    },
    "api-samples/scheduling/task_run_in_order.json": set(),
    "api-samples/scheduling/task_run_in_parallel.json": set(),
    "api-samples/service-account/job_with_a_sa.json": set(),
    "api-samples/service-account/template_with_a_sa.json": set(),
    "api-samples/spot-preemption-handling/task_retry_including_preemption.json": set(),
    "api-samples/spot-preemption-handling/task_retry_purely_on_preemption.json": set(),
    # mis-indented YAML: instances and destination land at the top level of the job
    "gen-ai/fine-tune-llama2/job.yaml": {("unknown-field", "instances"), ("unknown-field", "destination")},
    "simple-mpi/job.yaml": set(),
    # instances written as one object where Batch wants a list
    "slurm-to-batch/examples/example_batch_job.yaml": {("parse-error", "allocation_policy.instances")},
    "slurm-to-batch/examples/example_batch_job_template.yaml": {
        ("parse-error", "allocation_policy.instances")
    },
    "transcoding/job.json": set(),
    "wrf/job.yaml": set(),
}


def load_sample(relative: str) -> Any:
    """
    Read a sample with its placeholders filled, parsed from JSON or YAML.

    :param relative: path below ``batch-samples/``.
    """
    path = SAMPLES_DIR / relative
    if not path.exists():
        pytest.skip(f"{path} is not here: the shared samples sit beside a developer checkout")
    text = re.sub(r"\$\{(\w+)\}", lambda m: DOLLAR.get(m[1], m[0]), path.read_text())
    text = re.sub(r"<([^<>]+)>", lambda m: ANGLE.get(m[1], "10.0.0.2" if "IP" in m[1] else "/share"), text)
    return yaml.safe_load(text) if path.suffix == ".yaml" else json.loads(text)


def stream_containers(spec: Any) -> Any:
    """
    Turn streaming on for every container runnable, in place; return the spec.

    :param spec: a parsed sample.
    """
    groups = spec.get("taskGroups") or spec.get("task_groups") or []
    for group in groups:
        task_spec = group.get("taskSpec") or group.get("task_spec") or {}
        for runnable in task_spec.get("runnables") or []:
            if isinstance(runnable.get("container"), dict):
                runnable["container"]["enableImageStreaming"] = True
    return spec


def test_every_sample_file_has_a_verdict():
    if not SAMPLES_DIR.exists():
        pytest.skip("the shared samples are not here")
    files = {
        str(p.relative_to(SAMPLES_DIR)) for p in SAMPLES_DIR.rglob("*") if p.suffix in (".json", ".yaml")
    }
    assert files == set(VERDICTS)


@pytest.mark.parametrize("relative", sorted(VERDICTS))
def test_sample_gets_its_verdict(relative):
    spec = stream_containers(load_sample(relative))
    found = {(v.rule, v.path) for v in validate_job(spec, region="us-central1")}
    assert found == VERDICTS[relative]
