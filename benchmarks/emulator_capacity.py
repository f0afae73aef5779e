"""Emulator capacity: many live jobs, and GetJob calls per second from other processes.

Starts an in-process emulator, creates ``--jobs`` long-running jobs over gRPC, then runs
``--clients`` separate client processes that call GetJob on random live jobs for ``--seconds``
and prints a table: calls per second, latency percentiles, server threads. It prints numbers;
it asserts nothing.

    uv run python benchmarks/emulator_capacity.py            # 5,000 jobs, 2 clients, 10 s
    uv run python benchmarks/emulator_capacity.py --jobs 1000 --seconds 5 --clients 1 --raw
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import threading
import time
from typing import Any

PARENT = "projects/bench/locations/us-central1"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=5000, help="live jobs to create (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=2, help="client processes (default: %(default)s)")
    parser.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="measuring time per client, at most 120 (default: %(default)s)",
    )
    parser.add_argument(
        "--raw",
        action="store_true",
        help="send pre-serialized GetJob requests on a bare channel instead of the google-cloud-batch client",
    )
    parser.add_argument(
        "--workers", type=int, default=16, help="server worker threads (default: %(default)s)"
    )
    return parser


def _job() -> Any:
    from google.cloud import batch_v1alpha

    container = batch_v1alpha.Runnable.Container(
        image_uri="us-central1-docker.pkg.dev/bench/r/app:1", commands=["serve"], enable_image_streaming=True
    )
    group = batch_v1alpha.TaskGroup(
        task_count=4,
        task_spec=batch_v1alpha.TaskSpec(runnables=[batch_v1alpha.Runnable(container=container)]),
    )
    return batch_v1alpha.Job(task_groups=[group], labels={"bench": "capacity"})


def _client_process(address: str, names: list[str], seconds: float, raw: bool, out: Any) -> None:
    """Call GetJob on random names until the time is up; send (calls, errors, latencies) back."""
    import grpc

    rng = random.Random()
    channel = grpc.insecure_channel(address)
    if raw:
        from google.cloud import batch_v1alpha

        get = channel.unary_unary("/google.cloud.batch.v1alpha.BatchService/GetJob")
        requests = [batch_v1alpha.GetJobRequest.serialize(batch_v1alpha.GetJobRequest(name=n)) for n in names]

        def call() -> None:
            get(rng.choice(requests), timeout=10)

    else:
        from google.cloud import batch_v1alpha
        from google.cloud.batch_v1alpha.services.batch_service.transports import BatchServiceGrpcTransport

        client = batch_v1alpha.BatchServiceClient(transport=BatchServiceGrpcTransport(channel=channel))

        def call() -> None:
            client.get_job(name=rng.choice(names), timeout=10)

    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    while True:
        start = time.monotonic()
        if start >= deadline:
            break
        try:
            call()
        except grpc.RpcError:
            errors += 1
        latencies.append(time.monotonic() - start)
    channel.close()
    out.send((len(latencies), errors, latencies))
    out.close()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table.

    :param argv: command-line arguments (default: ``sys.argv[1:]``).
    """
    args = _parser().parse_args(argv)
    seconds = min(max(args.seconds, 1.0), 120.0)
    from airflow_batchstream.emulator import BatchEmulator

    with BatchEmulator(run_seconds=86_400, max_workers=args.workers) as emulator:
        client = emulator.client()
        job = _job()
        started = time.monotonic()
        names = [
            client.create_job(parent=PARENT, job_id=f"bench-{i}", job=job).name for i in range(args.jobs)
        ]
        create_rate = args.jobs / (time.monotonic() - started)
        time.sleep(1.5)  # every job leaves QUEUED and SCHEDULED: they are RUNNING while measured
        running = sum(
            1 for _ in client.list_jobs(request={"parent": PARENT, "filter": "status.state=RUNNING"})
        )
        emulator.reset_counts()

        context = multiprocessing.get_context("spawn")
        pipes, processes = [], []
        for _ in range(max(1, args.clients)):
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=_client_process, args=(emulator.address, names, seconds, args.raw, sender)
            )
            process.start()
            sender.close()
            pipes.append(receiver)
            processes.append(process)
        results = [pipe.recv() for pipe in pipes]
        for process in processes:
            process.join(timeout=30)
        served = emulator.rpc_counts().get("GetJob", 0)
        threads = threading.active_count()

    calls = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    latencies = [x for r in results for x in r[2]]
    rows = [
        ("live jobs (RUNNING while measured)", f"{running:,}"),
        ("CreateJob rate while filling (calls/s)", f"{create_rate:,.0f}"),
        (
            "client processes",
            f"{len(processes)} ({'raw channel' if args.raw else 'google-cloud-batch client'})",
        ),
        ("measuring time (s)", f"{seconds:g}"),
        ("GetJob calls completed", f"{calls:,} ({errors} errors; server counted {served:,})"),
        ("GetJob calls per second", f"{calls / seconds:,.0f}"),
        (
            "latency p50 / p99 (ms)",
            f"{_percentile(latencies, 0.5) * 1e3:.2f} / {_percentile(latencies, 0.99) * 1e3:.2f}",
        ),
        ("latency mean (ms)", f"{statistics.fmean(latencies) * 1e3:.2f}" if latencies else "-"),
        ("threads in the emulator process", f"{threads}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
