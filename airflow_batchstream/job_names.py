"""Naming Batch jobs in a task's arguments: one job (``job_name``, or ``project_id`` + ``region`` +
``job_id``), or many (a ListJobs filter built from labels and a state).

Imports no Google or gRPC code: operator and sensor modules use it when a DAG file is parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_batchstream.arguments import ArgumentCheck
from airflow_batchstream.validation.violations import Violation


def job_reference_problems(
    job_name: Any,
    job_id: Any,
    region: Any,
    labels: Any = None,
    *,
    labels_allowed: bool = False,
) -> list[Violation]:
    """
    Return what is wrong with how the arguments name one job (empty: they name it exactly one way).

    :param job_name: the job's full resource name.
    :param job_id: the job's id in ``region``.
    :param region: the region of ``job_id`` (or of ``labels``).
    :param labels: labels of the job (a sensor watches the newest job carrying them).
    :param labels_allowed: whether naming the job by ``labels`` is a way this task offers.
    """
    ways = "job_name=, or job_id= with region=" + (", or labels= with region=" if labels_allowed else "")
    given = [job_name is not None, job_id is not None, labels is not None]
    if sum(given) != 1 or (labels is not None and not labels_allowed):
        return [Violation("job_name", "bad-argument", f"name the job one way: {ways}")]
    if job_name is None and region is None:
        what = "job_id= and labels=" if labels_allowed else "job_id="
        return [Violation("region", "bad-argument", f"{what} need region=", "give region=")]
    return []


def check_rendered_reference(
    check: ArgumentCheck, job_name: Any, project_id: Any, region: Any, job_id: Any
) -> None:
    """
    Check the rendered (templated) arguments that name a job; record the problems in ``check``.

    :param check: where the problems go.
    :param job_name: the job's full resource name, if given.
    :param project_id: the job's project, if given.
    :param region: the job's region, if given.
    :param job_id: the job's id, if given.
    """
    check.job_name("job_name", job_name, required=False)
    check.project_id("project_id", project_id)
    check.region("region", region, required=False)
    check.job_id("job_id", job_id)


def resolve_job_name(
    hook: Any, job_name: str | None, project_id: str | None, region: str | None, job_id: str | None
) -> str:
    """
    Return the job's full resource name from ``job_name``, or from project, region and id.

    :param hook: the task's ``BatchStreamHook`` (its connection gives the default project).
    :param job_name: the job's full resource name, if given.
    :param project_id: the job's project; defaults to the connection's.
    :param region: the job's region.
    :param job_id: the job's id.
    """
    from airflow_batchstream.hooks.batch import job_path

    if job_name:
        return job_name
    return job_path(project_id or hook.project_id, str(region), str(job_id))


def list_filter(
    filter: str | None = None, labels: Mapping[str, str] | None = None, state: str | None = None
) -> str:
    """
    Return a ListJobs (or ListTasks) filter: ``filter``, each label and the state, joined with ``AND``.

    In the filter language of Google APIs (AIP-160) ``OR`` binds tighter than ``AND``, so a user's
    ``a OR b`` stays one term: ``a OR b AND labels.x="y"`` means ``(a OR b) AND labels.x="y"``.

    :param filter: the user's own filter, if any.
    :param labels: labels the jobs carry, each a ``labels.KEY="VALUE"`` term.
    :param state: a job (or task) state name, a ``status.state="STATE"`` term.
    """
    terms = [filter] if filter else []
    terms += [f'labels.{key}="{value}"' for key, value in sorted(dict(labels or {}).items())]
    if state:
        terms.append(f'status.state="{state}"')
    return " AND ".join(terms)
