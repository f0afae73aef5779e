"""An Airflow outside the supported range is refused at import, with one error that names the range."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from airflow_batchstream.airflow_version import (
    SUPPORTED_AIRFLOW,
    UnsupportedAirflowVersion,
    check_airflow_version,
    installed_airflow_version,
)

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("version", ["3.1.8", "3.1.9", "3.2.0", "3.3.2", "3.4.0b2", "3.99.0"])
def test_supported_versions_pass(version):
    check_airflow_version(version)


@pytest.mark.parametrize(
    "version", ["2.10.5", "2.11.0", "3.0.6", "3.1.0", "3.1.7", "3.1.8rc1", "4.0.0", "4.0.0b1"]
)
def test_unsupported_versions_raise_one_error_naming_the_range(version):
    with pytest.raises(UnsupportedAirflowVersion) as raised:
        check_airflow_version(version)
    message = str(raised.value)
    assert f"apache-airflow{SUPPORTED_AIRFLOW}" in message
    assert f"Apache Airflow {version} is installed" in message


def test_a_missing_airflow_is_named_too():
    with pytest.raises(UnsupportedAirflowVersion, match=r"apache-airflow>=3\.1\.8,<4.*is not installed"):
        check_airflow_version(None)


def test_the_running_airflow_is_supported():
    check_airflow_version(installed_airflow_version())


def test_the_package_declares_the_same_range():
    # The installed metadata is pyproject.toml's [project] dependencies (make and CI install it afresh).
    declared = [Requirement(line) for line in metadata.requires("airflow-batchstream") or []]
    (airflow,) = [requirement for requirement in declared if requirement.name == "apache-airflow"]
    assert airflow.specifier == SpecifierSet(SUPPORTED_AIRFLOW)


def test_importing_the_provider_on_an_unsupported_airflow_fails(tmp_path):
    # A distribution record of Airflow 3.0.6 ahead of the real one on sys.path: what the check reads.
    record = tmp_path / "apache_airflow_core-3.0.6.dist-info"
    record.mkdir()
    (record / "METADATA").write_text("Metadata-Version: 2.1\nName: apache-airflow-core\nVersion: 3.0.6\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    result = subprocess.run(
        [sys.executable, "-c", "import airflow_batchstream.operators.batch"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("airflow_batchstream.airflow_version.UnsupportedAirflowVersion: ")
    assert "supports apache-airflow>=3.1.8,<4, but Apache Airflow 3.0.6 is installed" in last_line
