"""The environment that points Airflow at a running emulator, as a file a shell sources.

``batchstream-emulator --env-file FILE`` writes it once the emulator serves (and removes it when
the emulator stops); ``batchstream-emulator --ready FILE`` waits for it. Each line is
``NAME=VALUE`` with the value quoted for a POSIX shell (``set -a; . FILE; set +a``).
"""

from __future__ import annotations

import json
import os
import shlex
import tempfile
import time
from pathlib import Path

from airflow_batchstream.api_version import EMULATOR_HOST_ENV
from airflow_batchstream.emulator_client import EMULATOR_TOKEN_ENV
from airflow_batchstream.polling import MAX_POLL_INTERVAL_ENV

#: Airflow reads ``google_cloud_default`` from this variable when no other backend defines it.
DEFAULT_CONNECTION_ENV = "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"
#: An anonymous Google connection whose project matches the example DAGs' default.
EMULATOR_CONNECTION = json.dumps(
    {"conn_type": "google_cloud_platform", "extra": {"project": "demo-project", "is_anonymous": True}}
)


def emulator_environment(address: str, poll_interval: float, token: str | None = None) -> dict[str, str]:
    """
    Return the variables that send Airflow's Batch (and Pub/Sub) calls to an emulator, with fast waits.

    :param address: the emulator's ``host:port``.
    :param poll_interval: the longest wait between two looks at a job (``Timings.poll_interval()``).
    :param token: the emulator's access token, if it has one (``BATCH_EMULATOR_TOKEN``).
    """
    environment = {
        EMULATOR_HOST_ENV: address,
        "PUBSUB_EMULATOR_HOST": address,  # the emulator serves Pub/Sub on the same port
        MAX_POLL_INTERVAL_ENV: f"{poll_interval:g}",
        DEFAULT_CONNECTION_ENV: EMULATOR_CONNECTION,
    }
    if token:
        environment[EMULATOR_TOKEN_ENV] = token
    return environment


def env_lines(environment: dict[str, str]) -> str:
    """
    Return ``NAME=VALUE`` lines, each value quoted for a POSIX shell.

    :param environment: the variables.
    """
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in environment.items())


def write_env_file(path: Path, environment: dict[str, str]) -> None:
    """
    Write the variables to ``path`` at once (a reader never sees half a file).

    :param path: where to write.
    :param environment: the variables.
    """
    path = path.absolute()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as out:
        out.write(env_lines(environment))
    os.replace(tmp, path)


def read_env_file(path: Path) -> dict[str, str]:
    """
    Read the variables of a file :func:`write_env_file` wrote.

    :param path: the file.
    """
    environment: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            name, _, value = line.partition("=")
            environment[name] = "".join(shlex.split(value))
    return environment


def wait_ready(path: Path, timeout: float) -> str:
    """
    Wait until ``path`` names an emulator that answers; return its address.

    :param path: the env file ``--env-file`` writes.
    :param timeout: seconds to wait at most.
    :raises TimeoutError: nothing answered in time.
    """
    from airflow_batchstream.emulator.control import EmulatorControl, EmulatorControlError

    deadline = time.monotonic() + timeout
    while True:
        if path.exists():
            environment = read_env_file(path)
            address = environment.get(EMULATOR_HOST_ENV, "")
            timeout = max(0.1, min(2.0, deadline - time.monotonic()))
            control = EmulatorControl(address, timeout, environment.get(EMULATOR_TOKEN_ENV))
            try:
                control.jobs_created()
                return address
            except EmulatorControlError:
                pass
            finally:
                control.close()
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no emulator answered through {path} within {timeout:g} s")
        time.sleep(0.05)
