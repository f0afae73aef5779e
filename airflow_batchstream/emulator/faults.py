"""Injected transient errors and latency, decided per received RPC.

Two kinds of faults, both bounded:

* **Random faults**: each RPC of a selected method fails with probability ``rate``, with a
  code drawn from ``codes``; a seeded :class:`random.Random` makes a run reproducible.
* **Scripted faults**: "the next N calls of method M fail with code C" (:meth:`FaultInjector.fail_next`),
  for tests that need one exact failure.

A fault either happens *before* the request is applied ("request lost": nothing changed on the
server) or *after* it ("response lost": the job was created or cancelled, the client still sees
an error). Real networks produce both; a client's idempotency (request ids, deterministic job
ids) is only tested by the second.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import grpc

#: The transient codes a client is expected to retry.
TRANSIENT_CODES = ("UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "INTERNAL")
#: Methods whose effect can be committed before the response is lost.
MUTATIONS = frozenset({"CreateJob", "CancelJob", "DeleteJob"})
#: Latency above this is refused: a test must never hang for minutes on a typo.
MAX_LATENCY_MS = 30_000


@dataclass(frozen=True)
class Fault:
    """One injected error.

    :param code: the gRPC status code to return.
    :param after_commit: apply the request first, then return the error (the response is lost).
    """

    code: grpc.StatusCode
    after_commit: bool = False

    @property
    def message(self) -> str:
        """The error detail the client sees."""
        when = "after the request was applied" if self.after_commit else "before the request was applied"
        return f"injected by the emulator: {self.code.name} ({when})"


def _status_code(name: str) -> grpc.StatusCode:
    try:
        code = grpc.StatusCode[name.upper()]
    except KeyError:
        raise ValueError(f"unknown gRPC status code {name!r}") from None
    if code == grpc.StatusCode.OK:
        raise ValueError("OK is not a fault")
    return code


@dataclass
class _Scripted:
    method: str
    code: grpc.StatusCode
    remaining: int
    after_commit: bool


class FaultInjector:
    """Decides, per RPC, whether to fail it and how long to delay it. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rate = 0.0
        self._codes: tuple[grpc.StatusCode, ...] = ()
        self._methods: frozenset[str] | None = None
        self._after_commit = 0.0
        self._latency_s = 0.0
        self._random = random.Random()
        self._scripted: list[_Scripted] = []
        self._injected: Counter[str] = Counter()

    def set_faults(
        self,
        rate: float,
        codes: Iterable[str] = TRANSIENT_CODES,
        methods: Iterable[str] | None = None,
        seed: int | None = None,
        fault_after_commit: float = 0.0,
    ) -> None:
        """Fail a fraction of RPCs with transient codes.

        :param rate: probability in [0, 1] that a selected RPC fails.
        :param codes: status code names to draw from uniformly (default: the transient four).
        :param methods: bare method names (``"GetJob"``, ``"CreateJob"``, ``"ListLogEntries"``...);
            ``None`` selects every method.
        :param seed: seed of the random generator, for reproducible runs.
        :param fault_after_commit: fraction in [0, 1] of the faults on CreateJob, CancelJob and
            DeleteJob that happen after the change is stored (the response is lost).
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], not {rate}")
        if not 0.0 <= fault_after_commit <= 1.0:
            raise ValueError(f"fault_after_commit must be within [0, 1], not {fault_after_commit}")
        parsed = tuple(_status_code(c) for c in codes)
        if rate > 0 and not parsed:
            raise ValueError("give at least one status code")
        with self._lock:
            self._rate = rate
            self._codes = parsed
            self._methods = None if methods is None else frozenset(methods)
            self._after_commit = fault_after_commit
            self._random = random.Random(seed)

    def set_latency(self, latency_ms: float) -> None:
        """Delay every RPC by a fixed time.

        :param latency_ms: milliseconds, at most 30,000.
        """
        if not 0 <= latency_ms <= MAX_LATENCY_MS:
            raise ValueError(f"latency_ms must be within [0, {MAX_LATENCY_MS}], not {latency_ms}")
        with self._lock:
            self._latency_s = latency_ms / 1000.0

    def fail_next(
        self, method: str, code: str = "UNAVAILABLE", *, times: int = 1, after_commit: bool = False
    ) -> None:
        """Fail the next ``times`` calls of one method (scripted faults run before random ones).

        :param method: the bare method name, e.g. ``"CreateJob"``.
        :param code: the status code name.
        :param times: how many calls fail (1 to 1,000).
        :param after_commit: apply the request first, then fail (only CreateJob, CancelJob, DeleteJob).
        """
        if not 1 <= times <= 1000:
            raise ValueError(f"times must be within [1, 1000], not {times}")
        if after_commit and method not in MUTATIONS:
            raise ValueError(f"after_commit applies to {sorted(MUTATIONS)}, not {method!r}")
        with self._lock:
            self._scripted.append(_Scripted(method, _status_code(code), times, after_commit))

    def clear(self) -> None:
        """Remove every fault and the latency (the injected counts stay)."""
        with self._lock:
            self._rate = 0.0
            self._codes = ()
            self._methods = None
            self._after_commit = 0.0
            self._latency_s = 0.0
            self._scripted.clear()

    @property
    def latency_seconds(self) -> float:
        """The delay added to every RPC."""
        return self._latency_s

    def injected(self) -> dict[str, int]:
        """How many faults were injected per method since the last :meth:`reset_injected`."""
        with self._lock:
            return dict(self._injected)

    def reset_injected(self) -> None:
        """Forget the injected-fault counts."""
        with self._lock:
            self._injected.clear()

    def decide(self, method: str) -> Fault | None:
        """The fault for one received RPC, or ``None`` to serve it normally.

        :param method: the bare method name.
        """
        with self._lock:
            fault = self._scripted_fault(method) or self._random_fault(method)
            if fault is not None:
                self._injected[method] += 1
            return fault

    def _scripted_fault(self, method: str) -> Fault | None:
        for item in self._scripted:
            if item.method == method:
                item.remaining -= 1
                if item.remaining == 0:
                    self._scripted.remove(item)
                return Fault(item.code, item.after_commit)
        return None

    def _random_fault(self, method: str) -> Fault | None:
        if self._rate <= 0 or (self._methods is not None and method not in self._methods):
            return None
        if self._random.random() >= self._rate:
            return None
        code = self._random.choice(self._codes)
        after = method in MUTATIONS and self._random.random() < self._after_commit
        return Fault(code, after)
