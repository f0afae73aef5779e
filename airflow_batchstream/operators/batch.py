"""Operators that run Cloud Batch jobs whose container images stream."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_batchstream.api_version import API_VERSIONS, DEFAULT_API_VERSION
from airflow_batchstream.arguments import MAX_LABELS, ArgumentCheck
from airflow_batchstream.compat import (
    AirflowException,
    AirflowFailException,
    AirflowTaskTimeout,
    TaskDeferred,
)
from airflow_batchstream.deferral import resolve_deferrable
from airflow_batchstream.hook_mixin import BatchStreamHookMixin
from airflow_batchstream.links.batch import BatchStreamJobLink, BatchStreamJobLogsLink
from airflow_batchstream.preflight import PREFLIGHT_MODES
from airflow_batchstream.push_mixin import BatchStreamPushMixin
from airflow_batchstream.validation import VALIDATION_MODES
from airflow_batchstream.validation.violations import ImageStreamingValidationError, Violation

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_batchstream.tries import TryRecords
    from airflow_batchstream.watch import JobWatcher

#: Arguments that only build a job from ``image_uri``; with ``job`` they would be silently ignored.
CONVENIENCE_ONLY = ("commands", "entrypoint", "volumes", "parallelism", "environment", "machine_type")


class BatchStreamSubmitJobOperator(BatchStreamHookMixin, BatchStreamPushMixin, BaseOperator):
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
    :param job: the whole job: a ``.json``, ``.yaml`` or ``.yml`` file on the DAG's template search
        path, a dict in REST JSON (camelCase, as ``gcloud batch jobs submit --config`` takes it) or
        snake_case form, a JSON string, or a ``Job`` proto (templated, down to nested values).
    :param image_uri: Artifact Registry image to stream; builds the job from the arguments below
        (templated).
    :param commands: container commands, i.e. the entrypoint's arguments (templated).
    :param entrypoint: overrides the image's entrypoint (templated).
    :param volumes: ``"host_path:container_path[:mode]"`` mounts (templated).
    :param task_count: how many tasks run the container (templated).
    :param parallelism: how many tasks may run at once; Batch decides when not given (templated).
    :param environment: environment variables of every task (templated).
    :param machine_type: Compute Engine machine type, such as ``e2-standard-4`` (templated).
    :param labels: labels added to the job, besides the ones naming the Airflow task (templated).
    :param job_id: the Batch job id; by default one derived from DAG, task, run, map index and try;
        a given one gets ``-<map index>`` in a mapped task and ``-tN`` after try 1, and a job under
        it that another run, task or map index made fails the task (templated).
    :param gcp_conn_id: Airflow connection with the Google credentials.
    :param impersonation_chain: service account to impersonate, or a chain of them (templated).
    :param api_version: ``"v1"`` (default: the generally available API) or ``"v1alpha"``.
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
    :param timeout: seconds the job may take from its creation (templated); written into the job as every task
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
        "task_count",
        "parallelism",
        "timeout",
    )
    #: ``job="jobs/etl.json"`` (or ``.yaml``/``.yml``) is read from the DAG's template search path.
    template_ext: Sequence[str] = (".json", ".yaml", ".yml")
    template_fields_renderers = {"job": "json"}
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
        super().__init__(**kwargs)
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
        self._subscription: str | None = None
        #: The file ``job`` names (read from the template search path), if it names one.
        self._job_file = job if isinstance(job, str) and job.endswith(tuple(self.template_ext)) else None
        self._job_name: str | None = None
        self._watcher: JobWatcher | None = None
        self._check_settings()
        self._set_push_arguments(
            notification_topic,
            notification_subscription,
            create_notification_subscription,
            safety_poll_interval,
        )

    def _check_settings(self) -> None:
        """Refuse bad arguments that are not templated, all at once, when the DAG is parsed."""
        check = ArgumentCheck()
        if (self.job is None) == (self.image_uri is None):
            check.violations.append(
                Violation(
                    "job",
                    "bad-argument",
                    "give either job= (a whole job specification) or image_uri= (with commands=, ... to "
                    "build one), not both and not neither",
                )
            )
        check.text("gcp_conn_id", self.gcp_conn_id, required=True)
        check.choice("api_version", self.api_version, API_VERSIONS)
        check.number("poll_interval", self.poll_interval)
        check.choice("validation", self.validation, VALIDATION_MODES)
        check.choice("preflight", self.preflight, PREFLIGHT_MODES)
        for name in ("wait_for_completion", "cancel_on_kill", "retry_on_cancel", "fetch_logs"):
            check.flag(name, getattr(self, name))
        check.flag("dry_run", self.is_dry_run)
        check.flag("deferrable", self.deferrable)
        check.integer("max_log_lines", self.max_log_lines, minimum=0)
        if not isinstance(self.task_count, str):  # a template string is checked once rendered
            check.integer("task_count", self.task_count, minimum=1)
        if not isinstance(self.parallelism, str):
            check.integer("parallelism", self.parallelism, minimum=1, required=False)
        if not isinstance(self.timeout, str):
            check.number("timeout", self.timeout, required=False)
        check.raise_if_any(self.task_id)

    def _check_templated(self) -> str:
        """
        Refuse bad templated arguments after rendering, before any network call; return the project.

        Every problem is reported at once; numeric strings (templating without native rendering)
        become numbers.
        """
        from airflow_batchstream.spec import AIRFLOW_LABEL_KEYS

        check = ArgumentCheck()
        check.region("region", self.region)
        project_id = check.project_id("project_id", self.project_id)
        check.job_id("job_id", self.job_id)
        check.accounts("impersonation_chain", self.impersonation_chain)
        check.labels("labels", self.labels, reserved=AIRFLOW_LABEL_KEYS)
        self.timeout = check.number("timeout", self.timeout, required=False)
        if self.job is None:
            check.text("image_uri", self.image_uri, required=True)
            check.strings("commands", self.commands, example='["--date", "{{ ds }}"]')
            check.text("entrypoint", self.entrypoint)
            check.strings("volumes", self.volumes, example='["/mnt/disks/share:/share:ro"]')
            check.environment("environment", self.environment)
            check.text("machine_type", self.machine_type)
            task_count = check.integer("task_count", self.task_count, minimum=1)
            self.parallelism = check.integer("parallelism", self.parallelism, minimum=1, required=False)
            self.task_count = task_count or self.task_count
        else:
            for name in CONVENIENCE_ONLY:
                if getattr(self, name) is not None:
                    check.violations.append(
                        Violation(
                            name,
                            "bad-argument",
                            "is used only to build a job from image_uri=, and job= is given",
                            "put it into the job specification, or give image_uri= instead of job=",
                        )
                    )
        if not check.violations and project_id is None:
            project_id = self.hook.project_id
            if not project_id:
                check.violations.append(
                    Violation(
                        "project_id",
                        "bad-project-id",
                        f"not given, and connection {self.gcp_conn_id!r} names no project",
                        "give project_id=, or set project in the connection's extra",
                    )
                )
        check.raise_if_any(self.task_id)
        return str(project_id)

    # ----------------------------------------------------------------- templating

    def resolve_template_files(self) -> None:
        """Read ``job`` from the DAG's template search path when it names a file; no other field does."""
        if self._job_file is not None and self.job == self._job_file:
            env = self.get_template_env()
            self.job = env.loader.get_source(env, self._job_file)[0]  # type: ignore[union-attr]
        self.prepare_template()

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """
        Render the templated fields; a ``Job`` proto given as ``job`` is rendered as a dict.

        The dict is parsed back into a ``Job`` once, by :meth:`execute`.

        :param context: the task's context.
        :param jinja_env: the Jinja environment to use.
        """
        from airflow_batchstream.spec import is_job_proto, job_to_dict

        if is_job_proto(self.job):
            self.job = job_to_dict(self.job)
        super().render_template_fields(context, jinja_env)

    def render_template(
        self, content: Any, context: Context, jinja_env: Any = None, seen_oids: set[int] | None = None
    ) -> Any:
        """
        Render a value; only ``job`` is read from a file, a value ending in ``.json`` or ``.yaml`` is text.

        :param content: the value.
        :param context: the task's context.
        :param jinja_env: the Jinja environment to use.
        :param seen_oids: values already rendered.
        """
        if (
            isinstance(content, str)
            and content != self._job_file
            and content.endswith(tuple(self.template_ext))
        ):
            return (jinja_env or self.get_template_env()).from_string(content).render(context)
        return super().render_template(content, context, jinja_env, seen_oids)

    def _job_source(self) -> Any:
        """Return ``job`` as given (a YAML file's text as a dict), or the convenience arguments' dict."""
        from airflow_batchstream.spec import JobSpecError, convenience_job, load_yaml_job

        if self.job is not None:
            if isinstance(self.job, str) and (self._job_file or "").endswith((".yaml", ".yml")):
                try:
                    return load_yaml_job(self.job, self._job_file or "")
                except JobSpecError as error:
                    problem = Violation("", "parse-error", str(error).removeprefix("job: "))
                    raise ImageStreamingValidationError([problem]) from None
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

    def execute(self, context: Context) -> dict[str, Any] | None:
        """
        Check, build (once), validate, preflight and submit the job; wait for it as configured.

        :param context: the task's context.
        """
        from airflow_batchstream.summary import summarize_job
        from airflow_batchstream.tries import TryRecords

        project_id = self._check_templated()
        job_id = self._job_id_for_try(context, context["ti"].try_number)
        inspection = self.hook.inspect_job(self._job_source(), region=self.region, job_id=job_id)
        inspection.enforce(self.validation, self.log)
        job = self._finish_job(inspection.job, context)
        if self.notification_topic:
            from airflow_batchstream.notifications import add_state_notification, resource_path

            topic = resource_path(self.notification_topic, "topics", project_id, "notification_topic")
            add_state_notification(job, topic)
        self.hook.run_preflight(inspection, project_id=project_id, mode=self.preflight, log=self.log)
        if self.is_dry_run:
            from airflow_batchstream.preflight.submission import dry_run_result

            return dry_run_result(job, job_id=job_id, region=self.region, project_id=project_id, log=self.log)
        self._subscription = self._prepare_push(project_id)
        records = TryRecords(context)
        with self._try_ends(records):
            job = self._submit_or_reattach(context, records, job, job_id, project_id)
            self._job_name = job.name
            self._quietly("storing the job's links", self._persist_links, context, job)
            if not self.wait_for_completion:
                return summarize_job(job)
            deadline = self._deadline(job)
            if self.deferrable:
                return self._defer(context, job, deadline)
            return self.execute_complete(context, self._wait_sync(job, deadline))

    @contextlib.contextmanager
    def _try_ends(self, records: TryRecords) -> Iterator[None]:
        """Mark the try's job record ended when the try ends here (returns or raises), not when it defers."""
        try:
            yield
        except TaskDeferred:
            raise
        except BaseException:
            self._end_record(records)
            raise
        self._end_record(records)

    def _end_record(self, records: TryRecords) -> None:
        if self._job_name is None:
            return
        try:
            records.end(self._job_name)
        except Exception as error:  # the try's outcome stands; a later try then cannot reattach
            self.log.warning("Could not record the end of this try's Batch job %s: %s", self._job_name, error)

    # ----------------------------------------------------------------- submission

    def _job_id_for_try(self, context: Context, try_number: int) -> str:
        """
        Return the job id of one try: deterministic, or the user's ``job_id``.

        A given ``job_id`` gets ``-<map index>`` in a mapped task (so ``.partial(job_id=...)`` cannot make
        the map indexes share one job) and ``-tN`` after try 1 (a re-run never meets its own older job).
        """
        from airflow_batchstream.spec import JOB_ID_MAX_LENGTH, make_job_id

        ti = context["ti"]
        map_index = -1 if ti.map_index is None else ti.map_index
        if not self.job_id:
            return make_job_id(ti.dag_id, ti.task_id, ti.run_id, map_index, try_number)
        suffix = (f"-{map_index}" if map_index >= 0 else "") + (f"-t{try_number}" if try_number > 1 else "")
        if not suffix:
            return self.job_id
        return self.job_id[: JOB_ID_MAX_LENGTH - len(suffix)].rstrip("-") + suffix

    def _submit_or_reattach(
        self, context: Context, records: TryRecords, job: Any, job_id: str, project_id: str
    ) -> Any:
        """
        Return the job this try waits for: an earlier try's job if that try died, else ``job``, created.

        A CreateJob whose response was lost is retried with the same ``request_id`` (the service returns
        the job it made); ALREADY_EXISTS (a create that landed before this process died, or someone
        else's job under a fixed ``job_id``) adopts that job only if its labels name this task instance.
        """
        from google.api_core.exceptions import AlreadyExists

        from airflow_batchstream.hooks.batch import job_path

        earlier = self._earlier_job(context, records, project_id)
        if earlier is not None:
            return earlier
        name = job_path(project_id, self.region, job_id)
        records.begin(name)
        try:
            created = self.hook.submit_job(
                job=job,
                job_id=job_id,
                region=self.region,
                project_id=project_id,
                request_id=self._request_id(context, project_id, job_id),
            )
        except AlreadyExists:
            created = self.hook.get_job(name)
            self._check_owner(context, created)
            self.log.info(
                "Batch job %s already exists (an earlier attempt of this try created it); waiting for it.",
                created.name,
            )
            return created
        self.log.info("Submitted Batch job %s (uid %s).", created.name, created.uid)
        return created

    @staticmethod
    def _request_id(context: Context, project_id: str, job_id: str) -> str:
        """
        Return the CreateJob ``request_id`` of this try: the same on every attempt of the try, unique to it.

        It names the task instance and try, not only the job id: a fixed ``job_id`` is the same on every run,
        and Batch answers a repeated ``request_id`` with the job it created then (another run's job).
        """
        ti = context["ti"]
        key = f"airflow-batchstream/{project_id}/{job_id}/{ti.dag_id}/{ti.task_id}/{ti.run_id}/{ti.map_index}"
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{key}/{ti.try_number}"))

    def _check_owner(self, context: Context, job: Any) -> None:
        """Refuse a job under this try's id that another run, task, map index or try created."""
        from airflow_batchstream.tries import belongs_to, describe_owner

        ti = context["ti"]
        if belongs_to(job, ti) and job.labels.get("airflow-try-number") == str(ti.try_number):
            return
        owner = describe_owner(job.labels)
        if belongs_to(job, ti):
            owner += f", try {job.labels.get('airflow-try-number', '?')}"
        raise AirflowFailException(
            f"Batch job {job.name} already exists and belongs to {owner}, not to this task instance "
            f"(DAG {ti.dag_id}, task {ti.task_id}, run {ti.run_id}, map index {ti.map_index}, try "
            f"{ti.try_number}); it is not adopted. A fixed job_id names the same job in every run: make it "
            'unique per run with a template, such as job_id="nightly-{{ ds_nodash }}", or leave job_id unset.'
        )

    def _earlier_job(self, context: Context, records: TryRecords, project_id: str) -> Any:
        """
        Return the recorded job of a try that died (active: reattach; SUCCEEDED: return), else ``None``.

        A recorded job the task instance no longer owns in Airflow (that try ended, or the task was cleared)
        is never adopted; if it is still active it is cancelled, so one task instance never has two live jobs.
        Without a task state store (Airflow before 3.3) nothing tells a dead try from a cleared one: no job is
        adopted, and the earlier tries' jobs that are still active are cancelled.
        """
        from airflow_batchstream.outcome import ACTIVE_STATES
        from airflow_batchstream.summary import state_name

        if not records.available:
            self._cancel_earlier_tries(context, project_id)
            return None
        earlier = records.earlier()
        if earlier is None:
            return None
        name, adoptable = earlier
        job = self._own_job(name, context["ti"])
        if job is None:
            return None
        state = state_name(job)
        if adoptable and (state in ACTIVE_STATES or state == "SUCCEEDED"):
            self.log.info("Reattaching to Batch job %s of a try that did not end, which is %s.", name, state)
            return job
        self._supersede(name, state)
        return None

    def _cancel_earlier_tries(self, context: Context, project_id: str) -> None:
        """
        Cancel the still active jobs of this task instance's earlier tries (found by their job ids).

        :param context: the task's context.
        :param project_id: the jobs' project.
        """
        from airflow_batchstream.hooks.batch import job_path
        from airflow_batchstream.outcome import ACTIVE_STATES
        from airflow_batchstream.summary import state_name

        ti = context["ti"]
        for try_number in range(1, ti.try_number):
            name = job_path(project_id, self.region, self._job_id_for_try(context, try_number))
            job = self._own_job(name, ti)
            if job is None:
                continue
            state = state_name(job)
            if state in ACTIVE_STATES:
                self._supersede(name, state)

    def _own_job(self, name: str, ti: Any) -> Any:
        """
        Return the job ``name`` if it exists and its labels name this task instance, else ``None``.

        Someone else's job under a fixed ``job_id`` is never adopted and never cancelled.

        :param name: the job's full name.
        :param ti: the running task instance.
        """
        from google.api_core.exceptions import NotFound

        from airflow_batchstream.tries import belongs_to

        try:
            job = self.hook.get_job(name)
        except NotFound:
            return None
        return job if belongs_to(job, ti) else None

    def _supersede(self, name: str, state: str) -> None:
        """
        Cancel an earlier try's job if it is still active (this try re-runs the task with a new job).

        :param name: the job's full name.
        :param state: its state name.
        """
        from google.api_core.exceptions import GoogleAPICallError

        from airflow_batchstream.outcome import ACTIVE_STATES

        if state not in ACTIVE_STATES:
            self.log.info("Batch job %s of an earlier try is %s; submitting a new job.", name, state)
            return
        self.log.warning(
            "Cancelling Batch job %s (%s) of an earlier try: this try re-runs the task with a new job.",
            name,
            state,
        )
        try:
            self.hook.cancel_job(name)
        except GoogleAPICallError as error:
            self.log.warning("Cancelling Batch job %s failed: %s", name, error)

    def _finish_job(self, job: Any, context: Context) -> Any:
        """
        Complete the parsed job in place: ``timeout`` as ``max_run_duration``, then the labels.

        :raises ImageStreamingValidationError: the labels would exceed Batch's limit.
        """
        from airflow_batchstream.spec import airflow_labels, with_labels

        if self.timeout is not None:
            for group in job.task_groups:
                if "max_run_duration" not in group.task_spec:
                    group.task_spec.max_run_duration = timedelta(seconds=self.timeout)
        with_labels(job, {**dict(self.labels or {}), **airflow_labels(context["ti"])})
        if len(job.labels) > MAX_LABELS:
            raise ImageStreamingValidationError(
                [
                    Violation(
                        "labels",
                        "too-many-labels",
                        f"the job would carry {len(job.labels)} labels (its own, labels= and the "
                        f"operator's); Batch allows {MAX_LABELS}",
                        "drop labels from the job or from labels=",
                    )
                ]
            )
        return job

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

        try:
            self._watcher = JobWatcher.for_job(self.log, self.hook, job, self.fetch_logs, self.max_log_lines)
        except Exception as error:
            self._output_failed(job.name, error)
            self._watcher = JobWatcher(self.log, None)
        for delay in poll_delays(self.poll_interval):
            event = ended_event(job)
            if event is not None:
                return event
            self._observe(job)
            if deadline is not None and time.time() >= deadline:
                return self._expire(job)
            time.sleep(delay if deadline is None else max(0.0, min(delay, deadline - time.time())))
            try:
                remaining = None if deadline is None else max(0.0, deadline - time.time())
                job = self.hook.get_job(job.name, remaining)
            except NotFound:
                return vanished_event(job.name)
            except GoogleAPICallError as error:
                if deadline is not None and time.time() >= deadline:
                    return self._expire(job)
                return error_event(job.name, error)
        raise AssertionError("poll_delays never ends")

    def _observe(self, job: Any) -> None:
        """Show the job's progress and new output; a failing log reader is dropped after one warning."""
        assert self._watcher is not None
        try:
            self._watcher.observe(job)
        except Exception as error:
            self._output_failed(job.name, error)
            self._watcher.fetcher = None

    def _output_failed(self, job_name: str, error: Exception) -> None:
        self.log.warning(
            "Showing the output of Batch job %s failed (%s: %s); the wait goes on without it.",
            job_name,
            type(error).__name__,
            error,
        )

    def _expire(self, job: Any) -> dict[str, Any]:
        from google.api_core.exceptions import GoogleAPICallError

        from airflow_batchstream.outcome import timeout_event

        self.log.warning("timeout=%ss passed: cancelling Batch job %s.", self.timeout, job.name)
        try:
            self.hook.cancel_job(job.name)
        except GoogleAPICallError as error:
            return timeout_event(job.name, job, cancelled=False, cancel_error=str(error))
        return timeout_event(job.name, job, cancelled=True)

    def _execution_deadline(self, context: Context) -> float | None:
        """Return when ``execution_timeout`` ends this try (its start plus the timeout), or ``None``."""
        start = getattr(context.get("ti"), "start_date", None)
        if self.execution_timeout is None or start is None:
            return None
        return start.timestamp() + self.execution_timeout.total_seconds()

    def _defer(self, context: Context, job: Any, deadline: float | None) -> dict[str, Any] | None:
        """Finish here if the job ends while it is young, else hand the wait to the trigger.

        Against Airflow 3.3's resume race (see :data:`airflow_batchstream.deferral.RESUME_HOLD_SECONDS`) a
        job younger than :data:`~airflow_batchstream.polling.YOUNG_JOB_SECONDS` is watched here first, so a
        quick one ends without deferring, and the trigger resumes the task no sooner than the hold after
        deferring.
        """
        from airflow_batchstream.deferral import resume_hold, resume_not_before
        from airflow_batchstream.outcome import ended_event
        from airflow_batchstream.triggers.batch import BatchStreamJobTrigger

        # Airflow does not enforce execution_timeout while a task is deferred: the trigger does.
        ends = [end for end in (deadline, self._execution_deadline(context)) if end is not None]
        deadline = min(ends, default=None)
        hold = resume_hold()
        if hold > 0:
            job = self._watch_young(job, deadline)
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
                not_before=resume_not_before(hold),
                notification_subscription=self._subscription,
                safety_poll_interval=self.safety_poll_interval,
            ),
            method_name="execute_complete",
        )
        return None  # unreachable: defer() raises TaskDeferred

    def _watch_young(self, job: Any, deadline: float | None) -> Any:
        """Look at the job at the first adaptive delays until it ends or is YOUNG_JOB_SECONDS old; return it.

        A failed look ends the watch: the trigger reads the job again and reports what it finds.

        :param job: the job as last read.
        :param deadline: the wait's end (epoch seconds), if any: the watch stops there too.
        """
        from google.api_core.exceptions import GoogleAPICallError

        from airflow_batchstream.outcome import ended_event
        from airflow_batchstream.polling import YOUNG_JOB_SECONDS, poll_delays

        created = job.create_time.timestamp() if job.create_time else time.time()
        until = min(created + YOUNG_JOB_SECONDS, deadline if deadline is not None else float("inf"))
        for delay in poll_delays(self.poll_interval):
            remaining = until - time.time()
            if ended_event(job) is not None or remaining <= 0:
                return job
            time.sleep(min(delay, remaining))
            try:
                job = self.hook.get_job(job.name, YOUNG_JOB_SECONDS)
            except GoogleAPICallError:
                return job
        raise AssertionError("poll_delays never ends")

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """
        Turn the end of a wait into the task's result: the summary, or an exception saying why.

        SUCCEEDED returns the summary. FAILED (a spot preemption too), a vanished or deleted job, a
        passed timeout and API errors raise ``AirflowException`` (Airflow may retry); CANCELLED raises
        ``AirflowFailException`` (no retry) unless ``retry_on_cancel``.

        :param context: the task's context.
        :param event: the trigger's (or the synchronous wait's) event payload.
        """
        from airflow_batchstream.tries import TryRecords

        self._job_name = event["job_name"]
        with self._try_ends(TryRecords(context)):
            return self._result(context, event)

    def _result(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        from airflow_batchstream.outcome import ENDED, TIMEOUT

        self._report_end(event.get("summary"))  # its last progress line says "is SUCCEEDED" on success
        if event["status"] == ENDED and event["state"] == "SUCCEEDED":
            return event["summary"]
        message = event["message"]
        if event["status"] == TIMEOUT:
            execution_deadline = self._execution_deadline(context)
            if execution_deadline is not None and time.time() >= execution_deadline:
                # What Airflow's own timeout raises: failed, or retried if the task has retries.
                raise AirflowTaskTimeout(f"execution_timeout={self.execution_timeout} passed. {message}")
            raise AirflowException(f"timeout={self.timeout}s passed. {message}")
        if event["state"] in ("CANCELLED", "CANCELLATION_IN_PROGRESS") and not self.retry_on_cancel:
            raise AirflowFailException(f"{message} A cancelled job is not retried (retry_on_cancel=False).")
        raise AirflowException(message)

    def _report_end(self, summary: dict[str, Any] | None) -> None:
        """Log the job's last progress, its remaining output and its times; send its metrics.

        Neither can fail the task: each failure is one warning.
        """
        from airflow_batchstream.metrics import emit_job_metrics
        from airflow_batchstream.watch import report_resumed

        if not summary or "uid" not in summary:
            return  # the job vanished or could not be read: nothing more to show
        if self._watcher is not None:
            self._quietly("showing the job's last output and times", self._watcher.finish, summary)
        else:
            self._quietly(
                "showing the job's output and times",
                report_resumed,
                self.log,
                self.hook,
                summary,
                self.fetch_logs,
                self.max_log_lines,
            )
        self._quietly("sending the job's metrics", emit_job_metrics, summary)

    def _quietly(self, what: str, action: Callable[..., Any], *args: Any) -> None:
        """Run a side effect of the wait (links, output, metrics); a failure only warns."""
        try:
            action(*args)
        except Exception as error:
            self.log.warning(
                "%s failed (%s: %s); the task's outcome is not affected.",
                what.capitalize(),
                type(error).__name__,
                error,
            )

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
