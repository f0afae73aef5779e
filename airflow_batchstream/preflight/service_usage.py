"""Is the Container File System API enabled in a project? Asked through the Service Usage API.

``GET https://serviceusage.googleapis.com/v1/projects/P/services/containerfilesystem.googleapis.com``
returns a ``Service`` whose ``state`` is ``ENABLED`` or ``DISABLED``; it needs
``serviceusage.services.get`` on the project
(https://cloud.google.com/service-usage/docs/reference/rest/v1/services/get). Batch image
streaming needs this API (https://cloud.google.com/batch/docs/use-image-streaming).
"""

from __future__ import annotations

from typing import Any

import requests

from airflow_batchstream.preflight.http import HTTP_TIMEOUT, AccessProblem, service_usage_target

CONTAINER_FILE_SYSTEM_API = "containerfilesystem.googleapis.com"


def enable_command(project_id: str) -> str:
    """
    Return the command that enables the Container File System API.

    :param project_id: the project.
    """
    return f"gcloud services enable {CONTAINER_FILE_SYSTEM_API} --project={project_id}"


def service_state(project_id: str, session: Any, service: str = CONTAINER_FILE_SYSTEM_API) -> str:
    """
    Return a service's state in a project: ``ENABLED``, ``DISABLED`` or ``STATE_UNSPECIFIED``.

    :param project_id: the project id or number.
    :param session: an authorised HTTP session (``google.auth.transport.requests.AuthorizedSession``).
    :param service: the service name.
    :raises AccessProblem: when the caller may not ask (401/403), the API cannot be reached, or its
        answer is not a Service.
    """
    base, headers = service_usage_target()
    url = f"{base}/v1/projects/{project_id}/services/{service}"
    try:
        response = session.get(url, timeout=HTTP_TIMEOUT, headers=headers, allow_redirects=False)
    except (requests.RequestException, OSError) as error:
        raise AccessProblem(f"cannot reach the Service Usage API: {error}") from None
    if response.status_code in (401, 403):
        raise AccessProblem(
            f"the Service Usage API refused to show {service} in project {project_id} "
            f"(HTTP {response.status_code}); grant roles/serviceusage.serviceUsageViewer to check it"
        )
    if response.status_code != 200:
        raise AccessProblem(f"the Service Usage API answered HTTP {response.status_code} for {url}")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("state", ""), str):
        raise AccessProblem(f"the Service Usage API's answer for {url} is not a Service (JSON object)")
    return str(body.get("state") or "STATE_UNSPECIFIED")
