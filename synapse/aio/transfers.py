"""Transfers with ``await``, on the async transport, with no worker thread.

The chunked upload is `synapse.uploads`' generator of steps (the same decisions and the
same resume journal as the sync client's: an upload begun by one resumes in the other);
the download is `synapse.downloads`' generator of steps with its answer checks. Only the
drivers below are async: they send with `AsyncTransport`, await the policy's waits, and
stream a download's body with ``async for``. Cancelling the awaiting task stops a
transfer at its next ``await``, the request in flight included; the generator is closed
(files closed, a partial download removed), and the journal keeps what the server has.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Awaitable, Callable, Generator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from synapse.aio.transport import AsyncTransport
from synapse.downloads import (
    _NOTHING,
    CHUNK,
    Fetch,
    _begin,
    _end,
    _open_part,
    download_steps,
)
from synapse.errors import ClientError, TransportError
from synapse.executors import Outcome
from synapse.steps import Each, Pause, StepRunner, Wait
from synapse.uploads import ChunkedUploader, ProgressCallback

__all__ = ["achunked_upload", "adownload", "adrive", "aeach", "arun_steps"]

Y = TypeVar("Y")
R = TypeVar("R")


async def arun_steps(
    steps: Generator[Y, Any, R],
    wait: Callable[[float], Awaitable[None]],
    perform: Callable[[Any], Awaitable[Any]],
) -> R:
    """`synapse.steps.run_steps` with ``await``: ``wait`` for a `Wait`, ``perform`` for
    any other step. A cancellation closes the generator where it stands."""
    runner = StepRunner(steps)
    try:
        while (step := runner.next()) is not None:
            if isinstance(step, Wait):
                await wait(step.seconds)
                continue
            if isinstance(step, Pause):
                await asyncio.sleep(0)  # the loop runs others, and may cancel this
                continue
            try:
                runner.answered(await perform(step))
            except ClientError as exc:
                runner.failed(exc)
        return runner.result
    finally:
        runner.close()


async def adrive(transport: AsyncTransport, steps: Generator[Any, Any, R], limit: int = 1) -> R:
    """Run a generator of steps with the async transport: the awaiting twin of
    `synapse.steps.drive`. An `Each` runs as tasks on the loop, up to ``limit`` at once."""

    async def perform(step: Any) -> Any:
        if isinstance(step, Each):
            works = [functools.partial(step.work, *args) for args in step.calls]
            return await aeach(transport, works, limit)
        return await transport.answer(step.call)

    return await arun_steps(steps, transport.wait, perform)


async def aeach(
    transport: AsyncTransport,
    works: Sequence[Callable[[], Generator[Any, Any, Any]]],
    limit: int,
) -> list[Outcome]:
    """Drive the steps each of ``works`` makes, up to ``limit`` at once: each one's
    ``(result, error)`` in order, as `synapse.executors.run_each` gives them. A
    cancellation stops every one of them before this returns (none is left sending)."""
    gate = asyncio.Semaphore(limit)

    async def one(work: Callable[[], Generator[Any, Any, Any]]) -> Outcome:
        async with gate:
            try:
                return await adrive(transport, work()), None
            except Exception as exc:  # the item's outcome, reported with it
                return None, exc

    return await gather_all([one(work) for work in works])


async def gather_all(works: Sequence[Awaitable[R]]) -> list[R]:
    """Each one's result, in order, run as tasks at the same time. A failure or a
    cancellation stops every one still running before this returns (none is left
    sending)."""
    tasks = [asyncio.ensure_future(work) for work in works]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()  # after a failure or a cancellation: the others stop (no-op when done)
        await asyncio.gather(*tasks, return_exceptions=True)


async def achunked_upload(
    transport: AsyncTransport,
    path: str | os.PathLike[str],
    *,
    chunk_size: int,
    resume: bool | None = None,
    on_progress: ProgressCallback | None = None,
    progress: bool = False,
    timeout: Any = None,
) -> dict[str, Any]:
    """`synapse.uploads.upload_file`, awaited."""
    uploader = ChunkedUploader(transport.sync, chunk_size=chunk_size)
    steps = uploader.steps(
        path, resume=resume, on_progress=on_progress, progress=progress, timeout=timeout
    )
    return await adrive(transport, steps)


async def adownload(
    transport: AsyncTransport,
    url: str,
    dest: str | os.PathLike[str],
    *,
    size: int | None = None,
    checksum: str | None = None,
) -> Path:
    """`synapse.downloads.download`, awaited."""
    steps = download_steps(transport.policy, url, dest, size, checksum)
    return await arun_steps(steps, transport.wait, lambda fetch: _afetch_once(transport, fetch))


async def _afetch_once(transport: AsyncTransport, step: Fetch) -> None:
    """One request of a download, streamed to the partial file: the sync one's loop."""
    state = step.state
    response = await transport.perform(step.call())
    try:
        end = _begin(state, step.url, step.part, response.status_code, response.headers)
        if end == _NOTHING:
            return
        with _open_part(step.part, state) as out:
            try:
                async for block in response.aiter_bytes(CHUNK):
                    out.write(block)
                    state.have += len(block)
            except TransportError as exc:
                sync = transport.sync
                raise sync.broken_download(response.url, exc) from sync._masked(exc)
        _end(state, end)
    finally:
        await response.aclose()
