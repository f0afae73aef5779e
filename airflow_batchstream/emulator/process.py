"""Run the emulator's command line as a child process, for scripts and tests that need a separate server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_batchstream.emulator.control import EmulatorControl

ADDRESS_PREFIX = "BATCH_EMULATOR_HOST="
TOKEN_PREFIX = "BATCH_EMULATOR_TOKEN="


class EmulatorProcess:
    """
    ``batchstream-emulator`` in a child process on a free loopback port; a context manager.

    :param args: extra command-line options, such as ``["--run-seconds", "2"]``.
    :param startup_timeout: seconds to wait for the first line before giving up.
    """

    def __init__(self, args: Sequence[str] = (), startup_timeout: float = 30.0) -> None:
        self.args = list(args)
        self.startup_timeout = startup_timeout
        self.address = ""
        #: The access token the child printed (``--allow-remote``/``--access-token``), or ``None``.
        self.token: str | None = None
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> EmulatorProcess:
        """Start the server and read its address from its first line of output."""
        self._process = subprocess.Popen(
            [sys.executable, "-m", "airflow_batchstream.emulator", "--port", "0", *self.args],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        first = self._process.stdout.readline().strip()
        if not first.startswith(ADDRESS_PREFIX):
            self.stop()
            raise RuntimeError(f"the emulator did not start: its first line was {first!r}")
        self.address = first.removeprefix(ADDRESS_PREFIX)
        if "--access-token" in self.args or "--allow-remote" in self.args:
            self.token = self._process.stdout.readline().strip().removeprefix(TOKEN_PREFIX) or None
        return self

    def control(self) -> EmulatorControl:
        """A client of the child's control service (counters, faults, scenarios)."""
        from airflow_batchstream.emulator.control import EmulatorControl

        if not self.address:
            raise RuntimeError("start the emulator first")
        return EmulatorControl(self.address, token=self.token)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout:
            self._process.stdout.close()
        self._process = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
