"""Run DAGs through real Airflow: ``dag.test()`` runs only DAGs in the DAGs folder, so write them there."""

from __future__ import annotations

import os
import runpy
from pathlib import Path
from typing import Any

OPERATOR_DAG = """
from datetime import datetime

from airflow.sdk import DAG

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    BatchStreamSubmitJobOperator(task_id="job", region="us-central1", poll_interval=1, **{kwargs!r})
"""


def dags_folder() -> Path:
    """Return the DAGs folder the test session configured."""
    return Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


def load_dag(dag_id: str) -> Any:
    """
    Import ``<dags folder>/<dag_id>.py`` the way a DAG processor would, and return its DAG.

    :param dag_id: the DAG's id, which is also its file's name.
    """
    from airflow import __version__ as airflow_version
    from airflow.sdk import DAG

    if airflow_version.startswith("3.1."):
        # Airflow 3.1's dag.test() needs the DAG already serialized, which `airflow dags test` does
        # first (later releases' dag.test() syncs the DAGs folder itself).
        from airflow.utils.cli import get_bagged_dag

        return get_bagged_dag(None, dag_id)
    namespace = runpy.run_path(str(dags_folder() / f"{dag_id}.py"))
    (dag,) = [value for value in namespace.values() if isinstance(value, DAG) and value.dag_id == dag_id]
    return dag


def operator_dag(dag_id: str, **operator_kwargs: Any) -> Any:
    """
    Write a one-task DAG of ``BatchStreamSubmitJobOperator`` (task id ``job``) and return it loaded.

    :param dag_id: the DAG's id.
    :param operator_kwargs: the operator's arguments besides ``task_id`` and ``region``; plain values.
    """
    source = OPERATOR_DAG.format(dag_id=dag_id, kwargs=operator_kwargs)
    (dags_folder() / f"{dag_id}.py").write_text(source)
    return load_dag(dag_id)
