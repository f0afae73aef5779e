"""The few Airflow names whose home moved between the Airflow 3 releases this provider supports.

Airflow 3.2 (task SDK 1.2) gave configuration and the task exceptions a home in ``airflow.sdk``; on
Airflow 3.1 they live in ``airflow.configuration`` and ``airflow.exceptions``, which is also where its
task runner catches them. Each name comes from the SDK when it has it, else from the 3.1 module. The
``DagBag`` moved from ``airflow.models.dagbag`` to ``airflow.dag_processing.dagbag``, and the task
runner's listener manager from ``airflow.listeners.listener`` to ``airflow.sdk.listener``, the same way.
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
    "stats",
    "task_listeners",
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


def task_listeners() -> Any:
    """
    Return the listener manager a try's task runner calls (``airflow.sdk.listener`` from 3.2,
    ``airflow.listeners.listener`` on 3.1).
    """
    try:
        from airflow.sdk.listener import get_listener_manager
    except ImportError:  # Airflow 3.1
        from airflow.listeners.listener import get_listener_manager  # type: ignore[assignment]
    return get_listener_manager()


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
