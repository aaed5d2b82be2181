"""Fault injection and the request log, as the outermost layer of the local backend.

Knobs (all off by default): ``latency`` seconds per request; ``error_rate``, the fraction
of requests answered 503; ``rate_limit_every``, every Nth request answered 429 with
``Retry-After``; ``drop_chunk``/``drop_when``, drop the connection without an answer on the
K-th chunk PUT from now, ``before`` or ``after`` the chunk is stored; ``once``, a one-shot
"next request to PATH answers STATUS" (``PATH?name=value`` only when its query holds
that: one page of a listing); ``drop_download_after``, the next media download
sends that many bytes and then drops the connection. Paths under ``/_local/`` are never
faulted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["DROP", "FaultLayer", "Faults", "RequestRecord"]

Scope = dict[str, Any]
Message = dict[str, Any]
DROP = "synapse.local.drop"  # scope key a handler sets to drop the connection unanswered
CREDENTIAL_HEADERS = (
    "synapse-access-token",
    "authorization",
    "synapse-tenant",
    "synapse-agent",
)


@dataclass
class Faults:
    """The fault knobs; change them through `configure()`."""

    latency: float = 0.0
    error_rate: float = 0.0
    rate_limit_every: int = 0
    retry_after: float = 1.0
    drop_chunk: int = 0
    drop_when: str = "after"
    once: dict[str, int] = field(default_factory=dict)
    drop_download_after: int = 0
    seed: int | None = None


@dataclass
class RequestRecord:
    """One line of the request log."""

    method: str
    path: str
    query: str
    status: int | None
    content_range: str | None = None
    tenant: str | None = None
    range: str | None = None
    credentials: list[str] = field(default_factory=list)
    latency: float = 0.0  # the delay injected before answering

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _DroppedFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "should return None" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_DroppedFilter())


class FaultLayer:
    """ASGI middleware: injects faults, drops connections on request, logs requests."""

    def __init__(self, app: Any, faults: Faults | None = None, log_size: int = 200_000) -> None:
        self.app = app
        self.faults = faults or Faults()
        self.log: deque[RequestRecord] = deque(maxlen=log_size)
        self.total = 0
        self.chunk_puts = 0
        self._lock = threading.Lock()
        self._random = random.Random(self.faults.seed)

    def configure(self, **knobs: Any) -> Faults:
        """Set fault knobs by name; unknown names raise ``TypeError``."""
        with self._lock:
            values = asdict(self.faults)
            unknown = set(knobs) - set(values)
            if unknown:
                raise TypeError(f"unknown fault knobs: {sorted(unknown)}")
            values.update(knobs)
            self.faults = Faults(**values)
            if "seed" in knobs:
                self._random = random.Random(self.faults.seed)
            if "drop_chunk" in knobs:
                self.chunk_puts = 0
        return self.faults

    def clear(self) -> None:
        """Turn every fault off and empty the request log."""
        with self._lock:
            self.faults = Faults()
            self.log.clear()
            self.total = 0
            self.chunk_puts = 0

    def take_download_drop(self) -> int:
        """Bytes to send before dropping this download (0: send it all); one-shot."""
        with self._lock:
            after = self.faults.drop_download_after
            self.faults.drop_download_after = 0
            return after

    def should_drop_chunk(self, stage: str) -> bool:
        """Called by the chunk handler once per PUT (stage 'before'), then 'after'."""
        with self._lock:
            if stage == "before":
                self.chunk_puts += 1
            f = self.faults
            if f.drop_chunk and self.chunk_puts == f.drop_chunk and f.drop_when == stage:
                self.faults.drop_chunk = 0
                return True
            return False

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        record = RequestRecord(
            method=scope["method"],
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            status=None,
            content_range=headers.get("content-range"),
            tenant=headers.get("synapse-tenant"),
            range=headers.get("range"),
            credentials=[h for h in CREDENTIAL_HEADERS if h in headers],
        )
        if path.startswith("/_local/"):
            return await self.app(scope, receive, send)
        with self._lock:
            self.log.append(record)
            self.total += 1
            count = self.total
            f = self.faults
            injected: tuple[int, dict[str, str]] | None = None
            once = f.once.pop(path, None)
            if once is None and f.once:
                once = _pop_query_match(f.once, path, record.query)
            if once is not None:
                injected = (once, {})
            elif f.rate_limit_every and count % f.rate_limit_every == 0:
                injected = (429, {"retry-after": f"{f.retry_after:g}"})
            elif f.error_rate and self._random.random() < f.error_rate:
                injected = (503, {})
        if f.latency:
            record.latency = f.latency
            await asyncio.sleep(f.latency)
        if injected is not None:
            record.status = injected[0]
            await _answer(send, injected[0], {"detail": "injected fault"}, injected[1])
            return None

        async def logged_send(message: Message) -> None:
            if scope.get(DROP):
                return
            if message["type"] == "http.response.start":
                record.status = message["status"]
            await send(message)

        await self.app(scope, receive, logged_send)
        if scope.get(DROP):
            record.status = None
            # uvicorn closes the connection, unanswered, when an app returns a value.
            return "dropped"
        return None


async def _answer(send: Any, status: int, body: Any, headers: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw.extend((k.encode(), v.encode()) for k, v in headers.items())
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


def _pop_query_match(once: dict[str, int], path: str, query: str) -> int | None:
    """The one-shot status keyed ``PATH?name=value&...`` that this request matches (its
    path, and every pair in its query), taken; None when none does."""
    sent = set(parse_qsl(query))
    for key in list(once):
        where, _, wanted = key.partition("?")
        if where == path and wanted and set(parse_qsl(wanted)) <= sent:
            return once.pop(key)
    return None
