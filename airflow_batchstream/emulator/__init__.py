"""A local emulator of the Google Cloud Batch API (v1alpha and v1) over plain gRPC.

Start it from a shell with ``batchstream-emulator`` (or ``python -m airflow_batchstream.emulator``)
and export the first line it prints, or in-process with :class:`BatchEmulator`, or in pytest
with the ``batch_emulator`` fixture of :mod:`airflow_batchstream.emulator.pytest_plugin`.
"""

from __future__ import annotations

from airflow_batchstream.emulator.logs import LogLine
from airflow_batchstream.emulator.model import Scenario, Timings
from airflow_batchstream.emulator.server import BatchEmulator

__all__ = ["BatchEmulator", "LogLine", "Scenario", "Timings"]
