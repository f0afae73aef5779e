"""
Run the same large image twice, streamed and pulled, and compare how long each took to start.

``startup_seconds`` in each task's summary (XCom) is the time from SCHEDULED to the first task
RUNNING: VM start plus image pull, or plus the start of the stream. Against Google Cloud the numbers
are real (the first pull of an image may not be faster; later ones are); against the local emulator
they come from its start-up model. Set ``BATCHSTREAM_LARGE_IMAGE`` to an image of your own.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, task

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

PROJECT_ID = os.environ.get("BATCHSTREAM_PROJECT_ID", "demo-project")
REGION = os.environ.get("BATCHSTREAM_REGION", "us-central1")
LARGE_IMAGE = os.environ.get(
    "BATCHSTREAM_LARGE_IMAGE", f"{REGION}-docker.pkg.dev/{PROJECT_ID}/containers/pytorch-training:2.4"
)
COMMANDS = ["-c", "import sys; print('started', sys.version)"]


def _job(streaming: bool) -> dict:
    """The one-container job both tasks run; only image streaming differs."""
    return {
        "taskGroups": [
            {
                "taskSpec": {
                    "runnables": [
                        {
                            "container": {
                                "imageUri": LARGE_IMAGE,
                                "entrypoint": "python3",
                                "commands": COMMANDS,
                                "enableImageStreaming": streaming,
                            }
                        }
                    ]
                }
            }
        ],
        "logsPolicy": {"destination": "CLOUD_LOGGING"},
    }


with DAG(
    dag_id="example_image_streaming_vs_pull",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "batchstream"],
) as dag:
    streamed = BatchStreamSubmitJobOperator(
        task_id="streamed", project_id=PROJECT_ID, region=REGION, job=_job(streaming=True)
    )
    pulled = BatchStreamSubmitJobOperator(
        task_id="pulled", project_id=PROJECT_ID, region=REGION, job=_job(streaming=False)
    )

    @task
    def compare_startup(streamed_summary: dict, pulled_summary: dict) -> dict:
        """Print both start-up times from the summaries and return them."""
        times = {
            "streamed_startup_seconds": streamed_summary["startup_seconds"],
            "pulled_startup_seconds": pulled_summary["startup_seconds"],
        }
        print(
            f"start-up with image streaming: {times['streamed_startup_seconds']} s; "
            f"with a full pull: {times['pulled_startup_seconds']} s"
        )
        return times

    compare_startup(streamed.output, pulled.output)


if __name__ == "__main__":
    dag.test()
