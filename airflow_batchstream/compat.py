"""The few Airflow names whose home moved between the Airflow 3 releases this provider supports.

Airflow 3.2 (task SDK 1.2) gave configuration and the task exceptions a home in ``airflow.sdk``; on
Airflow 3.1 they live in ``airflow.configuration`` and ``airflow.exceptions``, which is also where its
task runner catches them. Each name comes from the SDK when it has it, else from the 3.1 module. The
``DagBag`` moved from ``airflow.models.dagbag`` to ``airflow.dag_processing.dagbag`` the same way, and
Airflow 3.1.0's ``dag.test()`` needs the DAG written to the metadata database first (:func:`dag_for_test`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import conf
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
        AirflowTaskTimeout,
        TaskDeferred,
    )
else:
    try:
        from airflow.sdk import conf
        from airflow.sdk.exceptions import (
            AirflowException,
            AirflowFailException,
            AirflowSensorTimeout,
            AirflowSkipException,
            AirflowTaskTimeout,
            TaskDeferred,
        )
    except ImportError:  # Airflow 3.1
        from airflow.configuration import conf
        from airflow.exceptions import (
            AirflowException,
            AirflowFailException,
            AirflowSensorTimeout,
            AirflowSkipException,
            AirflowTaskTimeout,
            TaskDeferred,
        )

__all__ = [
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "AirflowTaskTimeout",
    "TaskDeferred",
    "conf",
    "dag_bag",
    "dag_for_test",
    "stats",
]


def stats() -> Any:
    """
    Return Airflow's ``Stats`` (``airflow.sdk.observability.stats`` from 3.2, ``airflow.stats`` on 3.1).

    Imported on call: the DAG-facing modules that import this one must stay cheap to parse.
    """
    try:
        from airflow.sdk.observability.stats import Stats
    except ImportError:  # Airflow 3.1
        from airflow.stats import Stats
    return Stats


def dag_bag() -> Any:
    """
    Return Airflow's ``DagBag`` (``airflow.dag_processing.dagbag``, or ``airflow.models.dagbag`` on 3.1).

    Imported on call, as :func:`stats`: parsing a DAGs folder is for the emulator's DAG runs only.
    """
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag


def dag_for_test(dag: Any) -> Any:
    """
    Return ``dag``, ready for ``dag.test()``: on Airflow 3.1 first written to the metadata database.

    Airflow 3.1.0's ``dag.test()`` refuses a DAG that is not serialized ("Cannot create DagRun ... the
    dag is not serialized"); ``airflow dags test`` parses the DAG bundles and writes them first, so on
    3.1 the DAG comes from that same helper. Later releases' ``dag.test()`` does it itself.

    :param dag: a DAG parsed from a file of one of the configured DAG bundles.
    """
    from airflow_batchstream.airflow_version import installed_airflow_version, release

    if release(installed_airflow_version() or "")[:2] != (3, 1):
        return dag
    from airflow.utils.cli import get_bagged_dag

    return get_bagged_dag(None, dag.dag_id)
