"""Run DAGs through real Airflow: ``dag.test()`` runs only DAGs in the DAGs folder, so write them there."""

from __future__ import annotations

import json
import os
import runpy
from pathlib import Path
from typing import Any

ONE_TASK_DAG = """
from datetime import datetime

from airflow.sdk import DAG

from {module} import {name}

with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    {name}(task_id={task_id!r}, **{kwargs!r})
"""


def dags_folder() -> Path:
    """Return the DAGs folder the test session configured."""
    return Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


def load_dag(dag_id: str) -> Any:
    """
    Import ``<dags folder>/<dag_id>.py`` the way a DAG processor would, and return its DAG.

    :param dag_id: the DAG's id, which is also its file's name.
    """
    from airflow.sdk import DAG

    namespace = runpy.run_path(str(dags_folder() / f"{dag_id}.py"))
    (dag,) = [value for value in namespace.values() if isinstance(value, DAG) and value.dag_id == dag_id]
    return dag


def one_task_dag(dag_id: str, operator: str, task_id: str = "task", **operator_kwargs: Any) -> Any:
    """
    Write a DAG of one task of ``operator`` and return it loaded.

    :param dag_id: the DAG's id.
    :param operator: the operator's dotted path, such as ``airflow_batchstream.operators.batch.X``.
    :param task_id: the task's id.
    :param operator_kwargs: the operator's arguments besides ``task_id``; plain values.
    """
    module, _, name = operator.rpartition(".")
    source = ONE_TASK_DAG.format(
        dag_id=dag_id, module=module, name=name, task_id=task_id, kwargs=operator_kwargs
    )
    (dags_folder() / f"{dag_id}.py").write_text(source)
    return load_dag(dag_id)


def operator_dag(dag_id: str, **operator_kwargs: Any) -> Any:
    """
    Write a one-task DAG of ``BatchStreamSubmitJobOperator`` (task id ``job``) and return it loaded.

    :param dag_id: the DAG's id.
    :param operator_kwargs: the operator's arguments besides ``task_id`` and ``region``; plain values.
    """
    submit = "airflow_batchstream.operators.batch.BatchStreamSubmitJobOperator"
    return one_task_dag(dag_id, submit, "job", region="us-central1", poll_interval=1, **operator_kwargs)


def task_xcoms(dag_run: Any, task_id: str) -> dict[str, Any]:
    """
    Return one task's XCom values of a run, key → value (JSON text decoded; a link's URL stays text).

    :param dag_run: the run ``dag.test()`` returned.
    :param task_id: the task's id.
    """
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    def decoded(value: Any) -> Any:
        try:
            return json.loads(value) if isinstance(value, str) else value
        except ValueError:
            return value

    with create_session() as session:
        rows = session.query(XComModel).filter_by(
            dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id
        )
        return {row.key: decoded(row.value) for row in rows}
