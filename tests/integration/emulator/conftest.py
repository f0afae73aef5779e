"""Enable the emulator's pytest plugin for these tests (a top-level conftest may take this over)."""

from __future__ import annotations

pytest_plugins = ["airflow_batchstream.emulator.pytest_plugin"]
