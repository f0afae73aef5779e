"""
Choose the image and commands when you trigger the DAG (UI "Trigger DAG" form, or ``--conf``).

The DAG renders templates as native objects, so ``{{ params.commands }}`` stays a list.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, Param

from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator

PROJECT_ID = os.environ.get("BATCHSTREAM_PROJECT_ID", "demo-project")
REGION = os.environ.get("BATCHSTREAM_REGION", "us-central1")
REPOSITORY = os.environ.get("BATCHSTREAM_REPOSITORY", "containers")

with DAG(
    dag_id="example_image_streaming_params",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "batchstream"],
    render_template_as_native_obj=True,
    params={
        "image": Param(
            f"{REGION}-docker.pkg.dev/{PROJECT_ID}/{REPOSITORY}/python:3.12-slim",
            type="string",
            description="Artifact Registry image in the job's region (or its multi-region).",
        ),
        "commands": Param(
            ["-c", "print('hello from a streamed image')"],
            type="array",
            items={"type": "string"},
            description="Arguments to the entrypoint.",
        ),
        "entrypoint": Param("python3", type="string"),
        "task_count": Param(1, type="integer", minimum=1, maximum=100),
    },
) as dag:
    BatchStreamSubmitJobOperator(
        task_id="run_chosen_image",
        project_id=PROJECT_ID,
        region=REGION,
        image_uri="{{ params.image }}",
        entrypoint="{{ params.entrypoint }}",
        commands="{{ params.commands }}",
        task_count="{{ params.task_count }}",
    )


if __name__ == "__main__":
    dag.test()
