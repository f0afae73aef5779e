"""The few Airflow names whose home moved between the Airflow 3 releases this provider supports.

Airflow 3.2 (task SDK 1.2) gave configuration and the task exceptions a home in ``airflow.sdk``; on
Airflow 3.1 they live in ``airflow.configuration`` and ``airflow.exceptions``, which is also where its
task runner catches them. Each name comes from the SDK when it has it, else from the 3.1 module.
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
