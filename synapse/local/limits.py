"""Bounds the local backend puts on what it accepts: request body sizes, and one server
per data folder.

A JSON body over ``max_json_body`` bytes, or any body over ``max_upload_body`` (multipart,
chunk PUTs), is answered 413 before the application reads it: by its ``Content-Length``
when it has one, else by counting while it arrives. Two servers on one ``--data-dir``
would serve stale listings from each other's caches, so the folder is locked.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import IO, Any

__all__ = ["DEFAULT_MAX_JSON_BODY", "DEFAULT_MAX_UPLOAD_BODY", "BodyLimit", "DataDirLock"]

DEFAULT_MAX_JSON_BODY = 16 * 1024 * 1024
DEFAULT_MAX_UPLOAD_BODY = 128 * 1024 * 1024  # above the 50 MiB default chunk


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI layer answering 413 (DRF-shaped) for a body over its limit."""

    def __init__(self, app: Any, max_json_body: int, max_upload_body: int) -> None:
        self.app = app
        self.max_json_body = max_json_body
        self.max_upload_body = max_upload_body

    def _limit(self, headers: dict[bytes, bytes]) -> int:
        multipart = headers.get(b"content-type", b"").startswith(b"multipart/")
        return self.max_upload_body if multipart else self.max_json_body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope["headers"]}
        limit = self._limit(headers)
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                return await _answer(send, 400, "Invalid Content-Length header.")
            if int(length) > limit:
                return await _answer(send, 413, f"Request body over {limit} bytes.")
            await self.app(scope, receive, send)
            return
        received = 0
        over = False
        started = False

        async def counted() -> Any:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _TooLarge
            return message

        async def guarded(message: Any) -> None:
            nonlocal started
            if over:
                return  # the application's answer to the broken read is not sent
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counted, guarded)
        if over and not started:
            await _answer(send, 413, f"Request body over {limit} bytes.")


async def _answer(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class DataDirLock:
    """An exclusive lock on a data folder, held while a server uses it."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "synapse-local.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, as before
            return
        handle = open(self.path, "a+")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            handle.close()
            raise RuntimeError(
                f"{self.path.parent} is in use by another local backend ({owner}); "
                "stop it, or give this one another --data-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the lock
            self._file = None
