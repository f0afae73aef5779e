"""Scenarios registered ahead of a job's creation: by job id, by labels, or by ``emulator-*`` labels."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace

import grpc

from airflow_batchstream.emulator.model import (
    LABEL_EXIT_CODE,
    LABEL_HOLD,
    LABEL_RUN_SECONDS,
    EmulatorError,
    Scenario,
)


class ScenarioBook:
    """Scenarios waiting for the jobs they apply to. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_job: dict[str, Scenario] = {}
        self._by_labels: list[tuple[dict[str, str], Scenario]] = []

    def add(
        self,
        scenario: Scenario,
        *,
        job_id: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Register a scenario for a job id that is yet to be created, or for jobs carrying labels.

        :param scenario: what should happen.
        :param job_id: apply to the job with this id (its first creation).
        :param labels: apply to every new job whose labels include all of these.
        """
        if (job_id is None) == (labels is None):
            raise ValueError("give exactly one of job_id or labels")
        with self._lock:
            if job_id is not None:
                self._by_job[job_id] = scenario
            else:
                self._by_labels.append((dict(labels or {}), scenario))

    def clear(self) -> None:
        """Forget every registered scenario (jobs already created keep theirs)."""
        with self._lock:
            self._by_job.clear()
            self._by_labels.clear()

    def remember(self, job_id: str, scenario: Scenario) -> None:
        """Apply a scenario to the job with this id when it is created.

        :param job_id: the future job's id.
        :param scenario: what should happen.
        """
        with self._lock:
            self._by_job[job_id] = scenario

    def for_job(self, job_id: str, labels: Mapping[str, str]) -> Scenario:
        """The scenario of a job being created: by id (used once), by labels, or by ``emulator-*`` labels.

        :param job_id: the new job's id.
        :param labels: the new job's labels.
        """
        with self._lock:
            return self._lookup(job_id, labels)

    def _lookup(self, job_id: str, labels: Mapping[str, str]) -> Scenario:
        if job_id in self._by_job:
            return self._by_job.pop(job_id)
        for wanted, scenario in self._by_labels:
            if all(labels.get(k) == v for k, v in wanted.items()):
                return scenario
        scenario = Scenario()
        try:
            if LABEL_EXIT_CODE in labels:
                scenario = replace(scenario, exit_code=int(labels[LABEL_EXIT_CODE]), task_index=None)
            if LABEL_RUN_SECONDS in labels:
                scenario = replace(
                    scenario,
                    run_seconds=float(labels[LABEL_RUN_SECONDS].replace("_", ".")),
                )
        except ValueError:
            raise EmulatorError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"labels {LABEL_EXIT_CODE} must be an integer and {LABEL_RUN_SECONDS} a number (use _ for .)",
            ) from None
        if labels.get(LABEL_HOLD) == "true":
            scenario = replace(scenario, hold_in_queue=True)
        return scenario
