"""Which Batch job a try of a task instance may wait for: its own, or an earlier try's that never ended.

A try writes a record of its job to Airflow's task state store (Airflow 3.3+, ``context["task_state_store"]``:
kept in the metadata database per DAG run, task and map index, shared by the task instance's tries) *before*
CreateJob, and marks it ended when the try ends in Airflow: the task returned, raised, timed out or was killed
with a signal it could handle. The record also holds the task instance's ``max_tries`` and the DAG run's
``clear_number``, which a clear changes. The next try reads it:

* no record, or no job under it: submit a new job;
* not ended, and no clear since: the earlier try died (worker or triggerer lost): an active job is
  reattached, a SUCCEEDED one is returned, any other is left alone and a new job submitted;
* ended, or cleared since: a re-run; a still active job of this task instance is cancelled (never two live
  jobs for one task instance), then a new job is submitted.

A job is adopted (reattached, returned, waited for after ALREADY_EXISTS, or cancelled as superseded) only if
its ``airflow-*`` labels name this DAG, task, run and map index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_batchstream.spec import airflow_labels

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Key of the record in the task state store.
RECORD_KEY = "airflow_batchstream_job"
#: Labels that name the task instance a job belongs to.
OWNER_LABELS = ("airflow-dag-id", "airflow-task-id", "airflow-run-id", "airflow-map-index")


def describe_owner(labels: Mapping[str, str]) -> str:
    """
    Name the task instance a job's labels say it belongs to, or say it belongs to none.

    :param labels: the job's labels.
    """
    if not any(key in labels for key in OWNER_LABELS[:3]):
        return "no Airflow task (it has no airflow-dag-id/task-id/run-id labels)"
    owner = (
        f"DAG {labels.get('airflow-dag-id', '?')}, task {labels.get('airflow-task-id', '?')}, "
        f"run {labels.get('airflow-run-id', '?')}"
    )
    if "airflow-map-index" in labels:
        owner += f", map index {labels['airflow-map-index']}"
    return owner


def belongs_to(job: Any, ti: Any) -> bool:
    """
    Tell whether a job's labels name this task instance (DAG, task, run and map index; any try).

    :param job: a ``Job`` proto.
    :param ti: the running task instance.
    """
    mine = airflow_labels(ti)
    return all(job.labels.get(key) == mine.get(key) for key in OWNER_LABELS)


class TryRecords:
    """
    Read and write the task instance's job record in the task state store.

    Without a task state store (Airflow before 3.3) nothing is recorded: every try submits its own job.

    :param context: the running task's context.
    """

    def __init__(self, context: Context) -> None:
        self._ti: Any = context.get("ti")
        self._store = context.get("task_state_store") if self._ti is not None else None
        dag_run = context.get("dag_run")
        self._clear_number = int(getattr(dag_run, "clear_number", 0) or 0)

    @property
    def available(self) -> bool:
        """Whether this Airflow has a task state store to record in."""
        return self._store is not None

    def earlier(self) -> tuple[str, bool] | None:
        """
        Return the recorded job of an earlier try and whether this try may adopt it; ``None`` if none.

        Adoptable means the try that submitted it never ended in Airflow and nobody cleared the task since.
        """
        if self._store is None:
            return None
        record = self._store.get(RECORD_KEY)
        if not isinstance(record, dict) or not record.get("job_name"):
            return None
        adoptable = (
            not record.get("ended", True)
            and record.get("max_tries") == self._ti.max_tries
            and record.get("clear_number") == self._clear_number
        )
        return str(record["job_name"]), adoptable

    def begin(self, job_name: str) -> None:
        """
        Record, before it is created, the job this try waits for.

        :param job_name: the job's full resource name.
        """
        self._write(job_name, ended=False)

    def end(self, job_name: str) -> None:
        """
        Record that this try ended in Airflow: its job is nobody's to adopt any more.

        :param job_name: the job's full resource name.
        """
        self._write(job_name, ended=True)

    def _write(self, job_name: str, ended: bool) -> None:
        if self._store is None:
            return
        self._store.set(
            RECORD_KEY,
            {
                "job_name": job_name,
                "try_number": self._ti.try_number,
                "max_tries": self._ti.max_tries,
                "clear_number": self._clear_number,
                "ended": ended,
            },
        )
