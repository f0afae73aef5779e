"""Whether a task waits in the triggerer: the user's choice, else Airflow's ``default_deferrable``."""

from __future__ import annotations

from airflow_batchstream.compat import conf


def resolve_deferrable(deferrable: bool | None) -> bool:
    """
    Return ``deferrable``, or the ``[operators] default_deferrable`` setting when it is ``None``.

    :param deferrable: the operator's or sensor's ``deferrable`` argument.
    """
    if deferrable is None:
        return conf.getboolean("operators", "default_deferrable", fallback=False)
    return deferrable
