from __future__ import annotations

import importlib
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import jsonschema

import airflow_batchstream
from airflow_batchstream.get_provider_info import get_provider_info

PACKAGE_DIR = Path(airflow_batchstream.__file__).parent
AREAS = ("hooks", "operators", "sensors", "triggers", "links")


def test_provider_info_validates_against_airflows_schema():
    import airflow

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)
    assert get_provider_info()["package-name"] == "airflow-batchstream"


def test_entry_point_names_get_provider_info():
    (entry,) = [
        e for e in entry_points(group="apache_airflow_provider") if e.dist.name == "airflow-batchstream"
    ]
    assert entry.value == "airflow_batchstream.get_provider_info:get_provider_info"


def test_every_module_that_exists_is_listed_and_every_listed_one_exists():
    info = get_provider_info()
    listed = {module for area in AREAS for item in info.get(area, []) for module in item["python-modules"]}
    listed |= {link.rpartition(".")[0] for link in info.get("extra-links", [])}  # links are listed by class
    present = {
        f"airflow_batchstream.{area}.{path.stem}"
        for area in AREAS
        for path in (PACKAGE_DIR / area).glob("*.py")
        if path.stem != "__init__"
    }
    assert listed == present
    for module in listed:
        importlib.import_module(module)
    for link in info.get("extra-links", []):
        module, _, name = link.rpartition(".")
        getattr(importlib.import_module(module), name)


def test_the_hooks_use_the_google_cloud_connection_type_users_already_have():
    from airflow.providers.google.common.hooks.base_google import GoogleBaseHook

    from airflow_batchstream.hooks.batch import BatchStreamAsyncHook, BatchStreamHook

    # No type of our own: Airflow's form for google_cloud_platform (key file, scopes, impersonation,
    # ...) is the one the Google provider registers, and google_cloud_default works as is.
    assert "connection-types" not in get_provider_info()
    assert BatchStreamHook.conn_type == GoogleBaseHook.conn_type == "google_cloud_platform"
    assert BatchStreamHook.default_conn_name == "google_cloud_default"
    assert BatchStreamAsyncHook.sync_hook_class is BatchStreamHook


def test_airflow_lists_the_provider():
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # Airflow may log to stdout before the table; the table is the line that is a JSON list.
    (table,) = [line for line in out.splitlines() if line.startswith("[")]
    assert "airflow-batchstream" in {provider["package_name"] for provider in json.loads(table)}
