"""Whether a task waits in the triggerer, and how soon after deferring its trigger may resume it."""

from __future__ import annotations

import time

from airflow_batchstream.compat import conf
from airflow_batchstream.polling import env_seconds

#: Seconds after a task defers during which its trigger fires no event. Airflow 3.3 can fail a task that
#: resumes before the scheduler has drained the executor's "success" of the process that deferred
#: (apache/airflow#71580, #72716); that drain came up to 6.5 s after deferring on our loaded local
#: deployment (README, "Retries, reattach and nothing left running").
RESUME_HOLD_SECONDS = 10.0
#: Seconds; overrides :data:`RESUME_HOLD_SECONDS` when set. ``0`` turns the hold (and the worker's look at
#: a young job before deferring) off: the emulator's pytest fixture sets it, as ``dag.test()`` runs
#: triggers in its own process, without an executor and so without the race.
RESUME_HOLD_ENV = "BATCHSTREAM_RESUME_HOLD_SECONDS"


def resolve_deferrable(deferrable: bool | None) -> bool:
    """
    Return ``deferrable``, or the ``[operators] default_deferrable`` setting when it is ``None``.

    :param deferrable: the operator's or sensor's ``deferrable`` argument.
    """
    if deferrable is None:
        return conf.getboolean("operators", "default_deferrable", fallback=False)
    return deferrable


def resume_hold() -> float:
    """Return the seconds after deferring during which a trigger fires no event: RESUME_HOLD_SECONDS."""
    hold = env_seconds(RESUME_HOLD_ENV)
    if hold is None:
        return RESUME_HOLD_SECONDS
    if hold < 0:
        raise ValueError(f"{RESUME_HOLD_ENV}='{hold:g}' is negative: give seconds, or 0 for no hold")
    return hold


def resume_not_before(hold: float | None = None) -> float | None:
    """
    Return the wall-clock time (epoch seconds) before which a trigger deferred now fires no event, or None.

    :param hold: the hold in seconds; :func:`resume_hold` when not given.
    """
    hold = resume_hold() if hold is None else hold
    return time.time() + hold if hold > 0 else None
