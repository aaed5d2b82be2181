"""The one path every request of the SDK takes.

`Transport` builds the URL (`urls`), adds the Synapse headers (for
the configured origin only), encodes the body (`encoding`), applies the one
retry policy (`retry`) and maps failures to the errors of
[`errors`][synapse.errors]. It sends through an `HTTPTransport`
(``requests`` by default, a mock in tests) and answers with the SDK's own
[`Response`][synapse.http.Response].

Thread safety: a transport may be shared by threads that send requests at the same time
(the session's connection pool is thread safe). A pickled transport leaves its session
behind and opens a new one on first use.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from synapse._version import __version__
from synapse.config import Config, Timeout
from synapse.encoding import Body, FileValue, check_files, encode_json, form_fields
from synapse.errors import (
    ClientConnectionError,
    ClientError,
    ClientResponseIncompleteError,
    ClientTimeoutError,
    HTTPError,
    InvalidInputError,
    TooManyRedirectsError,
    TransportError,
    error_for_status,
)
from synapse.http import (
    MAX_REDIRECTS,
    HTTPTransport,
    MockTransport,
    Request,
    RequestsTransport,
    Response,
)
from synapse.retry import IDEMPOTENT_METHODS, RetryPolicy, parse_retry_after
from synapse.urls import Params, encode_params, join_url, origin

__all__ = ["MAX_ERROR_BODY", "USER_AGENT", "MockTransport", "Prepared", "Transport"]

logger = logging.getLogger("synapse")

USER_AGENT = f"synapse-orm/{__version__} python/{'.'.join(map(str, sys.version_info[:3]))}"
#: How much of an error body is read (the rest is never downloaded): enough for any
#: real error message, bounded against a server that answers 100 MB of text.
MAX_ERROR_BODY = 64 * 1024
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


# --------------------------------------------------------------------------- the one path


@dataclass(frozen=True)
class Prepared:
    """A checked request: what every attempt sends (``build()``) and how it is retried."""

    method: str
    url: str
    build: Callable[[], Request]
    retries: int
    accepted: frozenset[int]


class _Failure(Exception):
    """Internal: a failure with what the retry loop needs to know."""

    def __init__(self, error: ClientError, *, sent: bool, retryable: bool = True) -> None:
        super().__init__(str(error))
        self.error = error
        self.sent = sent
        self.retryable = retryable


class Transport:
    """Sends requests to one backend with its credentials, retries and error mapping."""

    def __init__(
        self,
        config: Config,
        *,
        policy: RetryPolicy | None = None,
        http: HTTPTransport | None = None,
    ) -> None:
        self.config = config
        self.policy = policy or RetryPolicy(max_retries=config.max_retries)
        self.origin = origin(config.base_url)
        self.http: HTTPTransport = http or RequestsTransport(self.origin)
        #: Query parameters of every request to the backend, under the caller's own
        #: (the method API's ``url_host``).
        self.default_params: dict[str, str] = {}

    # -- life cycle

    @property
    def session(self) -> Any:
        """The pooled ``requests.Session`` of the default transport."""
        if not isinstance(self.http, RequestsTransport):
            raise AttributeError(f"{type(self.http).__name__} has no requests session")
        return self.http.session

    def close(self) -> None:
        """Close pooled connections; the next request opens new ones."""
        self.http.close()

    def __repr__(self) -> str:
        return f"<Transport {self.config.base_url}>"

    # -- building requests

    def url(self, path: str) -> str:
        """The absolute URL of an API path (or the URL itself when already absolute)."""
        return join_url(self.config.base_url, path)

    def is_own_origin(self, url: str) -> bool:
        """Whether ``url`` is on the configured scheme, host and port."""
        return origin(url) == self.origin

    def on_own_origin(self, url: str) -> str:
        """A URL the backend returned, moved onto the configured origin if it names the
        configured host (a backend behind a TLS proxy may answer ``http://`` links);
        URLs on other hosts are left alone, and get no credentials."""
        parts = urlsplit(url)
        if (parts.hostname or "").lower() != self.origin[1] or self.is_own_origin(url):
            return url
        base = urlsplit(self.config.base_url)
        return parts._replace(scheme=base.scheme, netloc=base.netloc).geturl()

    def auth_headers(self) -> dict[str, str]:
        """The Synapse headers (``Synapse-Access-Token``...), for requests to the configured
        origin."""
        cfg = self.config
        headers: dict[str, str] = {}
        if cfg.access_token:
            headers["Synapse-Access-Token"] = f"Token {cfg.access_token.reveal()}"
        if cfg.authorization_token:
            headers["Authorization"] = f"Token {cfg.authorization_token.reveal()}"
        if cfg.tenant:
            headers["Synapse-Tenant"] = f"Token {cfg.tenant}"
        if cfg.agent_token:
            headers["SYNAPSE-Agent"] = f"Token {cfg.agent_token.reveal()}"
        return headers

    # -- sending

    def request(
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
        response = self.send(
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

    def send(
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
        cancelled: Callable[[], bool] | None = None,
    ) -> Response:
        """Send with retries and return the successful response (streamed if asked).

        ``body`` sends raw bytes, or what a factory makes (called anew per attempt: an
        iterable of bytes, or a file-like object with ``__len__``), in place of
        ``data``/``files``. Statuses in ``ok_statuses`` are returned, not raised.
        ``complete(content)`` says whether a success body is whole: one that is not (a
        connection cut inside it) is a broken connection, retried like one. Once
        ``cancelled()`` is true no retry is made (nobody waits for the answer).
        """
        prepared = self.prepare(
            method, path, params=params, data=data, files=files, body=body,
            headers=headers, timeout=timeout, max_retries=max_retries, stream=stream,
            ok_statuses=ok_statuses,
        )  # fmt: skip
        method, url, build = prepared.method, prepared.url, prepared.build
        retries, accepted = prepared.retries, prepared.accepted
        attempt = 0
        while True:
            if attempt and cancelled is not None and cancelled():
                retries = attempt  # nobody waits for the answer: no retry left
            try:
                response = self._attempt(build(), accepted, complete)
            except _Failure as failure:
                retryable = failure.retryable and (not failure.sent or method in IDEMPOTENT_METHODS)
                if not retryable or attempt >= retries or (cancelled and cancelled()):
                    raise failure.error from self._masked(failure.__cause__)
                self._wait(method, url, attempt, retries, failure.error.message, None)
                attempt += 1
                continue
            status = response.status_code
            if status < 400 or status in accepted:
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            again = attempt < retries and not (cancelled and cancelled())
            if again and self.policy.retries_status(method, status):
                response.close()
                self._wait(method, url, attempt, retries, f"status {status}", retry_after)
                attempt += 1
                continue
            raise self._http_error(method, url, response, retry_after)

    def prepare(
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
    ) -> Prepared:
        """Check and build a request once; ``build()`` makes each attempt's `Request`.
        Shared by this transport and the async one, so both send the same requests."""
        method = method.upper()
        url = self.url(path)
        if not url.startswith(("http://", "https://")):
            raise InvalidInputError(f"not an http(s) URL: {url!r}")
        if files:
            check_files(files)
        request_headers: dict[str, str] = {"User-Agent": USER_AGENT}
        if self.is_own_origin(url):
            request_headers.update(self.auth_headers())
        if method in BODY_METHODS and not files and body is None:
            request_headers["Content-Type"] = "application/json"
        request_headers.update(headers or {})
        timeouts = Timeout.coerce(timeout if timeout is not None else self.config.timeout)
        retries = self.policy.max_retries if max_retries is None else max_retries
        if self.default_params and self.is_own_origin(url):
            given = encode_params(params)
            names = {name for name, _ in given}
            extra = [(k, v) for k, v in self.default_params.items() if k not in names]
            params = given + extra

        def build() -> Request:
            request = Request(
                method, url, encode_params(params), dict(request_headers),
                timeout=timeouts, stream=stream,
            )  # fmt: skip
            if body is not None:
                request.content = body if isinstance(body, bytes) else body()
            elif files:
                request.form, request.files = form_fields(data), files
            elif method in BODY_METHODS and data is not None:
                request.content = encode_json(data)
            return request

        return Prepared(method, url, build, retries, frozenset(ok_statuses))

    def _attempt(
        self,
        request: Request,
        accepted: frozenset[int],
        complete: Callable[[bytes], bool] | None = None,
    ) -> Response:
        """One request. The body is streamed, so that an error body is never read whole;
        a success body is read here (unless the caller streams it), inside the error
        mapping, since a connection can break in the middle of it."""
        try:
            response = self.http.handle(request)
            if not request.stream and (
                response.status_code < 400 or response.status_code in accepted
            ):
                content = response.content  # read the whole success body now
                if complete is not None and response.status_code < 300 and not complete(content):
                    length = len(content)
                    raise TransportError("broken", f"an incomplete answer ({length} bytes)")
            return response
        except TransportError as exc:
            raise self._failure(request, exc) from exc

    def _failure(self, request: Request, exc: TransportError) -> _Failure:
        method, timeout = request.method, request.timeout
        full = f"{request.url}?{urlencode(request.params)}" if request.params else request.url
        where: dict[str, Any] = {"method": method, "url": self.config.redact(full)}
        if exc.kind == "redirects":
            loop = TooManyRedirectsError(f"more than {MAX_REDIRECTS} redirects", **where)
            return _Failure(loop, sent=True, retryable=False)
        if exc.kind == "connect_timeout":
            error: ClientError = ClientTimeoutError(
                f"connection timeout (>{timeout.connect}s)", **where
            )
            return _Failure(error, sent=False)
        if exc.kind == "connect":
            return _Failure(ClientConnectionError(f"host {exc.detail}", **where), sent=False)
        detail = self.config.redact(exc.detail)[:200]
        if exc.kind == "read_timeout":
            message = f"read timeout (>{timeout.read}s)"
        else:
            message = f"connection broken after the request was sent: {detail}"
        if method in IDEMPOTENT_METHODS:
            if exc.kind == "read_timeout":
                error = ClientTimeoutError(message, **where)
            else:
                error = ClientConnectionError(message, **where)
        else:
            error = ClientResponseIncompleteError(
                f"{message}; the server may have applied the request", **where
            )
        return _Failure(error, sent=True)

    def _wait(
        self,
        method: str,
        url: str,
        attempt: int,
        retries: int,
        why: str,
        retry_after: float | None,
    ) -> None:
        self.policy.sleep(self.retry_delay(method, url, attempt, retries, why, retry_after))

    def retry_delay(
        self,
        method: str,
        url: str,
        attempt: int,
        retries: int,
        why: str,
        retry_after: float | None,
    ) -> float:
        """The policy's delay before this retry, logged (redacted) before it is waited."""
        delay = self.policy.delay(attempt, retry_after, method)
        logger.warning(
            "retrying %s %s after %s (retry %d of %d, in %.2fs)",
            method,
            self.config.redact(url),
            why,
            attempt + 1,
            retries,
            delay,
        )
        return delay

    def _redact(self, value: Any, depth: int = 0) -> Any:
        """A copy of a decoded body with every credential of the config masked; nesting
        past 64 levels is kept as masked text rather than walked."""
        if isinstance(value, str):
            return self.config.redact(value)
        if isinstance(value, (list, dict)) and depth >= 64:
            return self.config.redact(json.dumps(value)[:MAX_ERROR_BODY])
        if isinstance(value, list):
            return [self._redact(v, depth + 1) for v in value]
        if isinstance(value, dict):
            return {k: self._redact(v, depth + 1) for k, v in value.items()}
        return value

    def _http_error(
        self, method: str, url: str, response: Response, retry_after: float | None
    ) -> HTTPError:
        content, cut = response.read_bounded(MAX_ERROR_BODY)
        decoded = (
            content.decode("utf-8", "replace") if cut else _decode(content, response.status_code)
        )
        body = self._redact(decoded)
        request_id = response.headers.get("X-Request-Id") or response.headers.get("Request-Id")
        return error_for_status(
            response.status_code,
            body,
            reason=response.reason or "",
            method=method,
            url=self.config.redact(response.url or url),
            request_id=request_id,
            retry_after=retry_after,
            truncated_at=MAX_ERROR_BODY if cut else None,
        )

    def iter_content(self, response: Response, chunk_size: int) -> Iterator[bytes]:
        """The body of a streamed response; a broken stream raises ClientConnectionError."""
        try:
            yield from response.iter_bytes(chunk_size)
        except TransportError as exc:
            raise ClientConnectionError(
                f"the download broke off: {self.config.redact(exc.detail)[:200]}",
                method="GET",
                url=self.config.redact(response.url),
            ) from self._masked(exc)

    def _masked(self, cause: BaseException | None) -> BaseException | None:
        """What an error is chained to: the transport's failure with its credentials
        masked, and not the HTTP library's exceptions under it (their messages hold
        URLs with path tokens, which a traceback would print)."""
        if not isinstance(cause, TransportError):
            return cause
        masked = TransportError(cause.kind, self.config.redact(cause.detail))
        masked.__suppress_context__ = True
        return masked


def _decode(content: bytes, status: int) -> Any:
    """``None`` for 204 or an empty body, parsed JSON when it parses, the text otherwise."""
    if status == 204 or not content:
        return None
    try:
        return json.loads(content)
    except (ValueError, RecursionError):  # not JSON, or nested past Python's stack
        return content.decode("utf-8", "replace")
