"""The async face of the SDK: [`AsyncClient`][synapse.aio.client.AsyncClient], on ``httpx``
(``pip install 'synapse-orm[async]'``).

Nothing here is imported by ``import synapse``: ``synapse.AsyncClient`` loads this
package, and httpx with it, on first use.
"""

from synapse.aio.client import AsyncClient
from synapse.aio.http import AsyncHTTPTransport, AsyncMockTransport, AsyncResponse, HttpxTransport
from synapse.aio.pagination import AsyncPageFetcher
from synapse.aio.query import AsyncQuerySet
from synapse.aio.values import AsyncValuesQuerySet

__all__ = [
    "AsyncClient",
    "AsyncHTTPTransport",
    "AsyncMockTransport",
    "AsyncPageFetcher",
    "AsyncQuerySet",
    "AsyncResponse",
    "AsyncValuesQuerySet",
    "HttpxTransport",
]
