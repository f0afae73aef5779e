"""Test session set-up: a throwaway Airflow home with a migrated SQLite database, and the emulator fixture."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Airflow reads its configuration on first import: point it at a throwaway home before any test imports it.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="batchstream-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# dag.test() in Airflow 3 runs only DAGs its bundle (the DAGs folder) holds: the examples and the
# DAG files tests write (see dag_files.py) live in a throwaway folder.
DAGS_FOLDER = _AIRFLOW_HOME / "dags"
shutil.copytree(Path(__file__).parents[1] / "example_dags", DAGS_FOLDER)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
subprocess.run(
    [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=os.environ.copy()
)

pytest_plugins = ["airflow_batchstream.emulator.pytest_plugin"]
