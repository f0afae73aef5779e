"""A real Airflow 3 deployment on loopback, in one of two shapes.

- ``local``: api-server, scheduler, dag-processor and one triggerer, LocalExecutor on SQLite (the
  pair Airflow 3's ``airflow standalone`` runs).
- ``celery``: the distributed engine: CeleryExecutor with two Celery workers, two triggerers,
  scheduler, dag-processor and api-server on PostgreSQL, Redis as the broker (see
  ``backing_services.py``).

Each component is its own ``airflow`` process (and process group) with a throwaway
``AIRFLOW_HOME``. Only the processes started here are ever signalled, through their own process
groups.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
from rest_client import AirflowApi, AirflowApiError

# Logs live on one local disk, which the api-server reads directly: no log-serving ports.
_CORE: dict[str, list[str]] = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
}
_TRIGGERER = ["triggerer", "--skip-serve-logs"]
#: The ``airflow`` sub-commands of each deployment shape's components, by component name.
COMPONENTS: dict[str, dict[str, list[str]]] = {
    "local": {**_CORE, "triggerer": _TRIGGERER},
    "celery": {
        **_CORE,
        "triggerer-1": _TRIGGERER,
        "triggerer-2": _TRIGGERER,
        **{
            f"worker-{n}": ["celery", "worker", "--celery-hostname", f"worker-{n}@%h", "--skip-serve-logs"]
            for n in (1, 2)
        },
    },
}
USERNAME = "admin"
#: Environment variables of the test process that must not leak into the deployment.
_OWN_PREFIXES = ("AIRFLOW_", "AIRFLOW__", "BATCH_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AirflowDeployment:
    """
    Start, crash, restart and stop the components of one Airflow deployment.

    :param home: an empty directory to use as ``AIRFLOW_HOME``.
    :param dags_folder: the DAGs folder every component reads.
    :param extra_env: variables every component gets, such as ``BATCH_EMULATOR_HOST``.
    :param shape: ``"local"`` or ``"celery"`` (see the module docstring).
    :param database_url: the metadata database's SQLAlchemy URL; SQLite in ``home`` when not given.
    :param broker_url: the Celery broker's URL (``celery`` only).
    """

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        extra_env: Mapping[str, str],
        shape: str = "local",
        database_url: str | None = None,
        broker_url: str | None = None,
    ) -> None:
        self.home = home
        self.dags_folder = dags_folder
        self.shape = shape
        self.components = COMPONENTS[shape]
        self.database_url = database_url or f"sqlite:///{home / 'airflow.db'}"
        self.broker_url = broker_url
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        self.env = self._environment(dict(extra_env))
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.api = AirflowApi(self.base_url, USERNAME, self.password)

    def _environment(self, extra_env: dict[str, str]) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
        return {
            **base,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url,
            **self._executor_environment(),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            # Every component signs or checks the same tokens.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            # Fast loops, so a test waits seconds rather than minutes.
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            # A restarted triggerer takes over a dead one's triggers once its heartbeat is this old.
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            **extra_env,
        }

    def _executor_environment(self) -> dict[str, str]:
        if self.shape == "local":
            return {"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"}
        assert self.broker_url, "the celery shape needs a broker"
        return {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": "32",
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.database_url,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "16",
            # A worker that dies takes its tasks' heartbeats with it: fail them after 30 s, not 5 min.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        }

    @property
    def triggerers(self) -> list[str]:
        """The names of this deployment's triggerer components."""
        return [name for name in self.components if name.startswith("triggerer")]

    @property
    def workers(self) -> list[str]:
        """The names of this deployment's Celery worker components (none with LocalExecutor)."""
        return [name for name in self.components if name.startswith("worker")]

    def log_path(self, component: str) -> Path:
        """
        Return the file that collects a component's stdout and stderr (across restarts).

        :param component: a name from this deployment's :attr:`components`.
        """
        return self.home / f"{component}.out"

    def prepare(self) -> None:
        """Write the admin's password where SimpleAuthManager reads it, and create the database."""
        (self.home / "passwords.json").write_text(json.dumps({USERNAME: self.password}))
        migrated = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if migrated.returncode:
            raise RuntimeError(f"airflow db migrate failed:\n{migrated.stderr[-3000:]}")

    def start_component(self, component: str) -> None:
        """
        Start one component in its own process group.

        :param component: a name from this deployment's :attr:`components`.
        """
        if component in self.processes and self.processes[component].poll() is None:
            raise RuntimeError(f"{component} is already running")
        with self.log_path(component).open("ab") as out:
            self.processes[component] = subprocess.Popen(
                [sys.executable, "-m", "airflow", *self.components[component]],
                env=self.env,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop_component(self, component: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        """
        Signal a component's whole process group and wait for it; SIGKILL what outlives ``timeout``.

        :param component: a name from this deployment's :attr:`components`.
        :param sig: the first signal: SIGTERM for a clean stop, SIGKILL for a crash.
        :param timeout: seconds to wait before SIGKILL.
        """
        process = self.processes.pop(component, None)
        if process is None:
            return
        _signal_group(process.pid, sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        # Children (task runners, log servers) may outlive their leader: end the rest of the group.
        _signal_group(process.pid, signal.SIGKILL)

    def crash_component(self, component: str) -> None:
        """
        Kill a component and everything it started at once (SIGKILL to its process group).

        :param component: a name from this deployment's :attr:`components`.
        """
        self.stop_component(component, sig=signal.SIGKILL)

    def owner(self, pid: int) -> str | None:
        """
        Return the component a process descends from, or None when it is not this deployment's
        (task runners start their own sessions, so the parent chain decides, not the process group).

        :param pid: a process id.
        """
        leaders = {process.pid: name for name, process in self.processes.items()}
        for _ in range(32):  # deeper than any component's tree
            if pid in leaders:
                return leaders[pid]
            pid = _parent(pid)
            if pid <= 1:
                return None
        return None

    def peak_rss_mib(self, component: str) -> float:
        """
        Return the peak resident memory of a component's processes, summed (MiB; ``VmHWM``).

        :param component: a name from this deployment's :attr:`components`.
        """
        kib = 0
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and self.owner(int(entry.name)) == component:
                with contextlib.suppress(OSError):
                    status = (entry / "status").read_text()
                    kib += next(
                        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0
                    )
        return kib / 1024

    def start(self, timeout: float = 180.0) -> float:
        """
        Prepare, start every component, and wait until the API reports all of them healthy.

        :param timeout: seconds to wait for health.
        :return: seconds the start-up took.
        """
        began = time.monotonic()
        self.prepare()
        for component in self.components:
            self.start_component(component)
        self.wait_healthy(deadline=began + timeout)
        return time.monotonic() - began

    def wait_healthy(self, deadline: float) -> None:
        """
        Wait until ``/api/v2/monitor/health`` says every component is healthy.

        :param deadline: ``time.monotonic()`` value to give up at.
        """
        last: object = "no answer"
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                last = self.api.health()
            except (httpx.TransportError, AirflowApiError) as error:  # not serving yet
                last = error
            else:
                if all(
                    isinstance(part, dict) and part.get("status") == "healthy"
                    for part in last.values()  # type: ignore[union-attr]
                ):
                    return
            time.sleep(1)
        raise TimeoutError(f"Airflow was not healthy in time; last health: {last}\n{self.diagnostics()}")

    def _check_alive(self) -> None:
        dead = {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}
        if dead:
            raise RuntimeError(f"components exited: {dead}\n{self.diagnostics()}")

    def stop(self, timeout: float = 20.0) -> None:
        """
        Stop every component this deployment started: SIGTERM to all, then SIGKILL what is left.

        :param timeout: seconds the components get, together, to exit cleanly.
        """
        processes, self.processes = self.processes, {}
        for process in processes.values():
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            _signal_group(process.pid, signal.SIGKILL)
        self.api.close()

    def diagnostics(self, lines: int = 25) -> str:
        """
        Return the last lines of every component's output, for failure messages.

        :param lines: how many lines of each.
        """
        parts = []
        for component in self.components:
            path = self.log_path(component)
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {component} ---\n" + "\n".join(tail))
        return "\n".join(parts)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return 0
    # The command name (2nd field) is in parentheses and may hold spaces; the parent follows the state.
    return int(stat.rsplit(")", 1)[1].split()[1])
