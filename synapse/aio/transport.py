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
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from synapse.aio.http import AsyncHTTPTransport, AsyncResponse
from synapse.config import Config
from synapse.encoding import Body, FileValue
from synapse.errors import InvalidInputError, TransportError
from synapse.http import Request, Response
from synapse.retry import IDEMPOTENT_METHODS, RetryPolicy, parse_retry_after
from synapse.transport import MAX_ERROR_BODY, Transport, _decode, _Failure
from synapse.urls import Params

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

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        data: Any = None,
        files: Mapping[str, FileValue] | None = None,
        body: Body | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Any = None,
        max_retries: int | None = None,
    ) -> Any:
        """Send a request and decode the answer: ``None`` for 204, JSON, or text."""
        response = await self.send(
            method,
            path,
            params=params,
            data=data,
            files=files,
            body=body,
            headers=headers,
            timeout=timeout,
            max_retries=max_retries,
        )
        return _decode(response.content, response.status_code)

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        data: Any = None,
        files: Mapping[str, FileValue] | None = None,
        body: Body | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Any = None,
        max_retries: int | None = None,
        stream: bool = False,
        ok_statuses: Iterable[int] = (),
        complete: Callable[[bytes], bool] | None = None,
    ) -> AsyncResponse:
        """Send with retries; the successful response, its body read unless ``stream``.
        ``complete(content)`` says whether a success body is whole (`Transport.send`)."""
        prepared = self.sync.prepare(
            method, path, params=params, data=data, files=files, body=body,
            headers=headers, timeout=timeout, max_retries=max_retries, stream=stream,
            ok_statuses=ok_statuses,
        )  # fmt: skip
        method, url, retries, accepted = (
            prepared.method,
            prepared.url,
            prepared.retries,
            prepared.accepted,
        )
        attempt = 0
        while True:
            try:
                response = await self._attempt(prepared.build(), accepted, complete)
            except _Failure as failure:
                retryable = failure.retryable and (not failure.sent or method in IDEMPOTENT_METHODS)
                if not retryable or attempt >= retries:
                    raise failure.error from self.sync._masked(failure.__cause__)
                await self._wait(method, url, attempt, retries, failure.error.message, None)
                attempt += 1
                continue
            status = response.status_code
            if status < 400 or status in accepted:
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt < retries and self.policy.retries_status(method, status):
                await response.aclose()
                await self._wait(method, url, attempt, retries, f"status {status}", retry_after)
                attempt += 1
                continue
            bounded = await response.read_bounded(MAX_ERROR_BODY)
            raise self.sync._http_error(method, url, bounded, retry_after)

    async def _attempt(
        self,
        request: Request,
        accepted: frozenset[int],
        complete: Callable[[bytes], bool] | None = None,
    ) -> AsyncResponse:
        """One request; a success body is read here, inside the error mapping, and one
        that is cut (``complete`` says) is a broken connection, retried like one."""
        try:
            response = await self.http.handle(request)
            if not request.stream and (
                response.status_code < 400 or response.status_code in accepted
            ):
                content = await response.aread()
                if complete is not None and response.status_code < 300 and not complete(content):
                    length = len(content)
                    raise TransportError("broken", f"an incomplete answer ({length} bytes)")
            return response
        except TransportError as exc:
            raise self.sync._failure(request, exc) from exc

    async def _wait(
        self,
        method: str,
        url: str,
        attempt: int,
        retries: int,
        why: str,
        retry_after: float | None,
    ) -> None:
        """The policy's wait, awaited: ``asyncio.sleep`` for the default ``time.sleep``;
        an injected ``sleep`` is called (and awaited when it returns an awaitable)."""
        delay = self.sync.retry_delay(method, url, attempt, retries, why, retry_after)
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
        on_loop = loop is not None and _running_loop() is loop
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


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
