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

import inspect
import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlencode, urlsplit

from synapse._version import __version__
from synapse.config import Config, Timeout, TimeoutLike, masked_query
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
from synapse.urls import Params, encode_params, join_url, origin, without_query

__all__ = [
    "MAX_ERROR_BODY",
    "USER_AGENT",
    "Call",
    "MockTransport",
    "Prepared",
    "Transport",
    "takes_call",
]

logger = logging.getLogger("synapse")

USER_AGENT = f"synapse-orm/{__version__} python/{'.'.join(map(str, sys.version_info[:3]))}"
#: How much of an error body is read (the rest is never downloaded): enough for any
#: real error message, bounded against a server that answers 100 MB of text.
MAX_ERROR_BODY = 64 * 1024
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


# --------------------------------------------------------------------------- the one path


@dataclass(frozen=True)
class Call:
    """One request as its caller describes it: every per-call option, declared once.

    Built once where a request enters the SDK (`Transport.send`/`request` take these
    fields as keywords, `Client.request` builds one) and handed down whole, so an option
    added here reaches `Transport.prepare` and the retry loop of both transports without
    a layer in between naming it.
    """

    method: str
    path: str
    _: KW_ONLY
    #: Query parameters (a mapping or pairs); lists repeat the name.
    params: Params | None = None
    #: A JSON body (POST, PUT, PATCH), or the form fields beside ``files``.
    data: Any = None
    #: Multipart files by field name.
    files: Mapping[str, FileValue] | None = None
    #: Raw bytes, or a factory called anew per attempt (an iterable of bytes or a file
    #: with ``__len__``), sent in place of ``data``/``files``.
    body: Body | None = None
    #: Headers over the SDK's own (``User-Agent``, credentials, ``Content-Type``).
    headers: Mapping[str, str] | None = None
    #: This request's timeouts, over the client's.
    timeout: TimeoutLike | None = None
    #: This request's retries, over the policy's.
    max_retries: int | None = None
    #: Whether the success body is left unread for the caller to stream.
    stream: bool = False
    #: Error statuses returned as answers rather than raised.
    ok_statuses: Iterable[int] = ()
    #: Whether a success body is whole: one that is not (a connection cut inside it) is
    #: a broken connection, retried like one.
    complete: Callable[[bytes], bool] | None = None
    #: Once true, no retry is made (nobody waits for the answer).
    cancelled: Callable[[], bool] | None = None


P = ParamSpec("P")
S = TypeVar("S")
R = TypeVar("R")


def _keywords_of(
    build: Callable[P, Call],
) -> Callable[[Callable[[S, Call], R]], Callable[Concatenate[S, P], R]]:
    def decorate(function: Callable[[S, Call], R]) -> Callable[Concatenate[S, P], R]:
        def with_keywords(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return function(self, build(*args, **kwargs))

        own = inspect.signature(function)
        fields = list(inspect.signature(build).parameters.values())
        with_keywords.__signature__ = own.replace(  # type: ignore[attr-defined]
            parameters=[next(iter(own.parameters.values())), *fields]
        )
        with_keywords.__name__ = function.__name__
        with_keywords.__qualname__ = function.__qualname__
        with_keywords.__doc__ = function.__doc__
        with_keywords.__wrapped__ = function  # type: ignore[attr-defined]
        return with_keywords

    return decorate


#: A method taking a `Call` made one taking its fields as arguments (typed from the
#: declaration above, so a misspelt option is a type error): the one construction point.
takes_call = _keywords_of(Call)


@dataclass(frozen=True)
class Prepared:
    """A checked call: what every attempt sends (``build()``) and how it is retried."""

    call: Call
    method: str
    url: str
    build: Callable[[], Request]
    retries: int
    accepted: frozenset[int]

    def accepts(self, status: int) -> bool:
        """Whether an answer with this status is returned to the caller."""
        return status < 400 or status in self.accepted

    def given_up(self) -> bool:
        """Whether nobody waits for the answer any more (no retry is made then)."""
        return self.call.cancelled is not None and self.call.cancelled()


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

    def shown(self, url: str) -> str:
        """A URL for an error or a log line: credentials masked, the query of another
        host's URL left out (a presigned storage URL carries its signature there), and
        signing parameters masked on this one's."""
        own = self.is_own_origin(url)
        return self.config.redact(masked_query(url) if own else without_query(url))

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

    @takes_call
    def request(self, call: Call) -> Any:
        """Send a request and decode the answer: ``None`` for 204, JSON, or text."""
        return self.answer(call)

    @takes_call
    def send(self, call: Call) -> Response:
        """Send with retries and return the successful response (streamed if asked);
        the options are `Call`'s."""
        return self.perform(call)

    def answer(self, call: Call) -> Any:
        """`perform()` a call and decode its answer."""
        response = self.perform(call)
        return _decode(response.content, response.status_code)

    def perform(self, call: Call) -> Response:
        """Build, retry, raise: the successful response of a call, or its error."""
        prepared = self.prepare(call)
        attempt = 0
        while True:
            try:
                response = self._attempt(prepared)
            except _Failure as failure:
                self.policy.sleep(self.retry_failure(prepared, failure, attempt))
            else:
                if prepared.accepts(response.status_code):
                    return response
                delay = self.retry_answer(prepared, response.status_code, response.headers, attempt)
                if delay is None:
                    raise self._http_error(prepared, response)
                response.close()
                self.policy.sleep(delay)
            attempt += 1

    def prepare(self, call: Call) -> Prepared:
        """Check and build a call once; ``build()`` makes each attempt's `Request`.
        Shared by this transport and the async one, so both send the same requests."""
        method = call.method.upper()
        url = self.url(call.path)
        if not url.startswith(("http://", "https://")):
            raise InvalidInputError(f"not an http(s) URL: {url!r}")
        if call.files:
            check_files(call.files)
        headers = self._headers(call, method, url)
        timeouts = Timeout.coerce(call.timeout if call.timeout is not None else self.config.timeout)
        retries = self.policy.max_retries if call.max_retries is None else call.max_retries
        params = self._params(call.params, url)
        body, files, data, stream = call.body, call.files, call.data, call.stream

        def build() -> Request:
            request = Request(
                method, url, encode_params(params), dict(headers), timeout=timeouts, stream=stream
            )
            if body is not None:
                request.content = body if isinstance(body, bytes) else body()
            elif files:
                request.form, request.files = form_fields(data), files
            elif method in BODY_METHODS and data is not None:
                request.content = encode_json(data)
            return request

        return Prepared(call, method, url, build, retries, frozenset(call.ok_statuses))

    def _headers(self, call: Call, method: str, url: str) -> dict[str, str]:
        """The SDK's headers (credentials only for the configured origin), the call's over
        them."""
        headers: dict[str, str] = {"User-Agent": USER_AGENT}
        if self.is_own_origin(url):
            headers.update(self.auth_headers())
        if method in BODY_METHODS and not call.files and call.body is None:
            headers["Content-Type"] = "application/json"
        headers.update(call.headers or {})
        return headers

    def _params(self, params: Params | None, url: str) -> Params | None:
        """The call's query parameters, then the transport's defaults it does not give."""
        if not (self.default_params and self.is_own_origin(url)):
            return params
        given = encode_params(params)
        names = {name for name, _ in given}
        return given + [(k, v) for k, v in self.default_params.items() if k not in names]

    def retry_failure(self, prepared: Prepared, failure: _Failure, attempt: int) -> float:
        """The delay before retrying after a failed attempt; raises the failure's error
        when it is not retried (a request that may have been applied, no retry left)."""
        sent_twice = failure.sent and prepared.method not in IDEMPOTENT_METHODS
        if (
            not failure.retryable
            or sent_twice
            or attempt >= prepared.retries
            or prepared.given_up()
        ):
            raise failure.error from self._masked(failure.__cause__)
        why = failure.error.message
        return self.retry_delay(prepared.method, prepared.url, attempt, prepared.retries, why, None)

    def retry_answer(
        self, prepared: Prepared, status: int, headers: Mapping[str, str], attempt: int
    ) -> float | None:
        """The delay before retrying after an error answer, or ``None`` when it is raised."""
        if attempt >= prepared.retries or prepared.given_up():
            return None
        if not self.policy.retries_status(prepared.method, status):
            return None
        retry_after = parse_retry_after(headers.get("Retry-After"))
        return self.retry_delay(
            prepared.method,
            prepared.url,
            attempt,
            prepared.retries,
            f"status {status}",
            retry_after,
            status,
        )

    def _attempt(self, prepared: Prepared) -> Response:
        """One request. The body is streamed, so that an error body is never read whole;
        a success body is read here (unless the caller streams it), inside the error
        mapping, since a connection can break in the middle of it."""
        request = prepared.build()
        try:
            response = self.http.handle(request)
            if not request.stream and prepared.accepts(response.status_code):
                content = response.content  # read the whole success body now
                check_whole(prepared, response.status_code, content)
            return response
        except TransportError as exc:
            raise self._failure(request, exc) from exc

    def _failure(self, request: Request, exc: TransportError) -> _Failure:
        method, timeout = request.method, request.timeout
        full = f"{request.url}?{urlencode(request.params)}" if request.params else request.url
        where: dict[str, Any] = {"method": method, "url": self.shown(full)}
        if exc.kind == "redirects":
            said = self.config.redact(exc.detail) if exc.detail else ""
            loop = TooManyRedirectsError(said or f"more than {MAX_REDIRECTS} redirects", **where)
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

    def retry_delay(
        self,
        method: str,
        url: str,
        attempt: int,
        retries: int,
        why: str,
        retry_after: float | None,
        status: int | None = None,
    ) -> float:
        """The policy's delay before this retry, logged (redacted) before it is waited."""
        delay = self.policy.delay(attempt, retry_after, method, status)
        logger.warning(
            "retrying %s %s after %s (retry %d of %d, in %.2fs)",
            method,
            self.shown(url),
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

    def _http_error(self, prepared: Prepared, response: Response) -> HTTPError:
        """The error of an answer that is not retried, from at most `MAX_ERROR_BODY`
        bytes of its body."""
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
            method=prepared.method,
            url=self.shown(response.url or prepared.url),
            request_id=request_id,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            truncated_at=MAX_ERROR_BODY if cut else None,
        )

    def iter_content(self, response: Response, chunk_size: int) -> Iterator[bytes]:
        """The body of a streamed response; a broken stream raises ClientConnectionError."""
        try:
            yield from response.iter_bytes(chunk_size)
        except TransportError as exc:
            raise self.broken_download(response.url, exc) from self._masked(exc)

    def broken_download(self, url: str, exc: TransportError) -> ClientConnectionError:
        """The error of a streamed body that broke off (both clients'; chain it to
        `_masked` of ``exc``)."""
        return ClientConnectionError(
            f"the download broke off: {self.config.redact(exc.detail)[:200]}",
            method="GET",
            url=self.shown(url),
        )

    def _masked(self, cause: BaseException | None) -> BaseException | None:
        """What an error is chained to: the transport's failure with its credentials
        masked, and not the HTTP library's exceptions under it (their messages hold
        URLs with path tokens, which a traceback would print)."""
        if not isinstance(cause, TransportError):
            return cause
        masked = TransportError(cause.kind, self.config.redact(cause.detail))
        masked.__suppress_context__ = True
        return masked


def check_whole(prepared: Prepared, status: int, content: bytes) -> None:
    """A success body that the call's ``complete`` says is cut is a broken connection."""
    complete = prepared.call.complete
    if complete is not None and status < 300 and not complete(content):
        raise TransportError("broken", f"an incomplete answer ({len(content)} bytes)")


def _decode(content: bytes, status: int) -> Any:
    """``None`` for 204 or an empty body, parsed JSON when it parses, the text otherwise."""
    if status == 204 or not content:
        return None
    try:
        return json.loads(content)
    except (ValueError, RecursionError):  # not JSON, or nested past Python's stack
        return content.decode("utf-8", "replace")
