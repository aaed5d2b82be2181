"""The client: one configured transport, and the managers of the object API on top."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synapse.config import Config, Secret, TimeoutLike
from synapse.transport import FileValue, Transport

__all__ = ["Client"]


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
        )
        self.transport = Transport(self.config)

    @property
    def base_url(self) -> str:
        """The backend's root URL."""
        return self.config.base_url

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
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

    def close(self) -> None:
        """Release pooled connections (the client stays usable)."""
        self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        token = f", access_token={self.config.access_token}" if self.config.access_token else ""
        return f"<{type(self).__name__} {self.config.base_url}{token}>"
