"""
The reference image-streaming job, run from Airflow.

The job is Google's sample ``api-samples/image-streaming/image_streaming_simple_job.json`` (a
Debian image that sleeps) with its placeholders filled from the environment. With
``BATCH_EMULATOR_HOST`` set it runs against the local emulator; without it, against your project.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

PROJECT_ID = os.environ.get("BATCHSTREAM_PROJECT_ID", "demo-project")
REGION = os.environ.get("BATCHSTREAM_REGION", "us-central1")
REPOSITORY = os.environ.get("BATCHSTREAM_REPOSITORY", "containers")
IMAGE = os.environ.get("BATCHSTREAM_IMAGE", "debian:12")

#: image_streaming_simple_job.json with ${Location}, ${ProjectID}, ${RepositoryName}, ${Image} filled.
REFERENCE_JOB = {
    "taskGroups": [
        {
            "taskCount": "1",
            "taskCountPerNode": "1",
            "taskSpec": {
                "runnables": [
                    {
                        "container": {
                            "imageUri": f"{REGION}-docker.pkg.dev/{PROJECT_ID}/{REPOSITORY}/{IMAGE}",
                            "commands": ["10m"],
                            "entrypoint": "sleep",
                            "enableImageStreaming": True,
                        }
                    }
                ]
            },
        }
    ],
    "allocationPolicy": {"instances": [{"policy": {"machineType": "e2-standard-4"}}]},
    "logsPolicy": {"destination": "CLOUD_LOGGING"},
}

with DAG(
    dag_id="example_image_streaming_simple",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "batchstream"],
) as dag:
    BatchStreamSubmitJobOperator(
        task_id="sleep_in_streamed_debian",
        project_id=PROJECT_ID,
        region=REGION,
        job=REFERENCE_JOB,
    )


if __name__ == "__main__":
    dag.test()
