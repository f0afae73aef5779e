"""Operators that run Cloud Batch jobs whose container images stream."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_batchstream.api_version import DEFAULT_API_VERSION, check_api_version
from airflow_batchstream.deferral import resolve_deferrable
from airflow_batchstream.hook_mixin import BatchStreamHookMixin
from airflow_batchstream.links.batch import BatchStreamJobLink, BatchStreamJobLogsLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_batchstream.watch import JobWatcher


class BatchStreamSubmitJobOperator(BatchStreamHookMixin, BaseOperator):
    """
    Submit a Cloud Batch job that streams its container image, wait for it, return its summary.

    Give either ``job`` (a whole job specification) or ``image_uri`` with the other convenience
    arguments, which build a one-container job with image streaming on and logs in Cloud Logging.
    The job id is deterministic per task try unless ``job_id`` is given, and the job carries labels
    naming the DAG, task, run and try. The return value (XCom) is a JSON summary with ``job_name``,
    ``job_id``, ``uid``, ``state``, ``create_time``, ``end_time``, ``task_counts``,
    ``failed_exit_codes``, ``console_url``, ``logs_url``, ``image_streaming`` and the phase times
    ``queued_seconds``, ``startup_seconds``, ``run_seconds``; the console and logs links are in XCom
    (and on the task page) as soon as the job exists. A job that ends FAILED or CANCELLED fails the
    task with the reason.

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
    :param validation: image-streaming validation before any API call: ``"strict"`` (default: any
        violation fails the task), ``"warn"`` (log each, submit anyway) or ``"off"``.
    :param preflight: network checks of the images' manifests and of the Container File System
        API: ``"warn"`` (default: problems fail the task, a check that cannot run for lack of
        permission only warns), ``"strict"`` (that fails too) or ``"off"``.
    :param dry_run: build, validate, preflight and log the final job JSON, submit nothing, and
        return ``{"dry_run": True, "job_name": ..., "job": ...}``.
    :param deferrable: wait in the triggerer instead of a worker slot; ``None`` (default) reads the
        ``[operators] default_deferrable`` setting when the operator is built.
    :param wait_for_completion: wait for the job to end; ``False`` returns the summary right after
        submission.
    :param timeout: seconds the job may take from its creation; written into the job as every task
        group's ``max_run_duration`` (unless the job sets one) and enforced here: when it passes, the
        job is cancelled and the try fails.
    :param cancel_on_kill: cancel the job when the task is killed (``on_kill``, or the trigger's).
    :param retry_on_cancel: let Airflow retry a task whose job was CANCELLED; by default a cancelled
        job fails the task without retries.
    :param fetch_logs: show the job's task output (Cloud Logging ``batch_task_logs``) in the task log,
        each line prefixed with its task index: live during a synchronous wait, all at once when a
        deferred task resumes.
    :param max_log_lines: show at most this many lines of the job's output; the task log says how
        many more there were and where to read them.
    :param notification_topic: Pub/Sub topic (``projects/P/topics/T``, or ``T`` in the job's
        project) the job publishes its state changes to (a ``JOB_STATE_CHANGED`` notification is
        added to the job).
    :param notification_subscription: Pub/Sub subscription (``projects/P/subscriptions/S`` or ``S``)
        on that topic: the deferred wait pulls it instead of polling (push waiting).
    :param create_notification_subscription: create the topic and the subscription before the job
        when they are missing.
    :param safety_poll_interval: in push waiting, read the job this often anyway (seconds), in case
        a notification is lost.
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
        validation: str = "strict",
        preflight: str = "warn",
        dry_run: bool = False,
        deferrable: bool | None = None,
        wait_for_completion: bool = True,
        timeout: float | None = None,
        cancel_on_kill: bool = True,
        retry_on_cancel: bool = False,
        fetch_logs: bool = True,
        max_log_lines: int = 10_000,
        notification_topic: str | None = None,
        notification_subscription: str | None = None,
        create_notification_subscription: bool = False,
        safety_poll_interval: float = 300.0,
        **kwargs: Any,
    ) -> None:
        from airflow_batchstream.notifications import check_push_arguments

        super().__init__(**kwargs)
        if (job is None) == (image_uri is None):
            raise ValueError(
                f"{self.task_id}: give either job= (a whole job specification) or image_uri= "
                "(with commands=, entrypoint=, ... to build one), not both and not neither."
            )
        check_api_version(api_version)
        if timeout is not None and timeout <= 0:
            raise ValueError(
                f"{self.task_id}: timeout must be a positive number of seconds, not {timeout!r}."
            )
        if max_log_lines < 0:
            raise ValueError(f"{self.task_id}: max_log_lines must be 0 or more, not {max_log_lines!r}.")
        if poll_interval <= 0:
            raise ValueError(f"{self.task_id}: poll_interval must be positive, not {poll_interval!r}.")
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
        if validation not in ("strict", "warn", "off") or preflight not in ("warn", "strict", "off"):
            raise ValueError(
                f"{self.task_id}: validation= takes 'strict', 'warn' or 'off' and preflight= takes "
                f"'warn', 'strict' or 'off'; got {validation!r} and {preflight!r}."
            )
        self.validation = validation
        self.preflight = preflight
        # BaseOperator already has a dry_run() method: keep the flag under another name.
        self.is_dry_run = dry_run
        self.deferrable = resolve_deferrable(deferrable)
        self.wait_for_completion = wait_for_completion
        self.timeout = timeout
        self.cancel_on_kill = cancel_on_kill
        self.retry_on_cancel = retry_on_cancel
        self.fetch_logs = fetch_logs
        self.max_log_lines = max_log_lines
        check_push_arguments(
            self.task_id,
            notification_topic,
            notification_subscription,
            create_notification_subscription,
            safety_poll_interval,
        )
        self.notification_topic = notification_topic
        self.notification_subscription = notification_subscription
        self.create_notification_subscription = create_notification_subscription
        self.safety_poll_interval = safety_poll_interval
        self._subscription: str | None = None
        self._job_name: str | None = None
        self._watcher: JobWatcher | None = None

    def job_spec(self) -> Any:
        """Return the job as given: ``job``, or the dict the convenience arguments build."""
        from airflow_batchstream.spec import convenience_job

        if self.job is not None:
            return self.job
        return convenience_job(
            image_uri=self.image_uri or "",
            commands=self.commands,
            entrypoint=self.entrypoint,
            volumes=self.volumes,
            task_count=self.task_count,
            parallelism=self.parallelism,
            environment=self.environment,
            machine_type=self.machine_type,
        )

    def build_job(self) -> Any:
        """Return the ``Job`` proto this task submits, from ``job`` or the convenience arguments."""
        from airflow_batchstream.spec import parse_job

        job = parse_job(self.job_spec(), self.api_version)
        if self.timeout is not None:
            for group in job.task_groups:
                if "max_run_duration" not in group.task_spec:
                    group.task_spec.max_run_duration = timedelta(seconds=self.timeout)
        if self.notification_topic:
            from airflow_batchstream.notifications import add_state_notification, resource_path

            project_id = self.project_id or self.hook.project_id
            add_state_notification(
                job, resource_path(self.notification_topic, "topics", project_id, "notification_topic")
            )
        return job

    def execute(self, context: Context) -> dict[str, Any] | None:
        from airflow_batchstream.preflight.submission import check_submission
        from airflow_batchstream.summary import summarize_job

        check_submission(
            self.hook,
            self.job_spec(),
            region=self.region,
            job_id=self.job_id,
            project_id=self.project_id,
            validation=self.validation,
            preflight=self.preflight,
            log=self.log,
        )
        if self.is_dry_run:
            return self._dry_run(context)
        self._subscription = self._prepare_push()
        job = self._submit_or_reattach(context)
        self._job_name = job.name
        self._persist_links(context, job)
        if not self.wait_for_completion:
            return summarize_job(job)
        deadline = self._deadline(job)
        if self.deferrable:
            return self._defer(context, job, deadline)
        return self.execute_complete(context, self._wait_sync(job, deadline))

    # ----------------------------------------------------------------- submission

    def _job_id_for_try(self, context: Context, try_number: int) -> str:
        """Return the job id of one try: deterministic, or the user's ``job_id`` (``-tN`` after try 1)."""
        from airflow_batchstream.spec import JOB_ID_MAX_LENGTH, make_job_id

        ti = context["ti"]
        if not self.job_id:
            map_index = -1 if ti.map_index is None else ti.map_index
            return make_job_id(ti.dag_id, ti.task_id, ti.run_id, map_index, try_number)
        if try_number == 1:
            return self.job_id
        suffix = f"-t{try_number}"
        return self.job_id[: JOB_ID_MAX_LENGTH - len(suffix)].rstrip("-") + suffix

    def _submit_or_reattach(self, context: Context) -> Any:
        """
        Return the job this try waits for: an earlier try's live or succeeded job, else a new one.

        A CreateJob whose response was lost is retried with the same ``request_id`` (the service returns
        the job it made); ALREADY_EXISTS (a create that landed before this process died) reads that job.
        """
        from google.api_core.exceptions import AlreadyExists

        from airflow_batchstream.hooks.batch import job_path

        project_id = self.project_id or self.hook.project_id
        earlier = self._earlier_try_job(context, project_id)
        if earlier is not None:
            return earlier
        job_id = self._job_id_for_try(context, context["ti"].try_number)
        job = self._labelled_job(context)
        try:
            created = self.hook.submit_job(
                job=job,
                job_id=job_id,
                region=self.region,
                project_id=project_id,
                request_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"airflow-batchstream/{project_id}/{job_id}")),
            )
        except AlreadyExists:
            created = self.hook.get_job(job_path(project_id, self.region, job_id))
            self.log.info(
                "Batch job %s already exists (an earlier attempt of this try created it); waiting for it.",
                created.name,
            )
            return created
        self.log.info("Submitted Batch job %s (uid %s).", created.name, created.uid)
        return created

    def _prepare_push(self) -> str | None:
        """Create the notification topic and subscription if asked (before the job, so no message is
        lost); return the subscription the trigger pulls, if any."""
        from airflow_batchstream.notifications import prepare_push

        if not (self.notification_topic or self.notification_subscription):
            return None
        _, subscription = prepare_push(
            self.notification_topic,
            self.notification_subscription,
            self.create_notification_subscription,
            self.project_id or self.hook.project_id,
            self.hook.get_credentials,
            self.log,
        )
        return subscription

    def _labelled_job(self, context: Context) -> Any:
        from airflow_batchstream.spec import MANAGED_BY_LABEL, label_value, with_labels

        ti = context["ti"]
        airflow_labels = {
            "airflow-dag-id": label_value(ti.dag_id),
            "airflow-task-id": label_value(ti.task_id),
            "airflow-run-id": label_value(ti.run_id),
            "airflow-try-number": str(ti.try_number),
            MANAGED_BY_LABEL[0]: MANAGED_BY_LABEL[1],
        }
        if ti.map_index is not None and ti.map_index >= 0:
            airflow_labels["airflow-map-index"] = str(ti.map_index)
        return with_labels(self.build_job(), {**dict(self.labels or {}), **airflow_labels})

    def _dry_run(self, context: Context) -> dict[str, Any]:
        """Log the job this try would submit and return what a dry run reports; no API call."""
        from airflow_batchstream.preflight.submission import dry_run_result

        job_id = self._job_id_for_try(context, context["ti"].try_number)
        project_id = self.project_id or self.hook.project_id
        job = self._labelled_job(context)
        return dry_run_result(job, job_id=job_id, region=self.region, project_id=project_id, log=self.log)

    def _earlier_try_job(self, context: Context, project_id: str) -> Any:
        """Return the newest earlier try's job that is still active or succeeded, else ``None``."""
        from google.api_core.exceptions import NotFound

        from airflow_batchstream.hooks.batch import job_path
        from airflow_batchstream.outcome import ACTIVE_STATES
        from airflow_batchstream.summary import state_name

        for try_number in range(context["ti"].try_number - 1, 0, -1):
            name = job_path(project_id, self.region, self._job_id_for_try(context, try_number))
            try:
                job = self.hook.get_job(name)
            except NotFound:
                continue
            state = state_name(job)
            if state in ACTIVE_STATES or state == "SUCCEEDED":
                self.log.info("Reattaching to Batch job %s of try %d, which is %s.", name, try_number, state)
                return job
            self.log.info("Batch job %s of try %d ended %s; leaving it alone.", name, try_number, state)
        return None

    @staticmethod
    def _persist_links(context: Context, job: Any) -> None:
        """Store the console and logs links in XCom now, so the UI shows them while the job runs."""
        from airflow_batchstream.links.batch import persist_job_links

        persist_job_links(context, job.name, job.uid)

    # -------------------------------------------------------------------- waiting

    def _deadline(self, job: Any) -> float | None:
        """Return the wall-clock deadline of the wait: the job's creation plus ``timeout``."""
        if self.timeout is None:
            return None
        created = job.create_time.timestamp() if job.create_time else time.time()
        return created + self.timeout

    def _wait_sync(self, job: Any, deadline: float | None) -> dict[str, Any]:
        """Poll the job in this worker until it ends or the deadline passes; return the event."""
        from google.api_core.exceptions import GoogleAPICallError, NotFound

        from airflow_batchstream.outcome import ended_event, error_event, vanished_event
        from airflow_batchstream.polling import poll_delays
        from airflow_batchstream.watch import JobWatcher

        self._watcher = JobWatcher.for_job(self.log, self.hook, job, self.fetch_logs, self.max_log_lines)
        for delay in poll_delays(self.poll_interval):
            event = ended_event(job)
            if event is not None:
                return event
            self._watcher.observe(job)
            if deadline is not None and time.time() >= deadline:
                return self._expire(job)
            time.sleep(delay if deadline is None else max(0.0, min(delay, deadline - time.time())))
            try:
                job = self.hook.get_job(job.name, None if deadline is None else deadline - time.time())
            except NotFound:
                return vanished_event(job.name)
            except GoogleAPICallError as error:
                if deadline is not None and time.time() >= deadline:
                    return self._expire(job)
                return error_event(job.name, error)
        raise AssertionError("poll_delays never ends")

    def _expire(self, job: Any) -> dict[str, Any]:
        from google.api_core.exceptions import GoogleAPICallError

        from airflow_batchstream.outcome import timeout_event

        self.log.warning("timeout=%ss passed: cancelling Batch job %s.", self.timeout, job.name)
        try:
            self.hook.cancel_job(job.name)
        except GoogleAPICallError as error:
            return timeout_event(job.name, job, cancelled=False, cancel_error=str(error))
        return timeout_event(job.name, job, cancelled=True)

    def _defer(self, context: Context, job: Any, deadline: float | None) -> dict[str, Any] | None:
        """Finish now if the job already ended, else hand the wait to the trigger."""
        from airflow_batchstream.outcome import ended_event
        from airflow_batchstream.triggers.batch import BatchStreamJobTrigger

        event = ended_event(job)
        if event is not None:
            return self.execute_complete(context, event)
        self.log.info("Deferring: the triggerer waits for Batch job %s.", job.name)
        self.defer(
            trigger=BatchStreamJobTrigger(
                job_name=job.name,
                gcp_conn_id=self.gcp_conn_id,
                impersonation_chain=self.impersonation_chain,
                api_version=self.api_version,
                poll_interval=self.poll_interval,
                deadline=deadline,
                cancel_on_deadline=True,
                cancel_on_kill=self.cancel_on_kill,
                notification_subscription=self._subscription,
                safety_poll_interval=self.safety_poll_interval,
            ),
            method_name="execute_complete",
        )
        return None  # unreachable: defer() raises TaskDeferred

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """
        Turn the end of a wait into the task's result: the summary, or an exception saying why.

        SUCCEEDED returns the summary. FAILED (a spot preemption too), a vanished or deleted job, a
        passed timeout and API errors raise ``AirflowException`` (Airflow may retry); CANCELLED raises
        ``AirflowFailException`` (no retry) unless ``retry_on_cancel``.

        :param context: the task's context.
        :param event: the trigger's (or the synchronous wait's) event payload.
        """
        from airflow_batchstream.outcome import ENDED, TIMEOUT

        self._job_name = event["job_name"]
        self._report_end(event.get("summary"))  # its last progress line says "is SUCCEEDED" on success
        if event["status"] == ENDED and event["state"] == "SUCCEEDED":
            return event["summary"]
        message = event["message"]
        if event["status"] == TIMEOUT:
            raise AirflowException(f"timeout={self.timeout}s passed. {message}")
        if event["state"] in ("CANCELLED", "CANCELLATION_IN_PROGRESS") and not self.retry_on_cancel:
            raise AirflowFailException(f"{message} A cancelled job is not retried (retry_on_cancel=False).")
        raise AirflowException(message)

    def _report_end(self, summary: dict[str, Any] | None) -> None:
        """Log the job's last progress, its remaining output and its times; send its metrics."""
        from airflow_batchstream.metrics import emit_job_metrics
        from airflow_batchstream.watch import report_resumed

        if not summary or "uid" not in summary:
            return  # the job vanished or could not be read: nothing more to show
        if self._watcher is not None:
            self._watcher.finish(summary)
        else:
            report_resumed(self.log, self.hook, summary, self.fetch_logs, self.max_log_lines)
        emit_job_metrics(summary)

    def on_kill(self) -> None:
        """Cancel the job when the task is killed, unless ``cancel_on_kill`` is off."""
        from google.api_core.exceptions import FailedPrecondition, NotFound

        if not (self.cancel_on_kill and self._job_name):
            return
        self.log.info("Task killed: cancelling Batch job %s.", self._job_name)
        try:
            self.hook.cancel_job(self._job_name)
        except (NotFound, FailedPrecondition) as error:
            self.log.info("Batch job %s needs no cancelling: %s", self._job_name, error.message)
