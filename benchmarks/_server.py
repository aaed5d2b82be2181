"""Start ``synapse-local serve`` in a subprocess for benchmarks (so it does not share the
measuring process's interpreter, GIL or memory)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import requests

TOKEN = "benchmark-token"  # noqa: S105 - a local test server

#: The environment of a fresh interpreter that runs from cached bytecode, as from an
#: installed wheel: where the environment says not to write bytecode
#: (``PYTHONDONTWRITEBYTECODE``), a temporary ``PYTHONPYCACHEPREFIX`` is filled by the
#: first run instead.
FRESH_ENV = dict(os.environ)
if FRESH_ENV.pop("PYTHONDONTWRITEBYTECODE", None):
    FRESH_ENV["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="synapse-pyc-")


@dataclass
class Server:
    url: str
    token: str
    big_project: int | None


def pin(pid: int, cpu: int) -> None:
    """Keep a process on one CPU where the OS allows it (Linux), when there are two."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(pid, {cpu})


@contextmanager
def local_server(*args: str, pinned: bool = True) -> Iterator[Server]:
    """``synapse-local serve`` with ``args``; ``pinned`` puts it and this process on one
    core each (steadier figures on 2 cores), else the OS places every process."""
    cmd = [sys.executable, "-m", "synapse.local.cli", "serve", "--token", TOKEN, *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    if pinned:
        pin(proc.pid, 0)
        pin(0, 1)  # the measuring process on the other core
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        url = lines[1].strip().split("=", 1)[1]
        big = None
        if "--tasks" in args:
            big = int(proc.stdout.readline().rsplit(":", 1)[1])
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{url}/_local/counter", timeout=2)
                break
            except requests.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield Server(url, TOKEN, big)
    finally:
        proc.terminate()
        proc.wait(10)
