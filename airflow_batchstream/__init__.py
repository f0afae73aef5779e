"""Apache Airflow provider for Google Cloud Batch jobs with image streaming."""

__version__ = "0.1.0"
