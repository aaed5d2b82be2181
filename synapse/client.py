"""The client: one configured transport, and the managers of the object API on top."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from cachetools import LRUCache

import synapse.protocol as protocol
from synapse.config import SETTING, Config, Secret, TimeoutLike, arguments
from synapse.encoding import FileValue
from synapse.errors import InvalidInputError
from synapse.http import HTTPTransport
from synapse.pagination import ConcurrentFetcher, PageFetcher
from synapse.retry import RetryPolicy
from synapse.transport import Call, Transport
from synapse.urls import Params

if TYPE_CHECKING:
    from synapse.resources.annotation import (
        AssignmentManager,
        ProjectManager,
        TaskManager,
        TaskTagManager,
    )
    from synapse.resources.base import Resource
    from synapse.resources.data import (
        DataCollectionManager,
        DataFileManager,
        DataUnitManager,
    )
    from synapse.resources.integration import (
        AgentManager,
        JobManager,
        PluginManager,
        PluginReleaseManager,
        StorageManager,
    )
    from synapse.resources.ml import (
        GroundTruthEventManager,
        GroundTruthManager,
        GroundTruthVersionManager,
        ModelManager,
    )
    from synapse.uploads import ProgressCallback

__all__ = ["Client"]

C = TypeVar("C", bound="Client")
R = TypeVar("R")
M = TypeVar("M")

_MANAGERS_LOCK = threading.Lock()


class _Managed(Generic[M]):
    """A client's manager of one declared kind, made on first use.

    The kinds' modules (and pydantic, which their models need) load when a manager is
    first used, not at ``import synapse`` or when a client is built: a CLI or a notebook
    that imports the package pays for the models only once it lists or gets something.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, client: None, owner: type) -> _Managed[M]: ...
    @overload
    def __get__(self, client: Client, owner: type) -> M: ...
    def __get__(self, client: Client | None, owner: type) -> _Managed[M] | M:
        if client is None:
            return self
        return client._manager(self.name)  # type: ignore[no-any-return]


class Client:
    """A connection to one Synapse backend, with a manager per kind (``client.tasks``...).

    Arguments not given are read from the environment when the client is built:
    ``SYNAPSE_BASE_URL`` (or ``SYNAPSE_HOST``), ``SYNAPSE_ACCESS_TOKEN``,
    ``SYNAPSE_TENANT`` and ``SYNAPSE_AGENT_TOKEN``.

    Args:
        base_url: the backend's root URL, e.g. ``https://api.synapse.sh``.
        access_token: sent as ``Synapse-Access-Token: Token <token>``.
        authorization_token: deprecated DRF user token, sent as ``Authorization``.
        tenant: tenant code, sent as ``Synapse-Tenant``.
        agent_token: agent identity, sent as ``SYNAPSE-Agent``.
        timeout: ``{'connect': 5, 'read': 15}`` (default), a ``(connect, read)`` tuple,
            one number for both, or a [`Timeout`][synapse.config.Timeout].
        max_retries: retries of the one retry policy (default 3).
        page_size: items per page when listing (default 100, at most 1000).
        unknown_filters: ``"warn"`` sends filter names the SDK does not know, with a
            warning, instead of raising (``SYNAPSE_UNKNOWN_FILTERS``).
        retry: the [`RetryPolicy`][synapse.retry.RetryPolicy] of every request (its ``sleep``
            and ``rng`` can be injected, e.g. to record the waits in tests).
        transport: the `HTTPTransport` that sends requests:
            `RequestsTransport` by default, or a
            [`MockTransport`][synapse.http.MockTransport] in tests.
        pages_in_flight: page requests kept in flight while a listing is consumed
            (default 4, ``SYNAPSE_PAGES_IN_FLIGHT``; 1 fetches one page at a time).
        profile: a named profile of ``~/.config/synapse/config.toml`` (or
            ``SYNAPSE_PROFILE``), used where arguments and environment say nothing.

    A client may be shared by threads. Use it as a context manager, or call
    `close()`, to release its connections.
    """

    if TYPE_CHECKING:
        # The typed stub of the managers, one per kind declared in synapse.protocol
        # (a test keeps it and the declarations in step); at run time each is a
        # `_Managed` attribute made from the declarations below the class.
        projects: ProjectManager
        tasks: TaskManager
        task_tags: TaskTagManager
        assignments: AssignmentManager
        agents: AgentManager
        plugins: PluginManager
        plugin_releases: PluginReleaseManager
        jobs: JobManager
        storages: StorageManager
        models: ModelManager
        data_collections: DataCollectionManager
        data_files: DataFileManager
        data_units: DataUnitManager
        ground_truth_events: GroundTruthEventManager
        ground_truths: GroundTruthManager
        ground_truth_versions: GroundTruthVersionManager

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
        transport: HTTPTransport | None = None,
        pages_in_flight: int | None = None,
        profile: str | None = None,
    ) -> None:
        self.config = Config.resolve(**arguments(locals()))  # the declared settings
        if retry is not None and max_retries is not None and retry.max_retries != max_retries:
            raise InvalidInputError("give max_retries or retry=RetryPolicy(...), not both")
        self.transport = Transport(self.config, policy=retry, http=transport)
        self.page_fetcher: PageFetcher = ConcurrentFetcher(self.config.pages_in_flight)
        self._cache: LRUCache[tuple[type, Any], Resource] = LRUCache(maxsize=4096)
        self._cache_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """The backend's root URL."""
        return self.config.base_url

    @property
    def page_size(self) -> int:
        """Items per page when listing; settable (``client.page_size = 500``)."""
        return self.config.page_size

    @page_size.setter
    def page_size(self, size: int) -> None:
        checked = SETTING["page_size"].check(size, "page_size")
        self.config = dataclasses.replace(self.config, page_size=checked)

    def request(
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
        return self.transport.answer(call)

    # -- the Context that managers and resources use (synapse.context)

    def _manager(self, name: str) -> Any:
        """This client's manager of a declared kind, made once."""
        manager = self.__dict__.get(name)
        if manager is None:
            from synapse.managers import manager_class

            cls = manager_class(name)
            with _MANAGERS_LOCK:
                manager = self.__dict__.get(name)
                if manager is None:  # the instance's dict answers from now on
                    manager = self.__dict__[name] = cls(self)
        return manager

    if not TYPE_CHECKING:  # mypy keeps to the typed stub: a misspelt kind is an error

        def __getattr__(self, name: str) -> Any:
            # Kinds declared after the class was made (a plugin's own kind, a test's).
            if not name.startswith("_") and name in protocol.KINDS:
                return self._manager(name)
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def manager_for(self, resource: type[Any]) -> Any:
        """The manager of a resource class: ``client.manager_for(Task) is client.tasks``."""
        kind = protocol.kind_of_resource(resource.__module__, resource.__qualname__)
        if kind is None:
            raise AttributeError(f"no manager for {resource.__name__}")
        return self._manager(kind.name)

    def related(self, resource: type[R], pk: Any) -> R:
        """The object of this class with this id, loaded once and then cached."""
        key = (resource, pk)
        with self._cache_lock:
            cached = self._cache.get(key)
        if cached is not None:
            found: R = cached  # type: ignore[assignment]
            return found
        from synapse.managers import GetMixin

        manager = self.manager_for(resource)
        if not isinstance(manager, GetMixin):
            raise AttributeError(f"{resource.__name__} cannot be loaded by id")
        loaded = manager.get(pk)
        with self._cache_lock:
            self._cache[key] = loaded
        return loaded  # type: ignore[no-any-return]

    def forget(self, resource: type[Any], pk: Any) -> None:
        """Drop a cached object after it was saved or deleted through this client."""
        with self._cache_lock:
            self._cache.pop((resource, pk), None)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cache"] = LRUCache(maxsize=4096)
        del state["_cache_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._cache_lock = threading.Lock()

    # -- transfers

    def chunked_upload(
        self,
        path: str | os.PathLike[str],
        *,
        chunk_size: int = protocol.UPLOAD_CHUNK_SIZE,
        resume: bool | None = None,
        on_progress: ProgressCallback | None = None,
        progress: bool = False,
        timeout: TimeoutLike | None = None,
    ) -> dict[str, Any]:
        """Upload a file with the resumable chunked protocol; the finalized upload.

        Its ``id`` is what ``data_files`` and ``models`` take as ``chunked_upload``.
        """
        from synapse.uploads import upload_file  # a script that only lists never loads it

        return upload_file(
            self.transport,
            path,
            chunk_size=chunk_size,
            resume=resume,
            on_progress=on_progress,
            progress=progress,
            timeout=timeout,
        )

    def download(
        self,
        url: str,
        dest: str | os.PathLike[str],
        *,
        size: int | None = None,
        checksum: str | None = None,
    ) -> Path:
        """Download a URL to ``dest`` (streamed, resumed, renamed into place only when
        complete); ``size`` and ``checksum`` (MD5/SHA-1/SHA-256 hex), when known, are
        checked too."""
        from synapse.downloads import download  # a script that only lists never loads it

        return download(self.transport, url, dest, size=size, checksum=checksum)

    def close(self) -> None:
        """Release pooled connections and worker threads (the client stays usable)."""
        closer = getattr(self.page_fetcher, "close", None)
        if callable(closer):
            closer()
        self.transport.close()

    def __enter__(self: C) -> C:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        token = f", access_token={self.config.access_token}" if self.config.access_token else ""
        return f"<{type(self).__name__} {self.config.base_url}{token}>"


for _name in protocol.KINDS:
    setattr(Client, _name, _Managed(_name))
