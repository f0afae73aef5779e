"""Test session set-up: our pytest plugin's throwaway Airflow, with the examples in a writable DAGs folder.

The plugin points Airflow at a throwaway home and, since ``AIRFLOW__CORE__DAGS_FOLDER`` is set here
first, at a temporary copy of ``example_dags/``: ``dag.test()`` in Airflow 3 runs only DAGs its
bundle (the DAGs folder) holds, and tests write their own DAG files there (see dag_files.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_batchstream.emulator.pytest_plugin import AirflowSession

DAGS_FOLDER = Path(tempfile.mkdtemp(prefix="batchstream-test-dags-"))
shutil.copytree(Path(__file__).parents[1] / "example_dags", DAGS_FOLDER, dirs_exist_ok=True)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)

pytest_plugins = ["airflow_batchstream.emulator.pytest_plugin"]


@pytest.fixture(scope="session", autouse=True)
def _migrated_airflow(batchstream_airflow: AirflowSession) -> AirflowSession:
    """Every test may run a DAG: give the session its migrated database up front.

    :param batchstream_airflow: the plugin's session Airflow.
    """
    return batchstream_airflow


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remove the temporary DAGs folder.

    :param session: the test session.
    """
    shutil.rmtree(DAGS_FOLDER, ignore_errors=True)


@pytest.fixture(scope="session")
def project_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the working tree, built once per session (see built_wheel.py).

    :param tmp_path_factory: pytest's temporary directories.
    """
    from built_wheel import build_wheel, uv_executable

    if uv_executable() is None:
        pytest.skip("uv is not installed (make setup installs it into .tools/)")
    return build_wheel(tmp_path_factory.mktemp("wheel"))
