"""The operator refuses every broken spec before any RPC, warns or skips on request, and dry-runs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from bad_specs import BAD_SPECS, C0, GOOD_IMAGE, job
from dag_files import operator_dag

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator
from airflow_batchstream.preflight import clear_cache
from airflow_batchstream.validation.violations import RefusedError

pytestmark = pytest.mark.integration

CONTEXT = {"ti": SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1, try_number=1)}


def test_every_bad_spec_fails_the_operator_before_any_rpc(batch_emulator):
    for row in BAD_SPECS:
        operator = BatchStreamSubmitJobOperator(
            task_id="t", region=row.region, job=row.spec, job_id=row.job_id
        )
        with pytest.raises(RefusedError) as raised:
            operator.execute(CONTEXT)  # type: ignore[arg-type]
        assert (row.rule, row.path) in {(v.rule, v.path) for v in raised.value.violations}, row.name
    assert batch_emulator.rpc_counts() == {}
    assert sum(batch_emulator.registry.store.counts.values()) == 0  # not even the preflight ran


@pytest.mark.parametrize("name", ["docker-hub-short-name", "options", "commands-as-string"])
def test_real_airflow_fails_the_task_with_every_problem_and_no_rpc(batch_emulator, capfd, name):
    row = next(row for row in BAD_SPECS if row.name == name)
    dag_run = operator_dag(f"refused_{name.replace('-', '_')}", job=row.spec).test()
    assert dag_run.state == "failed"
    log = "".join(capfd.readouterr())
    assert f"{row.path}: [{row.rule}]" in log
    assert batch_emulator.rpc_counts() == {}


def test_warn_mode_logs_and_submits(batch_emulator, capfd):
    spec = job({"imageUri": GOOD_IMAGE, "options": "--network host", "commands": ["x"]})
    dag_run = operator_dag("warned_job", job=spec, validation="warn").test()
    assert dag_run.state == "success"
    assert f"{C0}.options: [ignored-container-field]" in "".join(capfd.readouterr())
    assert batch_emulator.rpc_counts()["CreateJob"] == 1


def test_off_mode_submits_without_looking(batch_emulator):
    spec = job({"imageUri": GOOD_IMAGE, "options": "--network host"})
    assert (
        operator_dag("unchecked_job", job=spec, validation="off", preflight="off").test().state == "success"
    )
    assert batch_emulator.rpc_counts()["CreateJob"] == 1


def test_a_preflight_problem_fails_the_task_before_create(batch_emulator, capfd):
    from manifest_documents import SCHEMA1_SIGNED

    clear_cache()
    image = "us-central1-docker.pkg.dev/demo-project/containers/legacy:1"
    batch_emulator.registry.store.add_image(image, SCHEMA1_SIGNED)
    assert operator_dag("legacy_image", image_uri=image).test().state == "failed"
    assert "[schema1-manifest]" in "".join(capfd.readouterr())
    assert batch_emulator.rpc_counts() == {}


def test_dry_run_validates_preflights_and_submits_nothing(batch_emulator):
    clear_cache()
    spec = job({"imageUri": GOOD_IMAGE, "password": "hunter2-secret"})
    operator = BatchStreamSubmitJobOperator(
        task_id="t", region="us-central1", job=spec, dry_run=True, validation="warn"
    )
    result = operator.execute(CONTEXT)  # type: ignore[arg-type]
    assert result["dry_run"] is True and result["state"] == "NOT_SUBMITTED"
    assert result["job_name"].startswith("projects/demo-project/locations/us-central1/jobs/d-t-")
    container = result["job"]["taskGroups"][0]["taskSpec"]["runnables"][0]["container"]
    assert container["password"] == "<hidden>"
    assert result["job"]["labels"]["managed-by"] == "airflow-batchstream"
    assert batch_emulator.rpc_counts() == {}
    assert batch_emulator.registry.store.counts["manifests"] >= 1
    assert batch_emulator.registry.store.counts["services.get"] == 1


def test_bad_mode_names_are_refused_at_parse_time():
    with pytest.raises(ValueError, match=r"validation: \[bad-argument\] got string \"loud\""):
        BatchStreamSubmitJobOperator(
            task_id="t", region="us-central1", image_uri=GOOD_IMAGE, validation="loud"
        )
    with pytest.raises(ValueError, match=r"preflight: \[bad-argument\] got string \"yes\""):
        BatchStreamSubmitJobOperator(task_id="t", region="us-central1", image_uri=GOOD_IMAGE, preflight="yes")
