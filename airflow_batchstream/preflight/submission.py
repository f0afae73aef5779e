"""What a dry run logs and returns instead of submitting."""

from __future__ import annotations

import json
from typing import Any

HIDDEN = "<hidden>"
#: Fields whose value is a secret itself.
_SECRET_FIELDS = frozenset({"password", "cipherText", "cipher_text"})
#: Fields that map variable names to values: the names are shown, the values hidden.
_VARIABLE_MAPS = frozenset({"variables", "secretVariables", "secret_variables", "environments"})


def redacted(value: Any) -> Any:
    """
    Return a JSON tree fit for logs and XCom: passwords and cipher texts hidden, and every
    environment variable's value hidden under its name.

    :param value: a JSON-like tree (a job in REST JSON or snake_case form).
    """
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in _SECRET_FIELDS:
                out[key] = HIDDEN
            elif key in _VARIABLE_MAPS and isinstance(item, dict):
                out[key] = dict.fromkeys(item, HIDDEN)
            else:
                out[key] = redacted(item)
        return out
    if isinstance(value, list):
        return [redacted(item) for item in value]
    return value


def dry_run_result(job: Any, *, job_id: str, region: str, project_id: str, log: Any) -> dict[str, Any]:
    """
    Log the final job JSON and return what a dry run reports instead of a job summary.

    :param job: the ``Job`` proto that would be submitted.
    :param job_id: the id it would be created under.
    :param region: the Batch region.
    :param project_id: the project.
    :param log: the task's logger.
    """
    from google.protobuf import json_format

    body = redacted(json_format.MessageToDict(type(job).pb(job)))
    name = f"projects/{project_id}/locations/{region}/jobs/{job_id}"
    log.info(
        "Dry run: validated and preflighted; would create %s with:\n%s", name, json.dumps(body, indent=2)
    )
    return {"dry_run": True, "job_name": name, "job_id": job_id, "state": "NOT_SUBMITTED", "job": body}
