"""Plugin-release lookup and the job console tail of the older ``IntegrationClientMixin``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from synapse.clients.backend.core import CoreClientMixin, pick_id
from synapse.errors import InvalidInputError
from synapse.urls import PathParam, build_path

__all__ = ["IntegrationClientMixin"]

_DEFAULT = "plugin"
_SERVE_APPLICATIONS = "serve_applications/"


class IntegrationClientMixin(CoreClientMixin):
    def get_plugin_release_by_lookup(
        self,
        lookup: str | int,
        *,
        expand: str | None = _DEFAULT,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """GET ``plugin_releases/{code@version or id}/``, with ``expand=plugin`` unless
        told otherwise; ``None`` values of ``params`` are not sent. The lookup is
        percent-encoded (``@`` kept), so no lookup can reach another path."""
        text = str(lookup)
        if not text:
            raise InvalidInputError("a release lookup is 'code@version' or an id")
        merged = {"expand": expand, **(params or {})}
        query = {key: value for key, value in merged.items() if value is not None}
        return self._get(f"plugin_releases/{quote(text, safe='@')}/", params=query or None)

    def create_serve_application(self, data: Mapping[str, Any]) -> Any:
        """POST ``serve_applications/`` with ``{job, status?, data?}`` (checked first)."""
        from synapse.clients.backend.models import ServeApplicationCreateRequest

        body = ServeApplicationCreateRequest.model_validate(dict(data))
        return self.transport.request(
            "POST", _SERVE_APPLICATIONS, data=body.model_dump(exclude_none=True)
        )

    def list_serve_applications(
        self, params: Mapping[str, Any] | None = None, *, list_all: bool = False
    ) -> Any:
        """GET ``serve_applications/`` (filters such as ``plugin_code``, ``job__agent``):
        one page, or ``(applications, count)`` with ``list_all=True``."""
        if not list_all:
            return self._get(_SERVE_APPLICATIONS, params=params)
        from synapse.results import ListResult

        given = dict(params or {})
        size = int(given.pop("page_size", self.transport.config.page_size))
        items = ListResult(self, _SERVE_APPLICATIONS, list(given.items()), size, None)  # type: ignore[arg-type]
        return items, len(items)

    def tail_job_console_logs(
        self, job_id: PathParam | None = None, *, pk: PathParam | None = None
    ) -> Iterator[str]:
        """The job's console as it is written: each non-empty line of the server-sent
        event stream of ``jobs/{id}/tail_console_logs/`` (``data: {...}`` lines), read
        with no read timeout. An error status raises its typed error (a 429 carries
        ``retry_after``)."""
        path = build_path("jobs/{}/tail_console_logs/", pick_id("job_id", job_id, pk))
        transport = self.transport
        connect = transport.config.timeout.connect
        response = transport.send(
            "GET",
            path,
            headers={"Accept": "text/event-stream"},
            timeout=(connect, None),
            max_retries=0,
            stream=True,
        )
        return _lines(transport.iter_content(response, 8192))


def _lines(chunks: Iterator[bytes]) -> Iterator[str]:
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            text = line.rstrip(b"\r").decode("utf-8", "replace")
            if text:
                yield text
    tail = pending.rstrip(b"\r").decode("utf-8", "replace")
    if tail:
        yield tail
