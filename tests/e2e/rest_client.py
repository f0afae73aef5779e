"""The Airflow 3 public REST API (``/api/v2``), used the way a person or a script would use it."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx

FINISHED_RUN_STATES = {"success", "failed"}


class AirflowApiError(AssertionError):
    """An API call answered with an unexpected status."""


class AirflowApi:
    """
    A small client of the public API, authenticated like a user of SimpleAuthManager.

    The token comes from ``POST /auth/token`` with the user's name and password (Airflow 3's
    SimpleAuthManager; see "Simple auth manager" in the Airflow docs, section "Authentication
    with the API").

    :param base_url: the api-server's address, such as ``http://127.0.0.1:8080``.
    :param username: a user of SimpleAuthManager.
    :param password: that user's password.
    """

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self.username = username
        self.password = password
        self._http = httpx.Client(base_url=base_url, timeout=30.0)
        self._token = ""

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def token(self) -> str:
        """Return a JWT for the user, asking the api-server for one on first use."""
        if not self._token:
            response = self._http.post(
                "/auth/token", json={"username": self.username, "password": self.password}
            )
            _check(response, 201)
            self._token = response.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> httpx.Response:
        """
        Call ``/api/v2`` + ``path`` with the user's token; fail unless the status is ``expect``.

        :param method: HTTP method.
        :param path: path below ``/api/v2``.
        :param expect: the status the call must answer.
        :param kwargs: passed to :meth:`httpx.Client.request` (``json=``, ``params=``, ``headers=``).
        """
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        response = self._http.request(method, f"/api/v2{path}", headers=headers, **kwargs)
        _check(response, expect)
        return response

    def health(self) -> dict[str, Any]:
        """Return ``/api/v2/monitor/health`` (it needs no token)."""
        response = self._http.get("/api/v2/monitor/health")
        _check(response, 200)
        return response.json()

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """
        Wait until the dag-processor has parsed a DAG; fail early on its import error.

        :param dag_id: the DAG's id.
        :param timeout: seconds to wait.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.request("GET", f"/dags/{dag_id}", expect=0)
            if response.status_code == 200:
                return response.json()
            errors = self.request("GET", "/importErrors").json()["import_errors"]
            if errors:
                raise AirflowApiError(f"import errors while waiting for {dag_id}: {errors}")
            time.sleep(1)
        raise TimeoutError(f"DAG {dag_id} was not parsed within {timeout} s")

    def unpause(self, dag_id: str) -> None:
        """
        Unpause a DAG, as the toggle in the UI does.

        :param dag_id: the DAG's id.
        """
        self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(
        self, dag_id: str, conf: dict[str, Any] | None = None, logical_date: str | None = None
    ) -> str:
        """
        Trigger a DAG run, as the UI's "Trigger" form does; return its run id.

        :param dag_id: the DAG's id.
        :param conf: the run's configuration (the form's params).
        :param logical_date: ISO date-time of the run, or ``None`` for a run without one.
        """
        body = {"logical_date": logical_date, "conf": conf or {}}
        return self.request("POST", f"/dags/{dag_id}/dagRuns", json=body).json()["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 120.0) -> str:
        """
        Wait until a DAG run finishes; return its state.

        :param dag_id: the DAG's id.
        :param run_id: the run's id.
        :param timeout: seconds to wait.
        """
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = self.request("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}").json()["state"]
            if state in FINISHED_RUN_STATES:
                return state
            time.sleep(1)
        raise TimeoutError(f"run {dag_id}/{run_id} still {state!r} after {timeout} s")

    def task_path(self, dag_id: str, run_id: str, task_id: str) -> str:
        """
        Return the API path of a task instance.

        :param dag_id: the DAG's id.
        :param run_id: the run's id.
        :param task_id: the task's id.
        """
        return f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        """
        Return a run's task instances by task id.

        :param dag_id: the DAG's id.
        :param run_id: the run's id.
        """
        path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        return {ti["task_id"]: ti for ti in self.request("GET", path).json()["task_instances"]}

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        """
        Return one task instance.

        :param dag_id: the DAG's id.
        :param run_id: the run's id.
        :param task_id: the task's id.
        """
        return self.request("GET", self.task_path(dag_id, run_id, task_id)).json()

    def set_task_state(self, dag_id: str, run_id: str, task_id: str, state: str) -> None:
        """
        Mark a task instance ``failed`` or ``success``, as the UI's "Mark as" buttons do.

        :param dag_id: the DAG's id.
        :param run_id: the run's id.
        :param task_id: the task's id.
        :param state: the new state.
        """
        self.request("PATCH", self.task_path(dag_id, run_id, task_id), json={"new_state": state})

    def clear_tasks(self, dag_id: str, run_id: str, task_ids: list[str]) -> None:
        """
        Clear task instances of a run whatever their state, as the UI's "Clear" button does: they run again.

        :param dag_id: the DAG's id.
        :param run_id: the run's id.
        :param task_ids: the tasks to clear.
        """
        body = {"dry_run": False, "dag_run_id": run_id, "task_ids": task_ids, "only_failed": False}
        self.request("POST", f"/dags/{dag_id}/clearTaskInstances", json=body)

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """
        Return a task instance's XCom value, deserialized.

        :param dag_id: the DAG's id.
        :param run_id: the run's id.
        :param task_id: the task's id.
        :param key: the XCom key.
        """
        path = f"{self.task_path(dag_id, run_id, task_id)}/xcomEntries/{key}"
        return self.request("GET", path, params={"deserialize": "true"}).json()["value"]

    def links(self, dag_id: str, run_id: str, task_id: str) -> dict[str, str | None]:
        """
        Return a task instance's extra links, name to URL.

        :param dag_id: the DAG's id.
        :param run_id: the run's id.
        :param task_id: the task's id.
        """
        return self.request("GET", f"{self.task_path(dag_id, run_id, task_id)}/links").json()["extra_links"]

    def log_text(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        """
        Return a task try's log as text, one line per entry (the events the UI's log view shows, with
        the exceptions of the entries that carry one).

        :param dag_id: the DAG's id.
        :param run_id: the run's id.
        :param task_id: the task's id.
        :param try_number: the try, from 1.
        """
        path = f"{self.task_path(dag_id, run_id, task_id)}/logs/{try_number}"
        content = self.request("GET", path, params={"full_content": "true"}).json()["content"]
        return "\n".join(_log_line(entry) for entry in content)


def _log_line(entry: Any) -> str:
    """One log entry as ``timestamp level event``, then the exceptions it carries (``error_detail``)."""
    if not isinstance(entry, dict):
        return str(entry)
    words = [str(entry[key]) for key in ("timestamp", "level", "event") if entry.get(key)]
    errors = entry.get("error_detail") or []
    words += [f"{error.get('exc_type')}: {error.get('exc_value')}" for error in errors]
    return " ".join(words)


def _check(response: httpx.Response, expect: int) -> None:
    if expect and response.status_code != expect:
        raise AirflowApiError(
            f"{response.request.method} {response.request.url} answered {response.status_code}, "
            f"expected {expect}: {response.text[:2000]}"
        )
