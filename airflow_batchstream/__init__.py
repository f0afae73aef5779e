"""Apache Airflow provider for Google Cloud Batch jobs with image streaming."""

from airflow_batchstream.airflow_version import check_airflow_version, installed_airflow_version

__version__ = "0.1.0"

check_airflow_version(installed_airflow_version())
