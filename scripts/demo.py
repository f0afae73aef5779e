"""
`make demo`: start the emulator on a free loopback port, run the reference DAG through a real
``airflow dags test``, print the job's state timeline and summary, stop the emulator.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from airflow_batchstream.emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[1]
DAG_ID = "example_image_streaming_simple"
PROJECT, REGION = "demo-project", "us-central1"
#: How Batch words a job's state change in its status events.
JOB_STATE_CHANGE = re.compile(r"Job state is set from \w+ to (\w+)")


def airflow_env(home: Path, emulator_host: str) -> dict[str, str]:
    """
    Return the environment of a throwaway Airflow that talks to the emulator.

    :param home: the throwaway ``AIRFLOW_HOME``.
    :param emulator_host: ``host:port`` of the running emulator.
    """
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "BATCH_EMULATOR_HOST": emulator_host,
        "BATCHSTREAM_PROJECT_ID": PROJECT,
        "BATCHSTREAM_REGION": REGION,
        "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT": json.dumps(
            {"conn_type": "google_cloud_platform", "extra": {"project": PROJECT, "is_anonymous": True}}
        ),
    }


def print_timeline(emulator_host: str) -> bool:
    """
    Print each job's status events and summary; return whether every job succeeded.

    :param emulator_host: ``host:port`` of the running emulator.
    """
    os.environ["BATCH_EMULATOR_HOST"] = emulator_host
    from airflow_batchstream.hooks.batch import build_batch_client
    from airflow_batchstream.summary import summarize_job

    client = build_batch_client("v1alpha")
    jobs = list(client.list_jobs(parent=f"projects/{PROJECT}/locations/{REGION}"))
    for job in jobs:
        print(f"\nTimeline of {job.name}:")
        print(f"  {job.create_time.isoformat()}  Job created; state QUEUED.")
        for event in job.status.status_events:
            print(f"  {event.event_time.isoformat()}  {event.description}")
        states = ["QUEUED"] + [
            m[1] for e in job.status.status_events if (m := JOB_STATE_CHANGE.search(e.description))
        ]
        print("States:", " → ".join(states))
        print("Summary:", json.dumps(summarize_job(job), indent=2))
    return bool(jobs) and all(job.status.state.name == "SUCCEEDED" for job in jobs)


def main() -> int:
    """Run the demo; return the process exit code."""
    with tempfile.TemporaryDirectory(prefix="batchstream-demo-") as home, EmulatorProcess() as emulator:
        print(f"Emulator listening: BATCH_EMULATOR_HOST={emulator.address}", flush=True)
        env = airflow_env(Path(home), emulator.address)
        subprocess.run(["airflow", "db", "migrate"], env=env, check=True, capture_output=True)
        print(f"Running `airflow dags test {DAG_ID}` ...", flush=True)
        run = subprocess.run(["airflow", "dags", "test", DAG_ID], env=env)
        succeeded = print_timeline(emulator.address)
    print("\nDemo", "succeeded." if run.returncode == 0 and succeeded else "FAILED.")
    return 0 if run.returncode == 0 and succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
