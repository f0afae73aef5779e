"""Run a DAG of the DAGs folder through real Airflow (``dag.test()``) and report what each task did.

The report gives, per task: its state, its XCom return value (the operator's summary), the text of
the exception its last try raised, and the Batch job it ran (found by the labels the operator
writes), with the job's output from the emulator.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from airflow_batchstream.spec import task_labels

if TYPE_CHECKING:
    from airflow_batchstream.emulator.logs import LogLine
    from airflow_batchstream.emulator.server import BatchEmulator


@dataclass(frozen=True)
class TaskOutcome:
    """How one task instance of a run ended.

    :param task_id: the task's id.
    :param map_index: its map index; ``-1`` for a task that is not mapped.
    :param state: ``"success"``, ``"failed"``, ``"upstream_failed"``, ... (``None``: never scheduled).
    :param summary: its XCom return value (the operator's JSON summary), or ``None``.
    :param exception: ``"ExceptionType: message"`` of the exception its last try raised, or ``None``.
    """

    task_id: str
    map_index: int
    state: str | None
    summary: Any
    exception: str | None


@dataclass(frozen=True)
class BatchJobRun:
    """The Batch job a task ran, as the emulator holds it when asked.

    :param job: the ``Job`` (``google.cloud.batch_v1alpha``) with its status and labels.
    :param logs: the lines its tasks wrote, oldest first.
    """

    job: Any
    logs: list[LogLine] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The job's full resource name."""
        return str(self.job.name)

    @property
    def state(self) -> str:
        """The job's state name, such as ``"SUCCEEDED"``."""
        return str(self.job.status.state.name)

    @property
    def labels(self) -> dict[str, str]:
        """The job's labels."""
        return dict(self.job.labels)

    @property
    def output(self) -> str:
        """The job's output lines, joined by newlines."""
        return "\n".join(line.text for line in self.logs)


@dataclass(frozen=True)
class DagRunResult:
    """What :class:`DagRunner` saw of one DAG run.

    :param dag_id: the DAG's id.
    :param run_id: the run's id.
    :param state: the run's state, ``"success"`` or ``"failed"``.
    :param tasks: each task instance's outcome, by task id (``"task_id[N]"`` for map index N).
    :param emulator: the emulator the run talked to (for :meth:`job`).
    """

    dag_id: str
    run_id: str
    state: str
    tasks: dict[str, TaskOutcome]
    emulator: BatchEmulator = field(repr=False)

    def job(self, task_id: str, map_index: int = -1) -> BatchJobRun:
        """
        Return the Batch job a task of this run submitted (its last try's), with its output.

        :param task_id: the task's id.
        :param map_index: the map index of a mapped task instance.
        :raises LookupError: the task submitted no job in this run.
        """
        wanted = task_labels(self.dag_id, task_id, self.run_id)
        if map_index >= 0:
            wanted["airflow-map-index"] = str(map_index)
        mine = []
        with self.emulator.client() as client:
            for name in self.emulator.job_names():
                job = client.get_job(name=name)
                labels = dict(job.labels)
                if all(labels.get(key) == value for key, value in wanted.items()) and (
                    map_index >= 0 or "airflow-map-index" not in labels
                ):
                    mine.append(job)
        if not mine:
            raise LookupError(f"task {task_id!r} of run {self.run_id!r} submitted no Batch job")
        last = max(mine, key=lambda job: int(job.labels.get("airflow-try-number", "0")))
        return BatchJobRun(last, self.emulator.task_logs(last.name))


def task_key(task_id: str, map_index: int) -> str:
    """
    Return a task instance's key in :attr:`DagRunResult.tasks`.

    :param task_id: the task's id.
    :param map_index: its map index (``-1``: not mapped).
    """
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


WARM_UP_DAG_ID = "batchstream_warm_up"
#: One synchronous and one deferrable task, each a short script job with its output in Cloud Logging.
WARM_UP_DAG = f"""
from datetime import datetime

from airflow.sdk import DAG

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

JOB = {{"taskGroups": [{{"taskSpec": {{"runnables": [{{"script": {{"text": "true"}}}}]}}}}],
       "logsPolicy": {{"destination": "CLOUD_LOGGING"}}}}

with DAG({WARM_UP_DAG_ID!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    BatchStreamSubmitJobOperator(task_id="waits", region="us-central1", job=JOB, deferrable=False)
    BatchStreamSubmitJobOperator(task_id="defers", region="us-central1", job=JOB, deferrable=True)
"""


def warm_up(folder: Path) -> None:
    """
    Run a small DAG once against a throwaway emulator, so that the session's first test does not pay
    what a process's first ``dag.test()`` costs (Airflow's in-process API, the Google clients: several
    seconds).

    :param folder: the warm-up DAG bundle's folder (see ``airflow_home.airflow_environment``).
    """
    from airflow_batchstream.emulator.envfile import emulator_environment
    from airflow_batchstream.emulator.server import BatchEmulator

    folder.mkdir(exist_ok=True)
    (folder / f"{WARM_UP_DAG_ID}.py").write_text(WARM_UP_DAG)
    with BatchEmulator(queued_seconds=0.05, scheduled_seconds=0.05, run_seconds=0.05) as emulator:
        environment = emulator_environment(emulator.address, emulator.timings.poll_interval())
        previous = {name: os.environ.get(name) for name in environment}
        os.environ.update(environment)
        try:
            dag_run = load_dag(folder, WARM_UP_DAG_ID).test()
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    if str(getattr(dag_run.state, "value", dag_run.state)) != "success":
        raise RuntimeError(f"the plugin's warm-up DAG ended {dag_run.state}; see the log above")


def load_dag(dags_folder: Path, dag_id: str) -> Any:
    """
    Parse the DAGs folder as Airflow's DAG processor does and return one DAG.

    :param dags_folder: the folder.
    :param dag_id: the DAG's id.
    :raises LookupError: no such DAG (the message lists the DAGs found and the files that failed).
    """
    from airflow_batchstream.compat import dag_bag

    bag = dag_bag()(dag_folder=str(dags_folder))
    dag = bag.dags.get(dag_id)
    if dag is None:
        problems = "".join(f"\n  {path}: {error}" for path, error in bag.import_errors.items())
        raise LookupError(
            f"no DAG {dag_id!r} in {dags_folder} (found: {', '.join(sorted(bag.dags)) or 'none'})"
            + (f"; files that failed to import:{problems}" if problems else "")
            + ". Name the DAGs folder with --batchstream-dags-folder or ini batchstream_dags_folder."
        )
    return dag


class DagRunner:
    """
    ``run_dag("dag_id", conf=..., logical_date=...)``: one ``dag.test()`` run against the emulator.

    :param emulator: the emulator ``BATCH_EMULATOR_HOST`` points at.
    :param dags_folder: the DAGs folder (the one Airflow is configured with).
    """

    def __init__(self, emulator: BatchEmulator, dags_folder: Path) -> None:
        self.emulator = emulator
        self.dags_folder = dags_folder

    def __call__(
        self,
        dag_id: str,
        *,
        conf: Mapping[str, Any] | None = None,
        logical_date: datetime | str | None = None,
    ) -> DagRunResult:
        """
        Run the DAG once, every task to its end (deferred ones through their trigger, inline).

        :param dag_id: the DAG's id.
        :param conf: the run's ``conf`` (``params`` read from it).
        :param logical_date: the run's logical date (ISO 8601 text or a datetime; naive means UTC);
            ``None``: now.
        """
        dag = load_dag(self.dags_folder, dag_id)
        kwargs: dict[str, Any] = {"run_conf": dict(conf) if conf is not None else None}
        if logical_date is not None:
            kwargs["logical_date"] = _utc(logical_date)
        with recorded_failures() as failures:
            dag_run = dag.test(**kwargs)
        tasks = {}
        for ti in dag_run.get_task_instances():
            state = None if ti.state is None else str(getattr(ti.state, "value", ti.state))
            tasks[task_key(ti.task_id, ti.map_index)] = TaskOutcome(
                task_id=ti.task_id,
                map_index=ti.map_index,
                state=state,
                summary=ti.xcom_pull(task_ids=ti.task_id, map_indexes=ti.map_index),
                exception=_text(failures.get((ti.task_id, ti.map_index))),
            )
        return DagRunResult(
            dag_id=dag_id,
            run_id=dag_run.run_id,
            state=str(getattr(dag_run.state, "value", dag_run.state)),
            tasks=tasks,
            emulator=self.emulator,
        )


@contextlib.contextmanager
def recorded_failures() -> Iterator[dict[tuple[str, int], BaseException | str]]:
    """
    Collect what each failed try of this process's task runs raised, by task id and map index.

    An Airflow listener, not ``on_failure_callback``: before Airflow 3.3 the callback's context of an
    in-process try (``dag.test()``) has no ``exception``; the listener is handed the error in every release.
    """
    from airflow_batchstream.compat import task_listeners

    recorder = _FailureRecorder()
    listeners = task_listeners()
    listeners.add_listener(recorder)
    try:
        yield recorder.errors
    finally:
        listeners.pm.unregister(recorder)


class _FailureRecorder:
    """The listener of :func:`recorded_failures`."""

    def __init__(self) -> None:
        self.errors: dict[tuple[str, int], BaseException | str] = {}

    @pluggy.HookimplMarker("airflow")
    def on_task_instance_failed(self, task_instance: Any, error: BaseException | str | None) -> None:
        """
        Keep what the try that failed (or goes up for retry) raised.

        :param task_instance: the try's task instance.
        :param error: what it raised, or a text, or ``None``.
        """
        if error is not None:
            map_index = -1 if task_instance.map_index is None else task_instance.map_index
            self.errors[(task_instance.task_id, map_index)] = error


def _text(error: BaseException | str | None) -> str | None:
    """``"ExceptionType: message"`` of an exception; a text as it is."""
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return error


def _utc(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
