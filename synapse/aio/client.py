"""`AsyncClient`: the object API with ``await``, on ``httpx.AsyncClient``.

It resolves the same settings (arguments, environment, profiles) into the same
`Config`, and its requests take the same path as the sync client's (`Transport.prepare`,
the one retry policy, the error tree, redaction, logging), sent by `AsyncTransport`.
Its managers are the declared kinds' managers with the async capabilities mixed in
(`synapse.aio.managers`), made on first use like the sync client's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import threading
import weakref
from collections.abc import Callable, Coroutine, Generator, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cachetools import LRUCache

import synapse.protocol as protocol
from synapse.aio.http import AsyncHTTPTransport, async_transport
from synapse.aio.pagination import AsyncPageFetcher
from synapse.aio.transport import AsyncTransport, LoopBridge
from synapse.config import SETTING, Config, Secret, TimeoutLike, arguments
from synapse.encoding import FileValue, check_readable
from synapse.errors import ClientError, InvalidInputError
from synapse.executors import check_count
from synapse.pagination import ConcurrentFetcher, PageFetcher
from synapse.retry import RetryPolicy
from synapse.transport import Call, Transport
from synapse.uploads import DEFAULT_CHUNK_SIZE, ProgressCallback
from synapse.urls import Params, origin

if TYPE_CHECKING:
    import httpx

    from synapse.aio.kinds import (
        AsyncAgentManager,
        AsyncAssignmentManager,
        AsyncDataCollectionManager,
        AsyncDataFileManager,
        AsyncDataUnitManager,
        AsyncGroundTruthEventManager,
        AsyncGroundTruthManager,
        AsyncGroundTruthVersionManager,
        AsyncJobManager,
        AsyncModelManager,
        AsyncPluginManager,
        AsyncPluginReleaseManager,
        AsyncProjectManager,
        AsyncStorageManager,
        AsyncTaskManager,
        AsyncTaskTagManager,
    )
    from synapse.resources.base import Resource

__all__ = ["AsyncClient"]

A = TypeVar("A", bound="AsyncClient")
R = TypeVar("R")


class AsyncClient:
    """A connection to one Synapse backend for asyncio code, with a manager per kind
    (``client.tasks``...) whose requests are awaited.

    It takes the arguments of [`Client`][synapse.client.Client] (read from the same
    environment variables and profiles when not given), except ``transport``: an
    `AsyncHTTPTransport` (`HttpxTransport` by default, an
    [`AsyncMockTransport`][synapse.aio.http.AsyncMockTransport] in tests) or any httpx
    transport (``httpx.MockTransport``; ``respx`` mocks the default one). Needs
    ``synapse-orm[async]``.

    Use it as ``async with AsyncClient(...) as client:``, or ``await client.aclose()``:
    that stops its transfers (``chunked_upload``, ``download``, a data file or a model
    created from a file) and cancels the page requests still in flight, and closes the
    connections. Every SDK method it offers sends on the loop; only code a user hands to
    `run_sync` runs on a worker thread (and finishes its current request before it sees
    the close).
    """

    if TYPE_CHECKING:
        # The typed stub of the managers, one per kind declared in synapse.protocol
        # (a test keeps it, synapse.aio.kinds and the declarations in step); at run
        # time each is made on first use by `_manager`.
        projects: AsyncProjectManager
        tasks: AsyncTaskManager
        task_tags: AsyncTaskTagManager
        assignments: AsyncAssignmentManager
        agents: AsyncAgentManager
        plugins: AsyncPluginManager
        plugin_releases: AsyncPluginReleaseManager
        jobs: AsyncJobManager
        storages: AsyncStorageManager
        models: AsyncModelManager
        data_collections: AsyncDataCollectionManager
        data_files: AsyncDataFileManager
        data_units: AsyncDataUnitManager
        ground_truth_events: AsyncGroundTruthEventManager
        ground_truths: AsyncGroundTruthManager
        ground_truth_versions: AsyncGroundTruthVersionManager

    def __init__(
        self,
        base_url: str | None = None,
        access_token: str | Secret | None = None,
        *,
        authorization_token: str | Secret | None = None,
        tenant: str | None = None,
        agent_token: str | Secret | None = None,
        timeout: TimeoutLike | None = None,
        max_retries: int | None = None,
        page_size: int | None = None,
        unknown_filters: str | None = None,
        retry: RetryPolicy | None = None,
        transport: AsyncHTTPTransport | httpx.AsyncBaseTransport | None = None,
        pages_in_flight: int | None = None,
        profile: str | None = None,
    ) -> None:
        self.config = Config.resolve(**arguments(locals()))  # the declared settings
        if retry is not None and max_retries is not None and retry.max_retries != max_retries:
            raise InvalidInputError("give max_retries or retry=RetryPolicy(...), not both")
        http = async_transport(origin(self.config.base_url), transport)
        self._bridge = LoopBridge(http)
        #: The sync transport: builds every request and maps every error; its own
        #: sending works only from `run_sync` threads.
        self.transport = Transport(self.config, policy=retry, http=self._bridge)
        self.atransport = AsyncTransport(self.transport, http)
        fetcher = ConcurrentFetcher(self.config.pages_in_flight)
        self.page_fetcher: PageFetcher = fetcher
        self.apage_fetcher = AsyncPageFetcher(
            fetcher.in_flight, server_max=fetcher.server_max, max_in_flight=fetcher.max_in_flight
        )
        self._cache: LRUCache[tuple[type, Any], Resource] = LRUCache(maxsize=4096)
        self._lock = threading.Lock()
        self._transfers: set[asyncio.Task[Any]] = set()
        #: Transfers that `aclose` stopped: their callers are told the client closed.
        self._closed: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()

    # -- managers: the kinds the sync client declares, with their async twins

    def _manager(self, name: str) -> Any:
        """This client's manager of a declared kind, with its async twins, made once."""
        manager = self.__dict__.get(name)
        if manager is None:
            from synapse.aio.managers import async_manager_class
            from synapse.managers import manager_class

            cls = async_manager_class(manager_class(name))
            with self._lock:
                manager = self.__dict__.get(name)
                if manager is None:  # the instance's dict answers from now on
                    manager = self.__dict__[name] = cls(self)
        return manager

    if not TYPE_CHECKING:  # mypy keeps to the typed stub: a misspelt kind is an error

        def __getattr__(self, name: str) -> Any:
            if not name.startswith("_") and name in protocol.KINDS:
                return self._manager(name)
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *protocol.KINDS})

    def manager_for(self, resource: type[Any]) -> Any:
        """The manager of a resource class (``client.manager_for(Task) is client.tasks``)."""
        kind = protocol.kind_of_resource(resource.__module__, resource.__qualname__)
        if kind is None:
            raise AttributeError(f"no manager for {resource.__name__}")
        return self._manager(kind.name)

    def related(self, resource: type[R], pk: Any) -> R:
        """A related object not expanded in the answer: loading it would block, so this
        raises unless called from `run_sync` code. Ask for it with ``expand(...)``, or
        ``await obj.arelated(...)`` (`arelated` here)."""
        key = (resource, pk)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached  # type: ignore[return-value]
        loaded: R = self.manager_for(resource).get(pk)
        with self._lock:
            self._cache[key] = loaded  # type: ignore[assignment]
        return loaded

    async def arelated(self, resource: type[R], pk: Any) -> R:
        """`related` awaited: the object of this class with this id, loaded once and then
        cached (what ``await task.arelated(Task.project)`` asks for)."""
        key = (resource, pk)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached  # type: ignore[return-value]
        loaded: R = await self.manager_for(resource).aget(pk)
        with self._lock:
            self._cache[key] = loaded  # type: ignore[assignment]
        return loaded

    def forget(self, resource: type[Any], pk: Any) -> None:
        """Drop a cached object after it was saved or deleted through this client."""
        with self._lock:
            self._cache.pop((resource, pk), None)

    # -- settings

    @property
    def base_url(self) -> str:
        """The backend's root URL."""
        return self.config.base_url

    @property
    def page_size(self) -> int:
        """Items per page when listing; settable."""
        return self.config.page_size

    @page_size.setter
    def page_size(self, size: int) -> None:
        checked = SETTING["page_size"].check(size, "page_size")
        self.config = dataclasses.replace(self.config, page_size=checked)
        self.transport.config = self.config

    # -- sending

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        data: Any = None,
        files: Mapping[str, FileValue] | None = None,
        timeout: TimeoutLike | None = None,
        max_retries: int | None = None,
    ) -> Any:
        """Send one request to an API path and return the decoded answer."""
        call = Call(
            method,
            path,
            params=params,
            data=data,
            files=files,
            timeout=timeout,
            max_retries=max_retries,
        )
        return await self.atransport.answer(call)

    async def run_sync(self, function: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """Run sync code of your own that uses this client (the escape hatch: the SDK's
        own methods all have a native ``a`` name) on a worker thread; the requests it
        makes are sent by this client's async transport, on this loop. A thread cannot
        be cancelled: it finishes its current request first."""
        self._bridge.loop = asyncio.get_running_loop()
        return await asyncio.to_thread(functools.partial(function, *args, **kwargs))

    # -- transfers: the sync client's protocol and resume journal, driven with await

    async def chunked_upload(
        self,
        path: str | os.PathLike[str],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        resume: bool | None = None,
        on_progress: ProgressCallback | None = None,
        progress: bool = False,
        timeout: TimeoutLike | None = None,
    ) -> dict[str, Any]:
        """Upload a file with the resumable chunked protocol; the finalized upload. The
        resume journal is the sync client's: an upload either began resumes in the
        other. Cancelling the awaiting task stops it (nothing is left sending)."""
        from synapse.aio.transfers import achunked_upload

        return await self._transfer(
            achunked_upload(
                self.atransport,
                path,
                chunk_size=chunk_size,
                resume=resume,
                on_progress=on_progress,
                progress=progress,
                timeout=timeout,
            )
        )

    async def chunked_upload_many(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        concurrency: int = 4,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        resume: bool | None = None,
    ) -> list[dict[str, Any]]:
        """Upload many files, ``concurrency`` at a time; the finalized uploads in order.
        Each upload sends one request at a time, so at most ``concurrency`` requests
        are in flight, whatever the number of files. Every path is checked before the
        first request; one failure cancels the uploads still going, and raises."""
        check_count("concurrency", concurrency)
        files = [check_readable(path) for path in paths]
        limit = asyncio.Semaphore(concurrency)

        async def one(path: Path) -> dict[str, Any]:
            async with limit:
                return await self.chunked_upload(path, chunk_size=chunk_size, resume=resume)

        from synapse.aio.transfers import gather_all

        return await gather_all([one(file) for file in files])

    async def download(
        self,
        url: str,
        dest: str | os.PathLike[str],
        *,
        size: int | None = None,
        checksum: str | None = None,
    ) -> Path:
        """Download a URL to ``dest`` (streamed, resumed with Range, renamed into place
        only when complete; ``size`` and ``checksum`` checked when given), as
        `Client.download` does."""
        from synapse.aio.transfers import adownload

        return await self._transfer(
            adownload(self.atransport, url, dest, size=size, checksum=checksum)
        )

    async def _adrive(self, steps: Generator[Any, Any, R], *, limit: int = 1) -> R:
        """Run a kind's steps (a create, a batch, ``upload_many``) on this loop as a
        transfer `aclose` stops; an `Each` step runs up to ``limit`` works at once."""
        from synapse.aio.transfers import adrive

        return await self._transfer(adrive(self.atransport, steps, limit))

    async def _transfer(self, work: Coroutine[Any, Any, R]) -> R:
        """Run a transfer as a task this client keeps, so that `aclose` can stop it; a
        cancellation of the awaiting task reaches it too."""
        task = asyncio.ensure_future(work)
        self._transfers.add(task)
        task.add_done_callback(self._transfers.discard)
        try:
            return await task
        except asyncio.CancelledError:
            if task in self._closed:  # stopped by aclose(), not by the caller
                raise ClientError(
                    "the client was closed while this transfer was in progress"
                ) from None
            raise

    # -- life cycle

    async def aclose(self) -> None:
        """Stop the transfers and cancel the page requests in flight, then close the
        connections."""
        running = list(self._transfers)
        for task in running:
            self._closed.add(task)
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        await self.apage_fetcher.aclose()
        await self.atransport.http.aclose()

    async def __aenter__(self: A) -> A:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        token = f", access_token={self.config.access_token}" if self.config.access_token else ""
        return f"<{type(self).__name__} {self.config.base_url}{token}>"
