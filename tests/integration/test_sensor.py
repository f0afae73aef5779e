"""BatchStreamJobSensor in real Airflow (dag.test()): poke, reschedule and deferrable, every outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from dag_files import dags_folder, load_dag, task_xcoms
from waiting_helpers import create_job

from airflow_batchstream.deferral import RESUME_HOLD_ENV
from airflow_batchstream.emulator import Scenario
from airflow_batchstream.links.batch import JOB_LINKS
from airflow_batchstream.sensors.batch import BatchStreamJobSensor

pytestmark = pytest.mark.integration

DAG_SOURCE = """
from datetime import datetime

from airflow.sdk import DAG

from airflow_batchstream.sensors.batch import BatchStreamJobSensor

with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    BatchStreamJobSensor(task_id="sense", poke_interval=0.1, poll_interval=0.1, {kwargs})
"""
MODE_KWARGS = {
    "poke": "mode='poke', deferrable=False",
    "reschedule": "mode='reschedule', deferrable=False",
    "deferrable": "deferrable=True",
}
MODES = pytest.mark.parametrize("mode", list(MODE_KWARGS))


def sense_run(dag_id: str, mode: str, kwargs: str):
    """Write and run a one-sensor DAG; return the run."""
    source = DAG_SOURCE.format(dag_id=dag_id, kwargs=f"{MODE_KWARGS[mode]}, {kwargs}")
    (dags_folder() / f"{dag_id}.py").write_text(source)
    return load_dag(dag_id).test()


def sense(dag_id: str, mode: str, kwargs: str) -> str:
    """Write and run a one-sensor DAG; return the sensor's final state."""
    (ti,) = sense_run(dag_id, mode, kwargs).get_task_instances()
    return ti.state


def after_first_look(emulator, action: Callable[[], None]) -> None:
    """In a thread: once the sensor has read the job (a GetJob arrived), call ``action`` (bounded wait)."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while emulator.rpc_counts().get("GetJob", 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        action()

    threading.Thread(target=watch, daemon=True).start()


def held_job(emulator, job_id: str, **scenario) -> str:
    """Create a job that stays QUEUED until released; reset the counters."""
    emulator.add_scenario(Scenario(hold_in_queue=True, **scenario), job_id=job_id)
    name = create_job(emulator, job_id)
    emulator.reset_counts()
    return name


@MODES
@pytest.mark.parametrize(
    ("outcome", "expected"),
    [("SUCCEEDED", "success"), ("FAILED", "failed"), ("CANCELLED", "failed"), ("NOT_FOUND", "failed")],
)
def test_sensor_ends_with_the_jobs_outcome(batch_emulator, mode, outcome, expected):
    job_id = f"sensed-{mode}-{outcome.lower().replace('_', '-')}"
    name = held_job(batch_emulator, job_id, exit_code=4 if outcome == "FAILED" else 0)
    if outcome == "NOT_FOUND":
        after_first_look(batch_emulator, lambda: batch_emulator.vanish_job(name))
    elif outcome == "CANCELLED":
        after_first_look(batch_emulator, lambda: batch_emulator.client().cancel_job(name=name))
    else:
        after_first_look(batch_emulator, lambda: batch_emulator.release_job(name))
    assert sense(job_id.replace("-", "_"), mode, f"job_name={name!r}") == expected
    # A sensor never cancels: the only CancelJob is the test's own.
    assert batch_emulator.rpc_counts().get("CancelJob", 0) == (outcome == "CANCELLED")


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_soft_fail_skips_on_a_failed_job(batch_emulator, mode):
    batch_emulator.add_scenario(Scenario(exit_code=2), job_id=f"soft-{mode}")
    create_job(batch_emulator, f"soft-{mode}")
    time.sleep(1.5)  # the job has ended before the sensor looks
    kwargs = f"project_id='demo-project', region='us-central1', job_id='soft-{mode}', soft_fail=True"
    assert sense(f"soft_{mode}", mode, kwargs) == "skipped"


def test_labels_find_the_newest_job_once_it_appears(batch_emulator):
    threading.Timer(1.0, lambda: create_job(batch_emulator, "labelled", labels={"feed": "daily"})).start()
    assert sense("by_labels", "reschedule", "region='us-central1', labels={'feed': 'daily'}") == "success"


def test_target_state_running_is_reached_in_the_trigger(batch_emulator):
    name = held_job(batch_emulator, "runs-long", run_seconds=30)
    after_first_look(batch_emulator, lambda: batch_emulator.release_job(name))
    assert (
        sense("until_running", "deferrable", f"job_name={name!r}, target_states={{'RUNNING'}}") == "success"
    )


def test_a_deferred_sensor_resumes_no_sooner_than_the_resume_hold(batch_emulator, monkeypatch, capfd):
    # Released at the sensor's first look, the job ends within a second or two of deferring.
    monkeypatch.setenv(RESUME_HOLD_ENV, "3")
    name = held_job(batch_emulator, "sensed-held")
    after_first_look(batch_emulator, lambda: batch_emulator.release_job(name))
    assert sense("sensed_held", "deferrable", f"job_name={name!r}") == "success"
    assert f"Batch job {name} is SUCCEEDED; resuming the task in" in "".join(capfd.readouterr())


@MODES
def test_sensor_shows_the_submit_operators_links_once_it_knows_the_job(batch_emulator, mode):
    name = held_job(batch_emulator, f"linked-{mode}")
    uid = batch_emulator.client().get_job(name=name).uid
    after_first_look(batch_emulator, lambda: batch_emulator.release_job(name))
    dag_run = sense_run(f"linked_{mode}", mode, f"job_name={name!r}")
    assert dag_run.state == "success"
    xcoms = task_xcoms(dag_run, "sense")
    assert {key: xcoms[key] for key in (link.key for link in JOB_LINKS)} == {
        link.key: link.url(name, uid) for link in JOB_LINKS
    }
    assert [type(link) for link in BatchStreamJobSensor.operator_extra_links] == list(JOB_LINKS)


def test_bad_arguments_are_refused_before_any_call():
    with pytest.raises(ValueError, match="name the job one way"):
        BatchStreamJobSensor(task_id="s", job_name="projects/p/locations/l/jobs/j", job_id="j", region="r")
    with pytest.raises(ValueError, match="need region"):
        BatchStreamJobSensor(task_id="s", labels={"a": "b"})
    with pytest.raises(ValueError, match="target_states and failure_states share"):
        BatchStreamJobSensor(task_id="s", job_name="n", target_states={"FAILED"})


def test_labels_mode_reads_one_list_page_per_poke_and_watches_the_newest_job(batch_emulator):
    for index in range(100):  # older jobs with the same labels, filling the service's default page
        create_job(batch_emulator, f"older-{index}", labels={"feed": "hourly"})
    time.sleep(1.5)
    batch_emulator.add_scenario(Scenario(hold_in_queue=True), job_id="newest")
    newest = create_job(batch_emulator, "newest", labels={"feed": "hourly"})
    batch_emulator.reset_counts()
    after_first_look(batch_emulator, lambda: batch_emulator.release_job(newest))
    assert sense("by_labels_newest", "poke", "region='us-central1', labels={'feed': 'hourly'}") == "success"
    counts = batch_emulator.rpc_counts()
    assert counts["GetJob"] >= 3  # it waited for the held newest job, not an older SUCCEEDED one
    assert counts["ListJobs"] == counts["GetJob"]  # one one-job page per poke
