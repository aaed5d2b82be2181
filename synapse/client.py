"""The client: one configured transport, and the managers of the object API on top."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from cachetools import LRUCache

from synapse.config import Config, Secret, TimeoutLike
from synapse.downloads import download
from synapse.managers import GetMixin, Manager
from synapse.methods import MethodsMixin
from synapse.pagination import PageFetcher, SequentialFetcher
from synapse.resources.annotation import (
    AssignmentManager,
    ProjectManager,
    TaskManager,
    TaskTagManager,
)
from synapse.resources.base import Resource
from synapse.resources.data import DataCollectionManager, DataFileManager, DataUnitManager
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
from synapse.transport import FileValue, Params, Transport
from synapse.uploads import DEFAULT_CHUNK_SIZE, ChunkedUploader, ProgressCallback

__all__ = ["BackendClient", "Client"]

C = TypeVar("C", bound="Client")


class Client:
    """A connection to one Synapse backend.

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
            one number for both, or a :class:`~synapse.config.Timeout`.
        max_retries: retries of the one retry policy (default 3).
        page_size: items per page when listing (default 100, at most 1000).

    A client may be shared by threads. Use it as a context manager, or call
    :meth:`close`, to release its connections.
    """

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
    ) -> None:
        self.config = Config.resolve(
            base_url,
            access_token,
            authorization_token=authorization_token,
            tenant=tenant,
            agent_token=agent_token,
            timeout=timeout,
            max_retries=max_retries,
            page_size=page_size,
            unknown_filters=unknown_filters,
        )
        self.transport = Transport(self.config)
        self.page_fetcher: PageFetcher = SequentialFetcher()
        self._cache: LRUCache[tuple[str, Any], Resource] = LRUCache(maxsize=4096)
        self._cache_lock = threading.Lock()
        self.projects = ProjectManager(self)
        self.tasks = TaskManager(self)
        self.task_tags = TaskTagManager(self)
        self.assignments = AssignmentManager(self)
        self.agents = AgentManager(self)
        self.plugins = PluginManager(self)
        self.plugin_releases = PluginReleaseManager(self)
        self.jobs = JobManager(self)
        self.storages = StorageManager(self)
        self.models = ModelManager(self)
        self.data_collections = DataCollectionManager(self)
        self.data_files = DataFileManager(self)
        self.data_units = DataUnitManager(self)
        self.ground_truth_events = GroundTruthEventManager(self)
        self.ground_truths = GroundTruthManager(self)
        self.ground_truth_versions = GroundTruthVersionManager(self)

    @property
    def base_url(self) -> str:
        """The backend's root URL."""
        return self.config.base_url

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
        return self.transport.request(
            method,
            path,
            params=params,
            data=data,
            files=files,
            timeout=timeout,
            max_retries=max_retries,
        )

    # -- relations: one cache per client, keyed by (kind, id)

    def _manager(self, name: str) -> Any:
        manager = getattr(self, name, None)
        if not isinstance(manager, Manager):
            raise AttributeError(f"no manager {name!r}")
        return manager

    def _related(self, name: str, pk: Any) -> Any:
        """The object of kind ``name`` with this id, loaded once and then cached."""
        key = (name, pk)
        with self._cache_lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        manager = self._manager(name)
        if not isinstance(manager, GetMixin):
            raise AttributeError(f"{name} cannot be loaded by id")
        loaded = manager.get(pk)
        with self._cache_lock:
            self._cache[key] = loaded
        return loaded

    def _forget(self, name: str, pk: Any) -> None:
        """Drop a cached object after it was saved or deleted through this client."""
        with self._cache_lock:
            self._cache.pop((name, pk), None)

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
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        resume: bool | None = None,
        on_progress: ProgressCallback | None = None,
        progress: bool = False,
        timeout: TimeoutLike | None = None,
    ) -> dict[str, Any]:
        """Upload a file with the resumable chunked protocol; the finalized upload.

        Its ``id`` is what ``data_files`` and ``models`` take as ``chunked_upload``.
        """
        uploader = ChunkedUploader(self.transport, chunk_size=chunk_size)
        return uploader.upload(
            path, resume=resume, on_progress=on_progress, progress=progress, timeout=timeout
        )

    def download(self, url: str, dest: str | os.PathLike[str]) -> Path:
        """Download a URL to ``dest`` (streamed, resumed, renamed into place when done)."""
        return download(self.transport, url, dest)

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


class BackendClient(MethodsMixin, Client):
    """The original ``BackendClient``'s methods (``get_project``, ``list_tasks``...) on the
    same client as the object API: ``client.list_tasks()`` and ``client.tasks`` both work.

    Switching from the older package is an import change::

        from synapse import BackendClient, ClientError
    """
