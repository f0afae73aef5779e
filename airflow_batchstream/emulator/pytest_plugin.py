"""pytest plugin: test your DAGs offline, against an in-process Batch emulator and a throwaway Airflow.

Enable it in the ``conftest.py`` at the root of your tests::

    pytest_plugins = ["airflow_batchstream.emulator.pytest_plugin"]

It is deliberately not a ``pytest11`` entry point: installing the provider must not load gRPC
into every pytest run, nor clash with a ``pytest_plugins`` line naming the same module.

For the whole session it points Airflow at a throwaway home (``AIRFLOW_HOME``, a SQLite database,
no examples) and at your DAGs folder (``--batchstream-dags-folder``, else the
``batchstream_dags_folder`` ini option, else ``AIRFLOW__CORE__DAGS_FOLDER`` when set, else
``dags/`` beside the ini file), and refuses every call to Google Cloud made without an emulator
(``BATCHSTREAM_REFUSE_GOOGLE_CALLS``). The home is removed and the environment restored at the end.

Fixtures:

- ``batchstream_airflow`` (session): copies a migrated database into the home. The migration runs
  once per installed Airflow version and is kept in pytest's cache (``.pytest_cache``).
- ``batch_emulator``: a :class:`~airflow_batchstream.emulator.server.BatchEmulator` on a free
  loopback port with ``BATCH_EMULATOR_HOST`` pointing at it, an anonymous ``google_cloud_default``
  connection for project ``demo-project`` (unless ``AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT`` is set)
  and ``BATCHSTREAM_MAX_POLL_INTERVAL`` from its timings (waits as short as its jobs). Change its
  options for every test by overriding ``batch_emulator_options``, or for one test with the marker
  ``@pytest.mark.batch_emulator(run_seconds=3, container_runtime="local")``.
- ``run_dag``: both of the above and a :class:`~airflow_batchstream.emulator.dag_runs.DagRunner`:
  ``run_dag("dag_id", conf=..., logical_date=...)`` runs the DAG with ``dag.test()``.
- ``allow_google_calls``: lift the refusal for one test that really means to reach Google.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_batchstream.api_version import REFUSE_GOOGLE_ENV
from airflow_batchstream.emulator.airflow_home import WARM_UP_FOLDER, airflow_environment, install_database
from airflow_batchstream.emulator.envfile import (
    DEFAULT_CONNECTION_ENV,
    EMULATOR_CONNECTION,
    emulator_environment,
)

if TYPE_CHECKING:
    from airflow_batchstream.emulator.dag_runs import DagRunner
    from airflow_batchstream.emulator.server import BatchEmulator

__all__ = ["DEFAULT_CONNECTION_ENV", "EMULATOR_CONNECTION", "REFUSAL"]

MARKER = "batch_emulator"
DAGS_FOLDER_OPTION = "--batchstream-dags-folder"
DAGS_FOLDER_INI = "batchstream_dags_folder"
POLL_INTERVAL_INI = "batchstream_max_poll_interval"
#: Why a call to Google was refused, and what to do instead.
REFUSAL = (
    "airflow-batchstream's pytest plugin refused a call to Google Cloud (Batch, Cloud Logging or an "
    "image registry): this test has no emulator. Ask for the `batch_emulator` fixture (or `run_dag`, "
    "which starts one) and the call goes to a local emulator instead; ask for `allow_google_calls` "
    "if the test really means to reach Google."
)


@dataclass(frozen=True)
class AirflowSession:
    """The throwaway Airflow of one test session.

    :param home: ``AIRFLOW_HOME``, removed at the end of the session.
    :param dags_folder: the DAGs folder ``dag.test()`` and :func:`run_dag` read.
    :param previous: the environment values the session replaced (``None``: unset), restored at the end.
    """

    home: Path
    dags_folder: Path
    previous: dict[str, str | None]


_SESSION = pytest.StashKey[AirflowSession]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the DAGs-folder option and the ini options.

    :param parser: pytest's option parser.
    """
    parser.getgroup("batchstream").addoption(
        DAGS_FOLDER_OPTION,
        help="the DAGs folder run_dag and dag.test() read (default: the batchstream_dags_folder ini "
        "option, else $AIRFLOW__CORE__DAGS_FOLDER, else dags/ beside the ini file)",
    )
    parser.addini(DAGS_FOLDER_INI, "the DAGs folder, relative to the ini file")
    parser.addini(
        POLL_INTERVAL_INI,
        "the longest wait in seconds between two looks at a job under the emulator (default: its timings')",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker and point Airflow at a throwaway home before any test module imports it.

    :param config: pytest's configuration.
    """
    config.addinivalue_line("markers", f"{MARKER}(**options): keyword arguments of this test's BatchEmulator")
    home = Path(tempfile.mkdtemp(prefix="batchstream-airflow-home-"))
    dags_folder = _dags_folder(config, home)
    environment = {**airflow_environment(home, dags_folder), REFUSE_GOOGLE_ENV: REFUSAL}
    previous = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    config.stash[_SESSION] = AirflowSession(home, dags_folder, previous)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Restore the environment and remove the throwaway home.

    :param config: pytest's configuration.
    """
    session = config.stash.get(_SESSION, None)
    if session is None:
        return
    for name, value in session.previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    shutil.rmtree(session.home, ignore_errors=True)
    del config.stash[_SESSION]


def _dags_folder(config: pytest.Config, home: Path) -> Path:
    base = config.inipath.parent if config.inipath else config.rootpath
    given = config.getoption(DAGS_FOLDER_OPTION) or config.getini(DAGS_FOLDER_INI)
    if given:
        return (base / str(given)).resolve()
    if os.environ.get("AIRFLOW__CORE__DAGS_FOLDER"):
        return Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if (base / "dags").is_dir():
        return (base / "dags").resolve()
    empty = home / "dags"
    empty.mkdir()
    return empty


@pytest.fixture(scope="session")
def batchstream_airflow(pytestconfig: pytest.Config) -> AirflowSession:
    """The session's Airflow: its home holds a migrated database (copied from a cached template).

    It also runs a small DAG once (:func:`~airflow_batchstream.emulator.dag_runs.warm_up`), so that
    the first test does not pay what a process's first ``dag.test()`` costs.

    :param pytestconfig: pytest's configuration.
    """
    from airflow_batchstream.emulator.dag_runs import warm_up

    session = pytestconfig.stash[_SESSION]
    cache = getattr(pytestconfig, "cache", None)
    cache_dir = Path(cache.mkdir("airflow-batchstream")) if cache is not None else session.home / "template"
    install_database(session.home, cache_dir)
    warm_up(session.home / WARM_UP_FOLDER)
    return session


@pytest.fixture
def batch_emulator_options() -> dict[str, Any]:
    """Keyword arguments for :class:`BatchEmulator`; fast timings by default."""
    return {
        "queued_seconds": 0.2,
        "scheduled_seconds": 0.2,
        "run_seconds": 0.5,
        "cancel_seconds": 0.2,
        "delete_seconds": 0.2,
        "default_image_size": 128 * 1024 * 1024,
    }


@pytest.fixture
def batch_emulator(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    batch_emulator_options: dict[str, Any],
) -> Iterator[BatchEmulator]:
    """A running emulator on a free loopback port, with ``BATCH_EMULATOR_HOST`` pointing at it.

    :param request: the requesting test, for its ``batch_emulator`` marker.
    :param monkeypatch: pytest's monkeypatch, to set the environment variables for this test only.
    :param batch_emulator_options: keyword arguments for the emulator.
    """
    from airflow_batchstream.emulator.server import BatchEmulator

    options = dict(batch_emulator_options)
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        options.update(marker.kwargs)
    emulator = BatchEmulator("127.0.0.1", 0, **options).start()
    poll_interval = request.config.getini(POLL_INTERVAL_INI)
    environment = emulator_environment(
        emulator.address,
        float(poll_interval) if poll_interval else emulator.timings.poll_interval(),
        emulator.access_token,
    )
    for name, value in environment.items():
        if name != DEFAULT_CONNECTION_ENV or name not in os.environ:
            monkeypatch.setenv(name, value)
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def run_dag(batchstream_airflow: AirflowSession, batch_emulator: BatchEmulator) -> DagRunner:
    """``run_dag("dag_id", conf=..., logical_date=...)``: run a DAG of the DAGs folder against the emulator.

    :param batchstream_airflow: the session's Airflow.
    :param batch_emulator: the emulator the run talks to.
    """
    from airflow_batchstream.emulator.dag_runs import DagRunner

    return DagRunner(batch_emulator, batchstream_airflow.dags_folder)


@pytest.fixture
def allow_google_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let this test reach Google Cloud (no refusal), for tests that mean it.

    :param monkeypatch: pytest's monkeypatch, to lift the refusal for this test only.
    """
    monkeypatch.delenv(REFUSE_GOOGLE_ENV, raising=False)
