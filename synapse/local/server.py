"""Running the local backend: in this process on a thread, or as a foreground server."""

from __future__ import annotations

import asyncio
import secrets
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from synapse.local.app import Backend, build_app, control_routes
from synapse.local.clock import Clock
from synapse.local.faults import FaultLayer, RequestRecord
from synapse.local.limits import (
    DEFAULT_MAX_JSON_BODY,
    DEFAULT_MAX_UPLOAD_BODY,
    BodyLimit,
    DataDirLock,
)
from synapse.local.seed import seed_demo, seed_tasks, seed_training
from synapse.local.store import Store

__all__ = ["LocalBackend", "create_app"]

DB_NAME = "synapse-local.sqlite3"


def create_app(
    *,
    data_dir: Path | None = None,
    token: str,
    job_seconds: float = 0.5,
    clock: Clock = time.time,
    files_dir: Path | None = None,
    max_json_body: int = DEFAULT_MAX_JSON_BODY,
    max_upload_body: int = DEFAULT_MAX_UPLOAD_BODY,
) -> tuple[FaultLayer, Backend]:
    """The ASGI app (fault layer outermost, then the body limit) and its backend state.

    With ``data_dir`` the database and uploaded files persist there (the folder is locked
    against a second server); without it the database is in memory and files go to
    ``files_dir``.
    """
    lock: DataDirLock | None = None
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = DataDirLock(data_dir)
        lock.acquire()
        store = Store(data_dir / DB_NAME)
        files = data_dir / "files"
    else:
        if files_dir is None:
            raise ValueError("an in-memory backend needs files_dir for uploaded bytes")
        store = Store(None)
        files = files_dir
    backend = Backend(store, files, token, job_seconds, clock)
    backend.lock = lock
    layer = FaultLayer(None)

    def reset() -> None:
        store.reset()
        layer.clear()

    layer.app = BodyLimit(
        build_app(backend, control_routes(layer, backend, reset)), max_json_body, max_upload_body
    )
    backend.faults = layer
    return layer, backend


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def deadline_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol with a deadline for each request to arrive whole: from the
    connection's start (or the previous answer) to the end of the request's body. A
    client that never finishes its headers or its body is cut off at the deadline; the
    time the application then takes is not counted."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class DeadlineProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_message_complete(self) -> None:
            self._disarm()  # the request is whole
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request on this connection

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return DeadlineProtocol


class LocalBackend:
    """A local Synapse backend served over real HTTP from a thread of this process.

    Use it as a context manager:

    ```python
    with LocalBackend(seed="demo") as backend:
        client = Client(backend.url, backend.token)
    ```

    Args:
        host: address to bind; loopback unless told otherwise.
        port: port to bind; 0 picks a free one.
        token: the access token the server accepts; random when not given.
        data_dir: folder for the SQLite database and uploaded files (kept across runs);
            in memory when not given.
        seed: ``"demo"`` for a small realistic world, ``"training"`` for it and a
            project of annotated images (see ``seed_training``), or None.
        tasks: also seed a project with this many tasks (production-shaped pages).
        compact: make those tasks bare instead (no data unit, no annotations).
        job_seconds: how long each step of a plugin run's job takes.
        clock: what jobs advance on (``time.time``; a `ManualClock` in tests).
        faults: initial fault knobs (see `Faults`).
        max_json_body: largest JSON body accepted, in bytes (413 above).
        max_upload_body: largest multipart body (uploads, chunks) accepted, in bytes.
        request_timeout: seconds a request may take to arrive whole (headers and body)
            after the connection opens or the previous answer: a client that stalls
            is disconnected instead of holding a connection forever.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        data_dir: str | Path | None = None,
        seed: str | None = None,
        tasks: int = 0,
        compact: bool = False,
        job_seconds: float = 0.05,
        clock: Clock = time.time,
        faults: dict[str, Any] | None = None,
        max_json_body: int = DEFAULT_MAX_JSON_BODY,
        max_upload_body: int = DEFAULT_MAX_UPLOAD_BODY,
        request_timeout: float = 60.0,
    ) -> None:
        self.host = host
        self.request_timeout = request_timeout
        self.port = port or free_port(host)
        self.token = token or secrets.token_hex(20)
        self._tmp = None if data_dir else tempfile.TemporaryDirectory(prefix="synapse-local-")
        self.layer, self.backend = create_app(
            data_dir=Path(data_dir) if data_dir else None,
            token=self.token,
            job_seconds=job_seconds,
            clock=clock,
            files_dir=Path(self._tmp.name) if self._tmp else None,
            max_json_body=max_json_body,
            max_upload_body=max_upload_body,
        )
        if seed in ("demo", "training"):
            seed_demo(self.backend)
        if seed == "training":
            seed_training(self.backend)
        elif seed and seed != "demo":
            raise ValueError(f"unknown seed {seed!r}; known: 'demo', 'training'")
        if tasks:
            self.big_project = seed_tasks(self.backend, tasks, compact=compact)
        if faults:
            self.layer.configure(**faults)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to give a client."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _uvicorn(self) -> uvicorn.Server:
        config = uvicorn.Config(
            self.layer,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            timeout_keep_alive=75,
            lifespan="off",
            http=deadline_protocol(self.request_timeout),
        )
        return uvicorn.Server(config)

    def serve_forever(self) -> None:
        """Serve until interrupted (Ctrl-C), then clean up; starts the server if it
        is not serving yet (the CLI starts it first, to announce it once it answers)."""
        if self._thread is None:
            self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)  # a timed join lets Ctrl-C through
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def start(self) -> LocalBackend:
        """Start serving on a background thread; returns once the port accepts requests."""
        self._server = self._uvicorn()
        self._thread = threading.Thread(target=self._server.run, name="synapse-local", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the local backend could not start on {self.url}")
            self._thread.join(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and release the database and temporary files."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._server = None
        self.backend.store.close()
        if self.backend.lock is not None:
            self.backend.lock.release()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> LocalBackend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- for tests

    def reset(self) -> None:
        """Empty the database, the request log and every fault."""
        self.backend.store.reset()
        self.layer.clear()

    def set_faults(self, **knobs: Any) -> None:
        """Change fault knobs, e.g. ``set_faults(drop_chunk=2, drop_when="before")``."""
        self.layer.configure(**knobs)

    def fail_next(self, path: str, status: int) -> None:
        """The next request to ``path`` (e.g. ``/projects/``) answers ``status``."""
        once = dict(self.layer.faults.once)
        once[path] = status
        self.layer.configure(once=once)

    @property
    def requests(self) -> list[RequestRecord]:
        """The request log: method, path, query, status (None when dropped)."""
        return list(self.layer.log)

    def clear_requests(self) -> None:
        self.layer.log.clear()

    def __repr__(self) -> str:
        return f"<LocalBackend {self.url}>"
