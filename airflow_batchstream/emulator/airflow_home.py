"""A throwaway Airflow home with a migrated SQLite database, for tests that run DAGs.

Migrating takes 8-12 s, so it happens once per set of installed Airflow distributions: the
migrated database is kept as a template (in pytest's cache directory) and each session copies it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

#: The file name of the database inside an Airflow home.
DATABASE_NAME = "airflow.db"
#: The folder of the home that holds the session's warm-up DAG, a DAG bundle of its own.
WARM_UP_FOLDER = "warm-up"
_LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"


def template_key() -> str:
    """Name what a migrated database depends on: the installed ``apache-airflow*`` distributions."""
    versions = sorted(
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in metadata.distributions()
        if (dist.metadata["Name"] or "").lower().replace("_", "-").startswith("apache-airflow")
    )
    return hashlib.sha256("\n".join(versions).encode()).hexdigest()[:16]


def airflow_environment(home: Path, dags_folder: Path) -> dict[str, str]:
    """
    Return the variables that make Airflow use ``home``, its SQLite database and ``dags_folder``.

    Airflow's DAG bundles are its default one (``dags-folder``, your DAGs) and, after it, the home's
    ``warm-up`` folder (see :func:`~airflow_batchstream.emulator.dag_runs.warm_up`).

    :param home: the Airflow home.
    :param dags_folder: the folder ``dag.test()`` and the DAG bag read.
    """
    bundles = [
        {"name": "dags-folder", "classpath": _LOCAL_BUNDLE, "kwargs": {}},
        {
            "name": "batchstream-warm-up",
            "classpath": _LOCAL_BUNDLE,
            "kwargs": {"path": str(home / WARM_UP_FOLDER)},
        },
    ]
    return {
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / DATABASE_NAME}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
    }


def migrate(home: Path) -> None:
    """
    Run ``airflow db migrate`` for the SQLite database in ``home``, in a child process.

    :param home: the Airflow home whose database to create.
    :raises RuntimeError: the migration failed (its output is in the message).
    """
    environment = {**os.environ, **airflow_environment(home, home / "dags")}
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"`airflow db migrate` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def template_database(cache_dir: Path) -> Path:
    """
    Return a migrated database for the installed Airflow, migrating into ``cache_dir`` the first time.

    Two sessions that migrate at once each build their own and the last rename wins: both are whole.

    :param cache_dir: where templates are kept.
    """
    template = cache_dir / f"airflow-{template_key()}.db"
    if template.exists():
        return template
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="migrating-", dir=cache_dir))
    try:
        migrate(work)
        os.replace(work / DATABASE_NAME, template)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return template


def install_database(home: Path, cache_dir: Path) -> Path:
    """
    Copy the migrated template database into ``home`` and return its path.

    If Airflow already opened a database in this process (a module imported it early), its engine is
    rebuilt on the copy.

    :param home: the throwaway Airflow home.
    :param cache_dir: where templates are kept (see :func:`template_database`).
    """
    database = home / DATABASE_NAME
    shutil.copyfile(template_database(cache_dir), database)
    settings = sys.modules.get("airflow.settings")
    if settings is not None and getattr(settings, "engine", None) is not None:
        settings.configure_vars()
        settings.reconfigure_orm()
    return database
