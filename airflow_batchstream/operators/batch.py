"""Operators that run Cloud Batch jobs whose container images stream."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_batchstream.api_version import DEFAULT_API_VERSION, check_api_version
from airflow_batchstream.links.batch import BatchStreamJobLink, BatchStreamJobLogsLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_batchstream.hooks.batch import BatchStreamHook
    from airflow_batchstream.watch import JobWatcher


class BatchStreamSubmitJobOperator(BaseOperator):
    """
    Submit a Cloud Batch job that streams its container image, wait for it, return its summary.

    Give either ``job`` (a whole job specification) or ``image_uri`` with the other convenience
    arguments, which build a one-container job with image streaming on and logs in Cloud Logging.
    The job id is deterministic per task try unless ``job_id`` is given, and the job carries labels
    naming the DAG, task, run and try. The return value (XCom) is a JSON summary with ``job_name``,
    ``job_id``, ``uid``, ``state``, ``create_time``, ``end_time``, ``task_counts`` and
    ``failed_exit_codes``. A job that ends FAILED or CANCELLED fails the task with the reason.

    :param region: Batch region to run in, such as ``us-central1`` (templated).
    :param project_id: Google Cloud project; defaults to the connection's project (templated).
    :param job: the whole job: a dict in REST JSON (camelCase, as ``gcloud batch jobs submit
        --config`` takes it) or snake_case form, a JSON string, or a ``Job`` proto (templated,
        down to nested values).
    :param image_uri: Artifact Registry image to stream; builds the job from the arguments below
        (templated).
    :param commands: container commands, i.e. the entrypoint's arguments (templated).
    :param entrypoint: overrides the image's entrypoint (templated).
    :param volumes: ``"host_path:container_path[:mode]"`` mounts (templated).
    :param task_count: how many tasks run the container.
    :param parallelism: how many tasks may run at once; Batch decides when not given.
    :param environment: environment variables of every task (templated).
    :param machine_type: Compute Engine machine type, such as ``e2-standard-4`` (templated).
    :param labels: labels added to the job, besides the ones naming the Airflow task (templated).
    :param job_id: the Batch job id; by default one derived from DAG, task, run, map index and try
        (templated).
    :param gcp_conn_id: Airflow connection with the Google credentials.
    :param impersonation_chain: service account to impersonate, or a chain of them (templated).
    :param api_version: ``"v1alpha"`` (default) or ``"v1"`` (the generally available API).
    :param poll_interval: the longest wait, in seconds, between two looks at the job; the first
        looks come sooner (0.5 s, doubling up to this).
    :param fetch_logs: show the job's task output (Cloud Logging ``batch_task_logs``) in the task log,
        live while waiting, each line prefixed with its task index.
    :param max_log_lines: show at most this many lines of the job's output; the task log says how
        many more there were and links to all of them.
    """

    template_fields: Sequence[str] = (
        "region",
        "project_id",
        "job",
        "image_uri",
        "commands",
        "entrypoint",
        "volumes",
        "environment",
        "machine_type",
        "labels",
        "job_id",
        "impersonation_chain",
    )
    ui_color = "#d4e4fc"
    operator_extra_links = (BatchStreamJobLink(), BatchStreamJobLogsLink())

    def __init__(
        self,
        *,
        region: str,
        project_id: str | None = None,
        job: Any = None,
        image_uri: str | None = None,
        commands: Sequence[str] | None = None,
        entrypoint: str | None = None,
        volumes: Sequence[str] | None = None,
        task_count: int = 1,
        parallelism: int | None = None,
        environment: Mapping[str, str] | None = None,
        machine_type: str | None = None,
        labels: Mapping[str, str] | None = None,
        job_id: str | None = None,
        gcp_conn_id: str = "google_cloud_default",
        impersonation_chain: str | Sequence[str] | None = None,
        api_version: str = DEFAULT_API_VERSION,
        poll_interval: float = 10.0,
        fetch_logs: bool = True,
        max_log_lines: int = 10_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (job is None) == (image_uri is None):
            raise ValueError(
                f"{self.task_id}: give either job= (a whole job specification) or image_uri= "
                "(with commands=, entrypoint=, ... to build one), not both and not neither."
            )
        check_api_version(api_version)
        if max_log_lines < 0:
            raise ValueError(f"{self.task_id}: max_log_lines must be 0 or more, not {max_log_lines}.")
        self.region = region
        self.project_id = project_id
        self.job = job
        self.image_uri = image_uri
        self.commands = commands
        self.entrypoint = entrypoint
        self.volumes = volumes
        self.task_count = task_count
        self.parallelism = parallelism
        self.environment = environment
        self.machine_type = machine_type
        self.labels = labels
        self.job_id = job_id
        self.gcp_conn_id = gcp_conn_id
        self.impersonation_chain = impersonation_chain
        self.api_version = api_version
        self.poll_interval = poll_interval
        self.fetch_logs = fetch_logs
        self.max_log_lines = max_log_lines

    @cached_property
    def hook(self) -> BatchStreamHook:
        """The hook, built on first use so that parsing a DAG imports no Google client code."""
        from airflow_batchstream.hooks.batch import BatchStreamHook

        return BatchStreamHook(
            gcp_conn_id=self.gcp_conn_id,
            impersonation_chain=self.impersonation_chain,
            api_version=self.api_version,
        )

    def build_job(self) -> Any:
        """Return the ``Job`` proto this task submits, from ``job`` or the convenience arguments."""
        from airflow_batchstream.spec import convenience_job, parse_job

        if self.job is not None:
            return parse_job(self.job, self.api_version)
        spec = convenience_job(
            image_uri=self.image_uri or "",
            commands=self.commands,
            entrypoint=self.entrypoint,
            volumes=self.volumes,
            task_count=self.task_count,
            parallelism=self.parallelism,
            environment=self.environment,
            machine_type=self.machine_type,
        )
        return parse_job(spec, self.api_version)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_batchstream.spec import MANAGED_BY_LABEL, label_value, make_job_id, with_labels

        ti = context["ti"]
        job = self.build_job()
        airflow_labels = {
            "airflow-dag-id": label_value(ti.dag_id),
            "airflow-task-id": label_value(ti.task_id),
            "airflow-run-id": label_value(ti.run_id),
            "airflow-try-number": str(ti.try_number),
            MANAGED_BY_LABEL[0]: MANAGED_BY_LABEL[1],
        }
        with_labels(job, {**dict(self.labels or {}), **airflow_labels})
        job_id = self.job_id or make_job_id(
            ti.dag_id, ti.task_id, ti.run_id, -1 if ti.map_index is None else ti.map_index, ti.try_number
        )
        project_id = self.project_id or self.hook.project_id
        created = self.hook.submit_job(
            job=job,
            job_id=job_id,
            region=self.region,
            project_id=project_id,
            request_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"airflow-batchstream/{project_id}/{job_id}")),
        )
        self.log.info("Submitted Batch job %s (uid %s).", created.name, created.uid)
        links = self._persist_links(context, created)
        self.log.info("Console: %s", links[BatchStreamJobLink.key])
        from airflow_batchstream.watch import JobWatcher

        watcher = JobWatcher.for_job(self.log, self.hook, created, self.fetch_logs, self.max_log_lines)
        return self._finish(self._wait(created.name, watcher), watcher)

    @staticmethod
    def _persist_links(context: Context, job: Any) -> dict[str, str]:
        """Store the console and logs links in XCom now, so the UI shows them while the job runs."""
        from airflow_batchstream.links.batch import persist_job_links

        return persist_job_links(context, job.name, job.uid)

    def _wait(self, job_name: str, watcher: JobWatcher) -> Any:
        """Poll the job until it reaches a terminal state; log progress and output as they change."""
        from airflow_batchstream.polling import poll_delays
        from airflow_batchstream.summary import TERMINAL_STATES, state_name

        for delay in poll_delays(self.poll_interval):
            job = self.hook.get_job(job_name)
            if state_name(job) in TERMINAL_STATES:
                return job
            watcher.observe(job)
            time.sleep(delay)
        raise AssertionError("poll_delays never ends")

    def _finish(self, job: Any, watcher: JobWatcher) -> dict[str, Any]:
        """Log the end, send metrics, return the summary of a successful job; raise for any other end."""
        from airflow_batchstream.metrics import emit_job_metrics
        from airflow_batchstream.summary import failure_reason, summarize_job

        summary = summarize_job(job)
        watcher.finish(job, summary)
        emit_job_metrics(summary)
        if summary["state"] != "SUCCEEDED":
            raise AirflowException(failure_reason(job))
        return summary
