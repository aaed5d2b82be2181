"""The one path every async request takes: the sync `Transport`'s checks, credentials,
retry policy, logging and error mapping, with the sending and the waits awaited.

`AsyncTransport` asks the client's `Transport` to build each request (`Transport.prepare`)
and to map each failure, so the two clients send the same requests and raise the same
errors; only the loop below, which awaits, is its own. `LoopBridge` lets the sync code
of a kind (a custom ``create``, an action) run on a worker thread while its requests go
through the async transport on the event loop: no event loop is ever started inside
sync code, and a sync request made on the loop itself raises instead of blocking it.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Iterator
from typing import Any

from synapse.aio.http import AsyncHTTPTransport, AsyncResponse, running_loop
from synapse.config import Config
from synapse.errors import InvalidInputError, TransportError
from synapse.http import Request, Response
from synapse.retry import RetryPolicy
from synapse.transport import (
    MAX_ERROR_BODY,
    Call,
    Prepared,
    Transport,
    _decode,
    _Failure,
    check_whole,
    takes_call,
)

__all__ = ["AsyncTransport", "LoopBridge"]


class AsyncTransport:
    """Sends requests with ``await``; everything but the sending is ``sync``'s."""

    def __init__(self, sync: Transport, http: AsyncHTTPTransport) -> None:
        self.sync = sync
        self.http = http

    @property
    def config(self) -> Config:
        return self.sync.config

    @property
    def policy(self) -> RetryPolicy:
        """The sync transport's policy (one object: a test that swaps it swaps both)."""
        return self.sync.policy

    def __repr__(self) -> str:
        return f"<AsyncTransport {self.config.base_url}>"

    @takes_call
    async def request(self, call: Call) -> Any:
        """Send a request and decode the answer: ``None`` for 204, JSON, or text."""
        return await self.answer(call)

    @takes_call
    async def send(self, call: Call) -> AsyncResponse:
        """Send with retries; the successful response, its body read unless ``stream``
        (the options are `Call`'s)."""
        return await self.perform(call)

    async def answer(self, call: Call) -> Any:
        """`perform()` a call and decode its answer."""
        response = await self.perform(call)
        return _decode(response.content, response.status_code)

    async def perform(self, call: Call) -> AsyncResponse:
        """Build, retry, raise, as `Transport.perform` does, with the sending and the
        waits awaited."""
        sync = self.sync
        prepared = sync.prepare(call)
        attempt = 0
        while True:
            try:
                response = await self._attempt(prepared)
            except _Failure as failure:
                await self.wait(sync.retry_failure(prepared, failure, attempt))
            else:
                if prepared.accepts(response.status_code):
                    return response
                delay = sync.retry_answer(prepared, response.status_code, response.headers, attempt)
                if delay is None:
                    bounded = await response.read_bounded(MAX_ERROR_BODY)
                    raise sync._http_error(prepared, bounded)
                await response.aclose()
                await self.wait(delay)
            attempt += 1

    async def _attempt(self, prepared: Prepared) -> AsyncResponse:
        """One request; a success body is read here, inside the error mapping, and one
        that is cut (the call's ``complete`` says) is a broken connection, retried like
        one."""
        request = prepared.build()
        try:
            response = await self.http.handle(request)
            if not request.stream and prepared.accepts(response.status_code):
                check_whole(prepared, response.status_code, await response.aread())
            return response
        except TransportError as exc:
            raise self.sync._failure(request, exc) from exc

    async def wait(self, delay: float) -> None:
        """The policy's wait, awaited: ``asyncio.sleep`` for the default ``time.sleep``;
        an injected ``sleep`` is called (and awaited when it returns an awaitable)."""
        if self.policy.sleep is time.sleep:
            await asyncio.sleep(delay)
            return
        sleep: Callable[[float], Any] = self.policy.sleep
        waited = sleep(delay)
        if inspect.isawaitable(waited):
            await waited


class LoopBridge:
    """The sync `HTTPTransport` of an `AsyncClient`: a request made by sync code on a
    worker thread is sent by the async transport on the client's loop; a request made on
    the loop's own thread raises (it would block every other task)."""

    def __init__(self, http: AsyncHTTPTransport) -> None:
        self.http = http
        self.loop: asyncio.AbstractEventLoop | None = None

    def handle(self, request: Request) -> Response:
        loop = self.loop
        on_loop = loop is not None and running_loop() is loop
        if loop is None or on_loop or loop.is_closed():
            raise InvalidInputError(
                "an AsyncClient sends with await: use the a-methods (aget, afirst, acount, "
                "asave, arelated for a relation, ...) and `async for`; a blocking call would "
                "stall the event loop"
            )
        future = asyncio.run_coroutine_threadsafe(self._whole(request), loop)
        return future.result()

    async def _whole(self, request: Request) -> Response:
        response = await self.http.handle(request)
        if response.status_code >= 400:
            return await response.read_bounded(MAX_ERROR_BODY)
        if request.stream:  # a download: its body is pulled from the loop piece by piece
            return self._streamed(response, self.loop)
        await response.aread()
        return Response(
            response.status_code,
            headers=response.headers,
            content=response.content,
            url=response.url,
            reason=response.reason,
        )

    @staticmethod
    def _streamed(response: AsyncResponse, loop: Any) -> Response:
        def pull(coroutine: Any) -> Any:
            return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

        def stream(chunk_size: int) -> Iterator[bytes]:
            pieces = response.aiter_bytes(chunk_size)

            async def following() -> bytes | None:
                return await anext(pieces, None)

            try:
                while (chunk := pull(following())) is not None:
                    yield chunk
            finally:
                pull(pieces.aclose())

        return Response(
            response.status_code,
            headers=response.headers,
            url=response.url,
            reason=response.reason,
            stream=stream,
            on_close=lambda: pull(response.aclose()),
        )

    def close(self) -> None:
        pass  # the async transport is closed by the client's aclose()
