"""PostgreSQL and Redis on loopback for the distributed deployment, from Debian's packages.

Each server gets a throwaway data directory and a free port on 127.0.0.1, runs in its own process
group, and is stopped (and its directory removed) on exit. PostgreSQL refuses to run as root, so
as root it runs as the ``postgres`` user that Debian's package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from airflow_deployment import free_port

#: Debian installs the server binaries outside PATH, one folder per major version.
_PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def _pg_binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"{_PG_BIN_GLOB}/{name}"), reverse=True)), None)
    if not found:
        raise FileNotFoundError(f"{name} not found: install Debian's postgresql package (.ci/run does)")
    return found


class _Server:
    """A server process in its own process group, stopped on exit."""

    name = "server"

    def __init__(self) -> None:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix=f"batchstream-{self.name}-"))
        self.process: subprocess.Popen[bytes] | None = None

    def _start(self, command: list[str], log: Path) -> None:
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_ready(self, ready: list[str], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {self.log_tail()}")
            if subprocess.run(ready, capture_output=True, timeout=10).returncode == 0:
                return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} was not ready in {timeout} s: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        """
        Return the last lines of the server's output.

        :param lines: how many.
        """
        path = self.directory / "server.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.directory, ignore_errors=True)


class PostgresServer(_Server):
    """A PostgreSQL cluster with an ``airflow`` database, trusting loopback connections."""

    name = "postgres"
    user = "airflow"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the ``airflow`` database."""
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/airflow"

    def _as_owner(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def __enter__(self) -> PostgresServer:
        data = self.directory / "data"
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
        subprocess.run(
            self._as_owner([_pg_binary("initdb"), "-D", str(data), "-U", self.user, "--auth=trust"]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        self._start(
            self._as_owner(
                [
                    _pg_binary("postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.directory),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    # Scheduler, api-server, dag-processor, two triggerers, two Celery workers and their
                    # result backend each hold a pool.
                    "-c",
                    "max_connections=400",
                    # A throwaway database: durability buys nothing here.
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ]
            ),
            self.directory / "server.log",
        )
        ready = [_pg_binary("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user]
        self._wait_ready(ready)
        subprocess.run(
            [_pg_binary("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "airflow"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return self


class RedisServer(_Server):
    """A Redis server without persistence, the Celery broker."""

    name = "redis"

    @property
    def url(self) -> str:
        """The broker URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if not binary:
            raise FileNotFoundError("redis-server not found: install Debian's redis-server (.ci/run does)")
        self._start(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            self.directory / "server.log",
        )
        self._wait_ready([shutil.which("redis-cli") or "redis-cli", "-p", str(self.port), "ping"])
        return self
