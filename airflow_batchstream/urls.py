"""Cloud Console addresses of a Batch job and of its logs; plain string work, no imports of Google code."""

from __future__ import annotations

from urllib.parse import quote

#: Batch's job page. Not in Google's reference docs, but the form the Console itself links to and the
#: one widely used (see DESIGN.md "Facts"):
#: ``https://console.cloud.google.com/batch/jobsDetail/regions/{REGION}/jobs/{JOB_ID}/details?project={PROJECT}``
CONSOLE_JOB_URL = "https://console.cloud.google.com/batch/jobsDetail/regions/{region}/jobs/{job_id}/details?project={project}"
#: Logs Explorer with a query in the URL path: ``https://console.cloud.google.com/logs/query;query=QUERY?project=P``
#: (Cloud Logging "Logs Explorer" docs, link-to-a-query; same form as github.com/vvakame/gcplogurl builds).
LOGS_EXPLORER_URL = "https://console.cloud.google.com/logs/query;query={query}?project={project}"
#: The log Batch writes task stdout/stderr to (Batch docs "Analyze a job using logs",
#: https://cloud.google.com/batch/docs/analyze-job-using-logs).
BATCH_TASK_LOG_ID = "batch_task_logs"


def split_job_name(job_name: str) -> tuple[str, str, str]:
    """
    Return ``(project, region, job_id)`` of ``projects/P/locations/L/jobs/ID``.

    :param job_name: a job's full resource name.
    """
    parts = job_name.split("/")
    if len(parts) != 6 or parts[0] != "projects" or parts[2] != "locations" or parts[4] != "jobs":
        raise ValueError(f"{job_name!r} is not a job name of the form projects/P/locations/L/jobs/ID")
    return parts[1], parts[3], parts[5]


def console_job_url(job_name: str) -> str:
    """
    Return the Cloud Console page of a Batch job.

    :param job_name: the job's full resource name, ``projects/P/locations/L/jobs/ID``.
    """
    project, region, job_id = split_job_name(job_name)
    return CONSOLE_JOB_URL.format(region=region, job_id=job_id, project=project)


def task_log_filter(project: str, job_uid: str) -> str:
    """
    Return the Logging filter of a job's task output.

    Batch docs ("Analyze a job using logs", Python/gcloud samples) read ``batch_task_logs`` with
    ``labels.job_uid=<uid>``; naming the log keeps the query on one log.

    :param project: the project the job runs in.
    :param job_uid: the job's ``uid`` (not its id).
    """
    return f'logName="projects/{project}/logs/{BATCH_TASK_LOG_ID}" AND labels.job_uid="{job_uid}"'


def logs_explorer_url(job_name: str, job_uid: str) -> str:
    """
    Return a Logs Explorer link showing the task output of a job.

    :param job_name: the job's full resource name, ``projects/P/locations/L/jobs/ID``.
    :param job_uid: the job's ``uid``.
    """
    project = split_job_name(job_name)[0]
    query = quote(task_log_filter(project, job_uid), safe="")
    return LOGS_EXPLORER_URL.format(query=query, project=project)
