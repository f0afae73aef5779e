"""Buttons on the task page: the job in the Cloud Console, and its task output in Logs Explorer.

Each link's whole URL is stored in XCom under the link's key right after the job is created (before
the task waits or defers), so the UI shows it while the job runs; Airflow 3's API server reads that
XCom value itself. Imports no Google or gRPC code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey


class _StoredUrlLink(BaseOperatorLink):
    """A link whose URL the task stored in XCom under :attr:`key`."""

    name: ClassVar[str]
    key: ClassVar[str]

    @property
    def xcom_key(self) -> str:
        """The XCom key the URL is stored under."""
        return self.key

    @classmethod
    def url(cls, job_name: str, job_uid: str) -> str:
        """
        Return this link's URL for a job.

        :param job_name: the job's full resource name, ``projects/P/locations/L/jobs/ID``.
        :param job_uid: the job's uid.
        """
        raise NotImplementedError

    @classmethod
    def persist(cls, context: Context, job_name: str, job_uid: str) -> str:
        """
        Store this link's URL for a job in the running task's XCom and return it.

        :param context: the task's context.
        :param job_name: the job's full resource name.
        :param job_uid: the job's uid.
        """
        url = cls.url(job_name, job_uid)
        context["ti"].xcom_push(key=cls.key, value=url)
        return url

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """
        Return the stored URL, or ``""`` before the task stored one.

        :param operator: the task's operator.
        :param ti_key: the task instance.
        """
        from airflow.sdk.api.client import ServerResponseError
        from airflow.sdk.execution_time.xcom import XCom

        try:
            value: Any = XCom.get_value(ti_key=ti_key, key=self.key)
        except ServerResponseError:  # Airflow 3.1 answers a missing XCom with an error, not None
            return ""
        return value if isinstance(value, str) else ""


class BatchStreamJobLink(_StoredUrlLink):
    """The job's page in the Cloud Console (``.../batch/jobsDetail/regions/R/jobs/ID/details?project=P``)."""

    name = "Batch job"
    key = "batchstream_job"

    @classmethod
    def url(cls, job_name: str, job_uid: str) -> str:
        """
        Return the Console page of the job.

        :param job_name: the job's full resource name.
        :param job_uid: the job's uid (unused: the page is found by name).
        """
        from airflow_batchstream.urls import console_job_url

        return console_job_url(job_name)


class BatchStreamJobLogsLink(_StoredUrlLink):
    """Logs Explorer showing the job's ``batch_task_logs`` entries (filtered by ``labels.job_uid``)."""

    name = "Batch job logs"
    key = "batchstream_job_logs"

    @classmethod
    def url(cls, job_name: str, job_uid: str) -> str:
        """
        Return the Logs Explorer address of the job's task output.

        :param job_name: the job's full resource name.
        :param job_uid: the job's uid.
        """
        from airflow_batchstream.urls import logs_explorer_url

        return logs_explorer_url(job_name, job_uid)


#: The links the operator shows, in order.
JOB_LINKS: tuple[type[_StoredUrlLink], ...] = (BatchStreamJobLink, BatchStreamJobLogsLink)


def persist_job_links(context: Context, job_name: str, job_uid: str) -> dict[str, str]:
    """
    Store every job link's URL in the task's XCom; return key → URL.

    :param context: the task's context.
    :param job_name: the job's full resource name.
    :param job_uid: the job's uid.
    """
    return {link.key: link.persist(context, job_name, job_uid) for link in JOB_LINKS}
