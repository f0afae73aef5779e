"""One triggerer-like process: watch many Batch jobs at once in one asyncio event loop.

Started by :mod:`benchmarks.fanout`. It imports everything, prints ``READY``, reads the path of a
JSON list of job names from stdin, watches them all (our shared poller, or the Google provider's
``CloudBatchJobFinishedTrigger.run()`` per job, as a triggerer runs it, or our trigger waiting on
job-state notifications: push), and prints one JSON line:
when each job's final event came, CPU seconds spent watching, seconds spent waiting for a CPU
(another process's turn), peak and baseline RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from benchmarks.common import runqueue_wait

PROJECT, REGION = "demo-project", "us-central1"
#: The topic the push run's jobs publish to, and the subscription its triggers pull.
TOPIC = f"projects/{PROJECT}/topics/batchstream-bench"
SUBSCRIPTION = f"projects/{PROJECT}/subscriptions/batchstream-bench"


def _async_client(address: str, api_version: str) -> Any:
    import grpc

    from airflow_batchstream.api_version import batch_module

    module = batch_module(api_version)
    transport = module.services.batch_service.transports.BatchServiceGrpcAsyncIOTransport
    return module.BatchServiceAsyncClient(transport=transport(channel=grpc.aio.insecure_channel(address)))


def _trigger_watch(
    make_trigger: Callable[[str], Any], registry: Any, stats: dict[str, Any]
) -> Callable[[str], Coroutine[Any, Any, str]]:
    """Return a coroutine function that waits for one job through a trigger and keeps its loop's stats.

    :param make_trigger: builds the trigger of a job name.
    :param registry: the per-loop registry of the shared loop the triggers join (its ``get()``).
    :param stats: where the shared loop's counters are put once a wait ends.
    """

    async def watch(name: str) -> str:
        async for event in make_trigger(name).run():
            loops = registry.get()
            stats["poller"] = next(iter(loops.values())).stats if loops else None
            return str(event.payload["state"])
        return "no event"

    return watch


def _ours(address: str, interval: float, stats: dict[str, Any]) -> Callable[[str], Coroutine[Any, Any, str]]:
    # Import up front what the trigger imports on first use, as the other side's module import does.
    import google.api_core.exceptions  # noqa: F401
    import grpc  # noqa: F401

    import airflow_batchstream.hooks.batch
    import airflow_batchstream.retry  # noqa: F401
    from airflow_batchstream.api_version import batch_module
    from airflow_batchstream.triggers.batch import BatchStreamJobTrigger
    from airflow_batchstream.triggers.poller import SharedJobPoller

    batch_module("v1alpha")
    # The trigger finds the emulator through BATCH_EMULATOR_HOST, which the harness sets.
    return _trigger_watch(
        lambda name: BatchStreamJobTrigger(job_name=name, poll_interval=interval),
        SharedJobPoller._registry,
        stats,
    )


def _push(address: str, interval: float, stats: dict[str, Any]) -> Callable[[str], Coroutine[Any, Any, str]]:
    # Import up front what the trigger imports on first use.
    import google.api_core.exceptions
    import google.pubsub_v1  # noqa: F401
    import grpc  # noqa: F401

    import airflow_batchstream.hooks.batch
    import airflow_batchstream.retry  # noqa: F401
    from airflow_batchstream.api_version import batch_module
    from airflow_batchstream.triggers.batch import BatchStreamJobTrigger
    from airflow_batchstream.triggers.push import SubscriptionPuller

    batch_module("v1alpha")
    # Woken by notifications on SUBSCRIPTION (PUBSUB_EMULATOR_HOST is set by the harness); the
    # safety-net poll stands for the real 300 s at a real 10 s interval.
    return _trigger_watch(
        lambda name: BatchStreamJobTrigger(
            job_name=name,
            poll_interval=interval,
            notification_subscription=SUBSCRIPTION,
            safety_poll_interval=interval * 30,
        ),
        SubscriptionPuller._registry,
        stats,
    )


def _theirs(
    address: str, interval: float, stats: dict[str, Any]
) -> Callable[[str], Coroutine[Any, Any, str]]:
    from airflow.providers.google.cloud.hooks.cloud_batch import CloudBatchAsyncHook
    from airflow.providers.google.cloud.triggers.cloud_batch import CloudBatchJobFinishedTrigger

    def get_conn(self: Any) -> Any:
        # The harness's only change: their hook's client talks plaintext gRPC to the emulator.
        # Like their get_conn, each hook (one per trigger) builds its own client.
        if self._client is None:
            self._client = _async_client(address, "v1")
        return self._client

    CloudBatchAsyncHook.get_conn = get_conn  # type: ignore[method-assign]

    async def watch(name: str) -> str:
        trigger = CloudBatchJobFinishedTrigger(
            job_name=name, project_id=PROJECT, location=REGION, polling_period_seconds=interval
        )
        async for event in trigger.run():
            # Their payload says "success", or "error" for a FAILED job and for any exception.
            payload = event.payload
            if payload["status"] == "success":
                return "SUCCEEDED"
            if payload["status"] == "error" and "job_name" in payload:
                return "FAILED"
            return f"{payload['status']}: {payload.get('message')}"
        return "no event"

    return watch


async def _watch_all(
    watch: Callable[[str], Coroutine[Any, Any, str]], names: list[str], deadline: float
) -> dict:
    events: dict[str, tuple[float, str]] = {}

    async def one(name: str) -> None:
        try:
            outcome = await watch(name)
        except Exception as exc:
            outcome = f"error: {type(exc).__name__}"
        events[name] = (time.time(), outcome)

    tasks = [asyncio.ensure_future(one(name)) for name in names]
    _, pending = await asyncio.wait(tasks, timeout=deadline)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return events


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _peak_rss() -> int:
    # VmHWM, not ru_maxrss: the latter can carry the parent's peak across fork and exec.
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def main() -> None:
    """Parse the arguments, get ready, watch, report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--impl", choices=("ours", "push", "theirs"), required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--interval", type=float, required=True)
    parser.add_argument("--deadline", type=float, required=True)
    args = parser.parse_args()
    # Logs (theirs logs two lines per poll) are formatted and written, as in a triggerer, but to
    # /dev/null; the harness reads READY and RESULT from a copy of the original stdout.
    out = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    stats: dict[str, Any] = {}
    make = {"ours": _ours, "push": _push, "theirs": _theirs}[args.impl]
    watch = make(args.address, args.interval, stats)
    ready_rss = _rss()
    print("READY", file=out, flush=True)
    with open(sys.stdin.readline().strip()) as f:
        names = json.load(f)
    cpu, waited = _cpu(), runqueue_wait()
    events = asyncio.run(_watch_all(watch, names, args.deadline))
    poller = stats.get("poller")
    result = {
        "events": events,
        "cpu": _cpu() - cpu,
        "runqueue_wait": runqueue_wait() - waited,
        "peak_rss": _peak_rss(),
        "ready_rss": ready_rss,
        "poller": None if poller is None else vars(poller),
    }
    print("RESULT", json.dumps(result), file=out, flush=True)


if __name__ == "__main__":
    main()
