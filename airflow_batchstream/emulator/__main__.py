"""Command line: ``batchstream-emulator`` / ``python -m airflow_batchstream.emulator``.

The first line printed is ``BATCH_EMULATOR_HOST=HOST:PORT`` so a shell can ``eval`` it; with an
access token (``--allow-remote``, ``--access-token``) the second is ``BATCH_EMULATOR_TOKEN=TOKEN``.
``--print-env`` prints every variable Airflow needs instead, one a line; ``--env-file FILE`` writes
the same to FILE once the emulator serves and removes it when it stops. The emulator then serves
until SIGINT or SIGTERM and exits 0. ``batchstream-emulator --ready FILE`` waits until FILE names an
emulator that answers, and exits 0 (1 after ``--timeout`` seconds).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from airflow_batchstream.emulator.envfile import emulator_environment, env_lines, wait_ready, write_env_file
from airflow_batchstream.emulator.faults import TRANSIENT_CODES
from airflow_batchstream.emulator.images import (
    DEFAULT_BANDWIDTH,
    DEFAULT_IMAGE_SIZE,
    DEFAULT_STREAMING_SECONDS,
)
from airflow_batchstream.emulator.model import Timings
from airflow_batchstream.emulator.runtime import RUNTIMES


def _parser() -> argparse.ArgumentParser:
    defaults = Timings()
    parser = argparse.ArgumentParser(
        prog="batchstream-emulator",
        description="Serve a local Google Cloud Batch API (v1alpha and v1) over plain gRPC.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default: %(default)s); only loopback unless --allow-remote",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="accept a non-loopback --host: anyone who reaches it with the access token can run "
        "commands here as this user; a token is made and printed unless --access-token or "
        "BATCH_EMULATOR_TOKEN gives one",
    )
    parser.add_argument(
        "--access-token",
        default=None,
        help="token every client must send (BATCH_EMULATOR_TOKEN on the provider side); default: none on "
        "loopback, a new one with --allow-remote",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="port to bind; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--queued-seconds",
        type=float,
        default=defaults.queued_seconds,
        help="time a job stays QUEUED",
    )
    parser.add_argument(
        "--scheduled-seconds",
        type=float,
        default=defaults.scheduled_seconds,
        help="time a job stays SCHEDULED",
    )
    parser.add_argument(
        "--run-seconds",
        type=float,
        default=defaults.run_seconds,
        help="run time of a simulated container runnable",
    )
    parser.add_argument(
        "--cancel-seconds",
        type=float,
        default=defaults.cancel_seconds,
        help="time a job stays CANCELLATION_IN_PROGRESS",
    )
    parser.add_argument(
        "--delete-seconds",
        type=float,
        default=defaults.delete_seconds,
        help="time a job stays DELETION_IN_PROGRESS",
    )
    parser.add_argument(
        "--container-runtime",
        choices=RUNTIMES,
        default="simulate",
        help="how container runnables run: simulate (default), local (entrypoint + commands on the "
        "host), docker or podman (refused unless the engine is usable)",
    )
    parser.add_argument(
        "--default-image-size",
        type=int,
        default=DEFAULT_IMAGE_SIZE,
        help="bytes assumed for an image of unknown size (default: %(default)s)",
    )
    parser.add_argument(
        "--image-bandwidth",
        type=float,
        default=DEFAULT_BANDWIDTH,
        help="bytes per second of a non-streamed image pull (default: %(default)s)",
    )
    parser.add_argument(
        "--streaming-seconds",
        type=float,
        default=DEFAULT_STREAMING_SECONDS,
        help="start-up delay of a streamed image (default: %(default)s)",
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="probability in [0, 1] that an RPC fails with a transient code (default: %(default)s)",
    )
    parser.add_argument(
        "--fault-methods",
        default="",
        help="comma-separated bare method names the faults affect, e.g. GetJob,CreateJob (default: all)",
    )
    parser.add_argument(
        "--fault-codes",
        default=",".join(TRANSIENT_CODES),
        help="comma-separated status codes to inject (default: %(default)s)",
    )
    parser.add_argument(
        "--fault-after-commit",
        type=float,
        default=0.0,
        help="fraction of CreateJob/CancelJob/DeleteJob faults that happen after the change is stored",
    )
    parser.add_argument("--fault-seed", type=int, default=None, help="random seed for the faults")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="delay added to every RPC, in milliseconds"
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        help="once serving, write BATCH_EMULATOR_HOST, BATCHSTREAM_MAX_POLL_INTERVAL and an anonymous "
        "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT to this file (for `set -a; . FILE; set +a`); removed on exit",
    )
    parser.add_argument(
        "--print-env", action="store_true", help="print those variables on stdout, one a line, once serving"
    )
    parser.add_argument(
        "--ready",
        type=Path,
        metavar="ENV_FILE",
        help="serve nothing: wait until ENV_FILE names an emulator that answers, then exit 0",
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds --ready waits at most (default: %(default)s)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until SIGINT or SIGTERM.

    :param argv: command-line arguments without the program name (default: ``sys.argv[1:]``).
    :return: the process exit code (0 after a signal).
    """
    args = _parser().parse_args(argv)
    if args.ready is not None:
        try:
            print(f"BATCH_EMULATOR_HOST={wait_ready(args.ready, args.timeout)}", flush=True)
        except TimeoutError as exc:
            print(f"batchstream-emulator: {exc}", file=sys.stderr)
            return 1
        return 0
    from airflow_batchstream.emulator.access import new_token
    from airflow_batchstream.emulator.server import BatchEmulator
    from airflow_batchstream.emulator_client import EMULATOR_TOKEN_ENV

    token = args.access_token or (
        (os.environ.get(EMULATOR_TOKEN_ENV) or new_token()) if args.allow_remote else None
    )
    try:
        emulator = BatchEmulator(
            args.host,
            args.port,
            allow_remote=args.allow_remote,
            access_token=token,
            queued_seconds=args.queued_seconds,
            scheduled_seconds=args.scheduled_seconds,
            run_seconds=args.run_seconds,
            cancel_seconds=args.cancel_seconds,
            delete_seconds=args.delete_seconds,
            container_runtime=args.container_runtime,
            default_image_size=args.default_image_size,
            image_bandwidth=args.image_bandwidth,
            streaming_seconds=args.streaming_seconds,
        )
        emulator.set_faults(
            args.fault_rate,
            codes=[c for c in args.fault_codes.split(",") if c],
            methods=[m for m in args.fault_methods.split(",") if m] or None,
            seed=args.fault_seed,
            fault_after_commit=args.fault_after_commit,
        )
        emulator.set_latency(args.latency_ms)
    except ValueError as exc:
        print(f"batchstream-emulator: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        emulator.start()
        environment = emulator_environment(emulator.address, emulator.timings.poll_interval(), token)
        if args.print_env:
            print(env_lines(environment), end="", flush=True)
        else:
            print(f"BATCH_EMULATOR_HOST={emulator.address}", flush=True)
            if token:
                print(f"{EMULATOR_TOKEN_ENV}={token}", flush=True)
        if args.env_file is not None:
            write_env_file(args.env_file, environment)
        print(
            f"registry v2 and Service Usage over HTTP: {emulator.registry.url}", file=sys.stderr, flush=True
        )
        print(f"Batch and Cloud Logging REST API: {emulator.rest.url}", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        if args.env_file is not None:
            args.env_file.unlink(missing_ok=True)
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
