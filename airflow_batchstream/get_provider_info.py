"""Provider registration read by Airflow's providers manager; a literal dict, no imports."""


def get_provider_info() -> dict:
    """Return the provider metadata Airflow validates against ``provider_info.schema.json``."""
    return {
        "package-name": "airflow-batchstream",
        "name": "Google Cloud Batch image streaming",
        "description": "Submit and watch Google Cloud Batch jobs that stream their container images.\n",
        "integrations": [
            {
                "integration-name": "Google Cloud Batch image streaming",
                "external-doc-url": "https://cloud.google.com/batch/docs/use-image-streaming",
                "tags": ["gcp"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Google Cloud Batch image streaming",
                "python-modules": ["airflow_batchstream.hooks.batch"],
            }
        ],
        "operators": [
            {
                "integration-name": "Google Cloud Batch image streaming",
                "python-modules": [
                    "airflow_batchstream.operators.batch",
                    "airflow_batchstream.operators.lifecycle",
                    "airflow_batchstream.operators.listing",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Google Cloud Batch image streaming",
                "python-modules": ["airflow_batchstream.sensors.batch"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Google Cloud Batch image streaming",
                "python-modules": [
                    "airflow_batchstream.triggers.batch",
                    "airflow_batchstream.triggers.poller",
                    "airflow_batchstream.triggers.push",
                ],
            }
        ],
        "extra-links": [
            "airflow_batchstream.links.batch.BatchStreamJobLink",
            "airflow_batchstream.links.batch.BatchStreamJobLogsLink",
        ],
    }
