"""``synapse-local``: serve the local backend, or run a command against it.

synapse-local serve --seed demo --port 8000
synapse-local run --seed demo -- python examples/quickstart.py
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from synapse.local.limits import DEFAULT_MAX_JSON_BODY, DEFAULT_MAX_UPLOAD_BODY
from synapse.local.server import LocalBackend

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
    common.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    common.add_argument("--data-dir", help="keep the database and files here (else memory)")
    common.add_argument("--token", help="access token to accept (random if not given)")
    common.add_argument(
        "--seed",
        choices=["demo", "training"],
        help="seed a small realistic world (training: and a project of annotated images)",
    )
    common.add_argument("--tasks", type=int, default=0, help="seed a project with N tasks")
    common.add_argument(
        "--compact",
        action="store_true",
        help="make those tasks bare (default: production-shaped pages)",
    )
    common.add_argument("--job-seconds", type=float, default=0.5, help="time per job step")
    common.add_argument(
        "--max-json-body",
        type=int,
        default=DEFAULT_MAX_JSON_BODY,
        help="largest JSON body accepted, in bytes (413 above)",
    )
    common.add_argument(
        "--max-upload-body",
        type=int,
        default=DEFAULT_MAX_UPLOAD_BODY,
        help="largest multipart body (uploads, chunks), in bytes",
    )
    faults = common.add_argument_group("faults")
    faults.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    faults.add_argument("--error-rate", type=float, default=0.0, help="fraction answered 503")
    faults.add_argument("--rate-limit-every", type=int, default=0, help="every Nth gets 429")
    faults.add_argument("--retry-after", type=float, default=1.0, help="Retry-After of a 429")
    faults.add_argument("--drop-chunk", type=int, default=0, help="drop the K-th chunk PUT")
    faults.add_argument("--drop-when", choices=["before", "after"], default="after")

    parser = argparse.ArgumentParser(prog="synapse-local", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", parents=[common], help="serve until interrupted")
    run = sub.add_parser("run", parents=[common], help="serve while a command runs")
    run.add_argument("cmd", nargs=argparse.REMAINDER, help="the command, after --")
    return parser


def _backend(args: argparse.Namespace) -> LocalBackend:
    faults: dict[str, Any] = {
        "latency": args.latency,
        "error_rate": args.error_rate,
        "rate_limit_every": args.rate_limit_every,
        "retry_after": args.retry_after,
        "drop_chunk": args.drop_chunk,
        "drop_when": args.drop_when,
    }
    return LocalBackend(
        host=args.host,
        port=args.port,
        token=args.token,
        data_dir=args.data_dir,
        seed=args.seed,
        tasks=args.tasks,
        compact=args.compact,
        job_seconds=args.job_seconds,
        faults=faults,
        max_json_body=args.max_json_body,
        max_upload_body=args.max_upload_body,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``synapse-local`` command."""
    args = _parser().parse_args(argv)
    taken = _port_taken(args.host, args.port)
    if taken:
        print(f"synapse-local: cannot listen on {args.host}:{args.port}: {taken}", file=sys.stderr)
        return 2
    try:
        backend = _backend(args)
    except RuntimeError as exc:  # the data folder is in use
        print(f"synapse-local: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        backend.start()  # announced once it answers: a script may read the lines and go
        print(f"Synapse local backend on {backend.url}", flush=True)
        print(f"  export SYNAPSE_BASE_URL={backend.url}", flush=True)
        print(f"  export SYNAPSE_ACCESS_TOKEN={backend.token}", flush=True)
        if getattr(backend, "big_project", None):
            print(f"  big project id: {backend.big_project}", flush=True)
        backend.serve_forever()
        return 0
    cmd = [c for c in args.cmd if c != "--"] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        print("synapse-local run: give a command after --", file=sys.stderr)
        return 2
    with backend:
        env = {**os.environ, "SYNAPSE_BASE_URL": backend.url, "SYNAPSE_ACCESS_TOKEN": backend.token}
        print(f"Synapse local backend on {backend.url}; running: {' '.join(cmd)}", flush=True)
        try:
            return subprocess.call(cmd, env=env)  # noqa: S603 - the user's own command
        except OSError as exc:  # not found, not executable
            print(f"synapse-local run: cannot run {cmd[0]!r}: {exc.strerror}", file=sys.stderr)
            return 127


def _port_taken(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on, checked before anything is printed."""
    if port == 0:
        return None
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


if __name__ == "__main__":
    sys.exit(main())
