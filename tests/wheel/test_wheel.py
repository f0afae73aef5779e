"""The wheel a user installs: built with uv, installed with plain pip, then used as the README says.

Marked ``wheel`` and run by ``make wheel-check`` (CI), not by ``make test``: building and installing
takes a few minutes and needs the package index.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import zipfile

import pytest
from wheel_install import ROOT, build_distributions, install_wheel

from airflow_batchstream.emulator.control import EmulatorControl
from airflow_batchstream.hooks.batch import build_batch_client

pytestmark = pytest.mark.wheel

DAG_ID = "example_image_streaming_simple"
PROJECT = "demo-project"


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    return build_distributions(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def venv_bin(dist, tmp_path_factory):
    wheel, _ = dist
    return install_wheel(wheel, tmp_path_factory.mktemp("wheel-venv") / "venv")


@pytest.fixture(scope="module")
def airflow_env(venv_bin, tmp_path_factory):
    """A throwaway Airflow home whose DAGs folder holds the repository's example DAGs, migrated."""
    home = tmp_path_factory.mktemp("airflow-home")
    dags = home / "dags"
    dags.mkdir()
    (dags / f"{DAG_ID}.py").write_text((ROOT / "example_dags" / f"{DAG_ID}.py").read_text())
    env = {
        "PATH": f"{venv_bin}:/usr/bin:/bin",
        "HOME": str(home),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT": json.dumps(
            {"conn_type": "google_cloud_platform", "extra": {"project": PROJECT, "is_anonymous": True}}
        ),
    }
    subprocess.run(
        [venv_bin / "airflow", "db", "migrate"], env=env, check=True, capture_output=True, timeout=600
    )
    return env


def _json_output(stdout: str):
    # Airflow's CLI prints the JSON on one line; warnings (such as a missing graphviz) may come first.
    return json.loads(stdout.strip().splitlines()[-1])


def test_sdist_carries_the_readme_and_the_license(dist):
    _, sdist = dist
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"README.md", "LICENSE", "pyproject.toml", "airflow_batchstream/__init__.py"} <= names
    assert not any(name.startswith(("tests/", ".venv")) for name in names)


def test_wheel_carries_py_typed_and_no_tests(dist):
    wheel, _ = dist
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "airflow_batchstream/py.typed" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert not [name for name in names if name.startswith("tests/") or "/tests/" in name]
    assert {name.split("/")[0] for name in names} == {
        "airflow_batchstream",
        "airflow_batchstream-0.1.0.dist-info",
    }


def test_airflow_providers_list_shows_the_provider(venv_bin, airflow_env):
    listed = subprocess.run(
        [venv_bin / "airflow", "providers", "list", "--output", "json"],
        env=airflow_env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    providers = {provider["package_name"]: provider for provider in _json_output(listed.stdout)}
    assert "airflow-batchstream" in providers, sorted(providers)


def test_example_dag_succeeds_against_the_installed_emulator(venv_bin, airflow_env, monkeypatch):
    emulator = subprocess.Popen(
        [venv_bin / "batchstream-emulator", "--port", "0"],
        env=airflow_env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        first = emulator.stdout.readline().strip()
        assert first.startswith("BATCH_EMULATOR_HOST=127.0.0.1:"), first
        address = first.removeprefix("BATCH_EMULATOR_HOST=")
        run = subprocess.run(
            [venv_bin / "airflow", "dags", "test", DAG_ID],
            env={**airflow_env, "BATCH_EMULATOR_HOST": address},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        runs = subprocess.run(
            [venv_bin / "airflow", "dags", "list-runs", DAG_ID, "--output", "json"],
            env=airflow_env,
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert [dag_run["state"] for dag_run in _json_output(runs.stdout)] == ["success"]
        monkeypatch.setenv("BATCH_EMULATOR_HOST", address)
        jobs = list(build_batch_client("v1").list_jobs(parent=f"projects/{PROJECT}/locations/us-central1"))
        assert [job.status.state.name for job in jobs] == ["SUCCEEDED"]
        assert EmulatorControl(address).jobs_created() == 1
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
