"""DAG files import our operators on every parse: those modules must not pull in Google or gRPC code."""

from __future__ import annotations

import subprocess
import sys

import pytest

DAG_FACING_MODULES = [
    "airflow_batchstream.operators.batch",
    "airflow_batchstream.operators.lifecycle",
    "airflow_batchstream.operators.listing",
    "airflow_batchstream.sensors.batch",
    "airflow_batchstream.links.batch",
]
HEAVY_PREFIXES = ("google.cloud.", "google.api_core", "google.protobuf", "grpc", "proto")


def _modules_after(statement: str) -> set[str]:
    """Return the modules a fresh interpreter holds after running ``statement``."""
    probe = f"{statement}\nimport sys\nprint('\\n'.join(sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return set(result.stdout.split())


@pytest.mark.parametrize("module", DAG_FACING_MODULES)
def test_module_imports_no_google_cloud_or_grpc(module):
    # The interpreter itself pre-loads the empty ``google.cloud`` namespace (an nspkg .pth file of a
    # Google dependency); what counts is what importing our module adds on top of Airflow's SDK.
    baseline = _modules_after("import airflow.sdk")
    added = _modules_after(f"import airflow.sdk, {module}") - baseline
    heavy = sorted(name for name in added if name.startswith(HEAVY_PREFIXES) or name == "grpc")
    assert heavy == [], f"importing {module} pulls in {heavy}"
    assert {name for name in added if name.startswith("airflow_batchstream")} <= {
        "airflow_batchstream",
        "airflow_batchstream.operators",
        "airflow_batchstream.sensors",
        "airflow_batchstream.links",
        "airflow_batchstream.links.batch",  # operators name their links at class level
        "airflow_batchstream.airflow_version",  # the package refuses an unsupported Airflow at import
        "airflow_batchstream.api_version",
        "airflow_batchstream.compat",
        "airflow_batchstream.deferral",
        "airflow_batchstream.polling",  # the seconds a setting gives (deferral's hold): standard library only
        "airflow_batchstream.hook_mixin",
        # the push arguments, checked at DAG parse (google-cloud-pubsub only inside its functions)
        "airflow_batchstream.push_mixin",
        "airflow_batchstream.notifications",
        # argument checks at DAG parse, and the modes they accept: standard library only
        "airflow_batchstream.arguments",
        "airflow_batchstream.validation",
        "airflow_batchstream.validation.violations",
        "airflow_batchstream.preflight",
        "airflow_batchstream.job_names",
        "airflow_batchstream.outcome",  # state names, for argument checks
        "airflow_batchstream.summary",
        module,
    }
