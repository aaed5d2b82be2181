"""HTTP for the whole SDK: the only module that imports ``requests``.

One :class:`Transport` per client holds one pooled ``requests.Session``. It builds URLs
(validating path parameters), adds the Synapse headers (only for the configured origin),
encodes bodies, applies the one retry policy of the SDK and maps failures to the errors
of :mod:`synapse.errors`.

Thread safety: a transport may be shared by threads that send requests at the same time
(the session's connection pool is thread safe); do not change its settings while it is in
use. A pickled transport leaves its session behind and opens a new one on first use.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import enum
import json
import logging
import math
import os
import platform
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import IO, Any
from urllib.parse import quote, urlsplit

import requests
import requests.adapters
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from synapse._version import __version__
from synapse.config import Config, Timeout, mask_url_credentials
from synapse.errors import (
    ClientConnectionError,
    ClientError,
    ClientResponseIncompleteError,
    ClientTimeoutError,
    HTTPError,
    InvalidInputError,
    TooManyRedirectsError,
    error_for_status,
)

__all__ = [
    "CREDENTIAL_HEADERS",
    "RetryPolicy",
    "Transport",
    "build_path",
    "check_readable",
    "encode_params",
    "join_url",
    "path_param",
]

logger = logging.getLogger("synapse")


class _MaskUrlCredentials(logging.Filter):
    """urllib3 logs each request's path at DEBUG; the protocol puts agent tokens in paths."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                mask_url_credentials(a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = mask_url_credentials(record.msg)
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_MaskUrlCredentials())

USER_AGENT = f"synapse-orm/{__version__} python/{platform.python_version()}"
CREDENTIAL_HEADERS = ("Synapse-Access-Token", "Authorization", "Synapse-Tenant", "SYNAPSE-Agent")
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: How much of an error body is read (the rest is never downloaded): enough for any
#: real error message, bounded against a server that answers 100 MB of text.
MAX_ERROR_BODY = 64 * 1024
MAX_REDIRECTS = 10
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

PathParam = int | str | uuid.UUID


# --------------------------------------------------------------------------- URLs


def path_param(value: PathParam) -> str:
    """One URL path segment from an id: an int, a UUID, or a safe string, percent-encoded.

    Strings may not be empty, contain ``/``, ``\\``, ``..``, whitespace or control
    characters, so that no id can point a request outside its resource.
    """
    if isinstance(value, bool):
        raise InvalidInputError(f"an id must be an int or a string, got the bool {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        raise InvalidInputError(f"an id must be an int or a string, got {type(value).__name__}")
    if (
        not value
        or value == "."
        or ".." in value
        or "/" in value
        or "\\" in value
        or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value)
    ):
        raise InvalidInputError(f"invalid id {value!r}: not usable as a URL path segment")
    return quote(value, safe="@")


def build_path(template: str, *params: PathParam) -> str:
    """Fill each ``{}`` of a trusted path template with a validated path parameter."""
    if template.count("{}") != len(params):
        raise TypeError(f"path template {template!r} takes {template.count('{}')} parameters")
    return template.format(*(path_param(p) for p in params))


def join_url(base_url: str, path: str) -> str:
    """An absolute http(s) URL is used as is; anything else hangs off the base URL."""
    if path.startswith(("http://", "https://")):
        return path
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def _wire_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


Params = Mapping[str, Any] | Sequence[tuple[str, Any]]


def encode_params(params: Params | None) -> list[tuple[str, str]]:
    """Query pairs: lists become repeated keys, ``None`` is dropped, bools are true/false."""
    pairs: list[tuple[str, str]] = []
    items = params.items() if isinstance(params, Mapping) else (params or [])
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            pairs.extend((key, _wire_value(v)) for v in value if v is not None)
        else:
            pairs.append((key, _wire_value(value)))
    return pairs


# --------------------------------------------------------------------------- bodies


def _json_default(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, PurePath)):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def encode_json(data: Any) -> bytes:
    """The JSON body the backend expects (standard encoder, ASCII-escaped)."""
    return json.dumps(data, default=_json_default).encode("ascii")


FileValue = str | os.PathLike[str] | bytes | IO[bytes] | tuple[str, Any]
Body = bytes | Callable[[], Any]


def _form_fields(data: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for key, value in (data or {}).items():
        if value is None:
            continue
        if isinstance(value, dict):
            fields.append((key, json.dumps(value, default=_json_default)))
        elif isinstance(value, (list, tuple)):
            fields.extend((key, _form_scalar(v)) for v in value)
        else:
            fields.append((key, _form_scalar(value)))
    return fields


def _form_scalar(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)  # bools as True/False, as the backend's form parser expects


def check_readable(path: str | os.PathLike[str]) -> Path:
    """The path as a ``Path``, or a clear error (before any request) if it cannot be read."""
    file = Path(path)
    if not file.exists():
        raise InvalidInputError(f"file not found: {file}")
    if not file.is_file():
        raise InvalidInputError(f"not a regular file: {file}")
    if not os.access(file, os.R_OK):
        raise InvalidInputError(f"file is not readable: {file}")
    return file


def check_files(files: Mapping[str, FileValue]) -> None:
    """Raise before any request if a file given as a path is missing or unreadable."""
    for value in files.values():
        if isinstance(value, (str, os.PathLike)):
            check_readable(value)


class _OpenFiles:
    """The multipart file parts for one attempt; paths are opened and closed per attempt."""

    def __init__(self, files: Mapping[str, FileValue]) -> None:
        self.files = files
        self.opened: list[IO[bytes]] = []

    def __enter__(self) -> list[tuple[str, tuple[str, Any]]]:
        parts: list[tuple[str, tuple[str, Any]]] = []
        for name, value in self.files.items():
            if isinstance(value, (str, os.PathLike)):
                handle = open(value, "rb")  # closed in __exit__
                self.opened.append(handle)
                parts.append((name, (Path(value).name, handle)))
            elif isinstance(value, bytes):
                parts.append((name, (name, value)))
            elif isinstance(value, tuple):
                parts.append((name, (value[0], value[1])))
            else:
                if value.seekable():
                    value.seek(0)
                filename = Path(str(getattr(value, "name", name))).name
                parts.append((name, (filename, value)))
        return parts

    def __exit__(self, *exc: object) -> None:
        for handle in self.opened:
            handle.close()
        self.opened.clear()


# --------------------------------------------------------------------------- retries


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        seconds = when.timestamp() - now()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """The SDK's one retry policy.

    Requests that cannot have reached the server (connection refused, connect timeout)
    and 429 answers are retried for every method. 408, 425, 500, 502, 503, 504 and
    failures after the request was sent are retried only for idempotent methods: a POST
    or PATCH that may have been applied is never sent twice.
    """

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 60.0
    retry_any_method: frozenset[int] = frozenset({429})
    retry_idempotent: frozenset[int] = frozenset({408, 425, 500, 502, 503, 504})

    def retries_status(self, method: str, status: int) -> bool:
        """Whether an answer with this status may be retried for this method."""
        if status in self.retry_any_method:
            return True
        return status in self.retry_idempotent and method in IDEMPOTENT_METHODS

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based): full jitter backoff."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap)
        return rng.uniform(0.0, min(self.backoff_cap, self.backoff_base * 2**attempt))


# --------------------------------------------------------------------------- session


class _Session(requests.Session):
    """A session that drops every credential header on a redirect to another origin."""

    def __init__(self, origin: tuple[str, str, int | None]) -> None:
        super().__init__()
        self.synapse_origin = origin

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]
        if _origin(prepared_request.url or "") != self.synapse_origin:
            for name in CREDENTIAL_HEADERS:
                prepared_request.headers.pop(name, None)


class _Adapter(requests.adapters.HTTPAdapter):
    """Sends streamed bodies in 1 MiB writes (urllib3's default is 16 KiB)."""

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs.setdefault("blocksize", 1 << 20)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


class _Failure(Exception):
    """Internal: a transport failure with what the retry loop needs to know."""

    def __init__(self, error: ClientError, *, sent: bool, retryable: bool = True) -> None:
        super().__init__(str(error))
        self.error = error
        self.sent = sent
        self.retryable = retryable


class Transport:
    """Sends requests to one backend with its credentials, retries and error mapping."""

    def __init__(self, config: Config, *, policy: RetryPolicy | None = None) -> None:
        self.config = config
        self.policy = policy or RetryPolicy(max_retries=config.max_retries)
        self.origin = _origin(config.base_url)
        self._session: _Session | None = None
        self._proxies: dict[tuple[str, str, int | None], dict[str, str]] = {}
        self._lock = threading.Lock()
        self._sleep: Callable[[float], None] = time.sleep
        self._random = random.Random()

    # -- life cycle

    @property
    def session(self) -> requests.Session:
        """The pooled session, created on first use."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    session = _Session(self.origin)
                    adapter = _Adapter(pool_connections=4, pool_maxsize=32, max_retries=0)
                    session.mount("http://", adapter)
                    session.mount("https://", adapter)
                    session.headers["User-Agent"] = USER_AGENT
                    session.max_redirects = MAX_REDIRECTS
                    # The environment is read once, here, not on every request as
                    # requests does by default (that costs more than a small page).
                    session.trust_env = False
                    session.verify = (
                        os.environ.get("REQUESTS_CA_BUNDLE")
                        or os.environ.get("CURL_CA_BUNDLE")
                        or True
                    )
                    self._session = session
        return self._session

    def close(self) -> None:
        """Close pooled connections; the next request opens a new session."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_session"] = None
        del state["_lock"]
        del state["_sleep"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._sleep = time.sleep

    def __repr__(self) -> str:
        return f"<Transport {self.config.base_url}>"

    # -- building requests

    def proxies_for(self, url: str) -> dict[str, str]:
        """The environment's proxies for this URL's origin (``*_PROXY``, ``NO_PROXY``)."""
        origin = _origin(url)
        proxies = self._proxies.get(origin)
        if proxies is None:
            proxies = self._proxies[origin] = requests.utils.get_environ_proxies(url)
        return proxies

    def url(self, path: str) -> str:
        """The absolute URL of an API path (or the URL itself when already absolute)."""
        return join_url(self.config.base_url, path)

    def is_own_origin(self, url: str) -> bool:
        """Whether ``url`` is on the configured scheme, host and port."""
        return _origin(url) == self.origin

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
        """The Synapse headers of protocol 1.2, for requests to the configured origin."""
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
        return decode_body(response)

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
    ) -> requests.Response:
        """Send with retries and return the successful response (raw, for streaming).

        ``body`` sends raw bytes, or what a factory makes (called anew per attempt: an
        iterable of bytes, or a file-like object with ``__len__``), in place of
        ``data``/``files``. Statuses in ``ok_statuses`` are returned, not raised.
        """
        method = method.upper()
        url = self.url(path)
        if not url.startswith(("http://", "https://")):
            raise InvalidInputError(f"not an http(s) URL: {url!r}")
        if files:
            check_files(files)
        request_headers: dict[str, str] = {}
        if self.is_own_origin(url):
            request_headers.update(self.auth_headers())
        if method in BODY_METHODS and not files and body is None:
            request_headers["Content-Type"] = "application/json"
        request_headers.update(headers or {})
        query = encode_params(params)
        timeouts = Timeout.coerce(timeout if timeout is not None else self.config.timeout)
        retries = self.policy.max_retries if max_retries is None else max_retries
        accepted = frozenset(ok_statuses)

        attempt = 0
        while True:
            try:
                response = self._attempt(
                    method, url, query, request_headers, data, files, body, timeouts, stream,
                    accepted,
                )  # fmt: skip
            except _Failure as failure:
                retryable = failure.retryable and (not failure.sent or method in IDEMPOTENT_METHODS)
                if not retryable or attempt >= retries:
                    raise failure.error from failure.__cause__
                self._wait(method, url, attempt, retries, failure.error.message, None)
                attempt += 1
                continue
            status = response.status_code
            if status < 400 or status in accepted:
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt < retries and self.policy.retries_status(method, status):
                response.close()
                self._wait(method, url, attempt, retries, f"status {status}", retry_after)
                attempt += 1
                continue
            raise self._http_error(method, url, response, retry_after)

    def _attempt(
        self,
        method: str,
        url: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        data: Any,
        files: Mapping[str, FileValue] | None,
        body: Body | None,
        timeout: Any,
        stream: bool,
        accepted: frozenset[int],
    ) -> requests.Response:
        """One request. The body is always streamed, so that an error body is never read
        whole; a success body is read here (unless the caller streams it), inside the
        error mapping, since a connection can break in the middle of it."""
        kwargs: dict[str, Any] = {
            "params": query,
            "headers": headers,
            "timeout": timeout.as_tuple(),
            "stream": True,
            "proxies": self.proxies_for(url),
        }
        try:
            if body is not None:
                kwargs["data"] = body if isinstance(body, bytes) else body()
                response = self.session.request(method, url, **kwargs)
            elif files:
                with _OpenFiles(files) as parts:
                    kwargs["data"] = _form_fields(data)
                    kwargs["files"] = parts
                    response = self.session.request(method, url, **kwargs)
            else:
                if method in BODY_METHODS and data is not None:
                    kwargs["data"] = encode_json(data)
                response = self.session.request(method, url, **kwargs)
            if not stream and (response.status_code < 400 or response.status_code in accepted):
                response.content  # noqa: B018 - read the whole success body now
            return response
        except requests.exceptions.RequestException as exc:
            raise self._failure(method, url, exc, timeout) from exc

    def _failure(
        self, method: str, url: str, exc: requests.exceptions.RequestException, timeout: Any
    ) -> _Failure:
        where: dict[str, Any] = {"method": method, "url": self.config.redact(url)}
        if isinstance(exc, requests.exceptions.TooManyRedirects):
            loop = TooManyRedirectsError(f"more than {MAX_REDIRECTS} redirects", **where)
            return _Failure(loop, sent=True, retryable=False)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            error: ClientError = ClientTimeoutError(
                f"connection timeout (>{timeout.connect}s)", **where
            )
            return _Failure(error, sent=False)
        if isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
            exc, requests.exceptions.ReadTimeout
        ):
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            if isinstance(reason, (NewConnectionError, ConnectTimeoutError)):
                text = "connection refused" if "refused" in str(reason).lower() else "unreachable"
                return _Failure(ClientConnectionError(f"host {text}", **where), sent=False)
        detail = self.config.redact(str(exc))[:200]
        if isinstance(exc, requests.exceptions.ReadTimeout):
            message = f"read timeout (>{timeout.read}s)"
        else:
            message = f"connection broken after the request was sent: {detail}"
        if method in IDEMPOTENT_METHODS:
            if isinstance(exc, requests.exceptions.ReadTimeout):
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
        delay = self.policy.delay(attempt, retry_after, self._random)
        logger.warning(
            "retrying %s %s after %s (retry %d of %d, in %.2fs)",
            method,
            self.config.redact(url),
            why,
            attempt + 1,
            retries,
            delay,
        )
        self._sleep(delay)

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
        self, method: str, url: str, response: requests.Response, retry_after: float | None
    ) -> HTTPError:
        content, cut = _read_bounded(response, MAX_ERROR_BODY)
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

    def iter_content(self, response: requests.Response, chunk_size: int) -> Iterator[bytes]:
        """The body of a streamed response; a broken stream raises ClientConnectionError."""
        try:
            yield from response.iter_content(chunk_size)
        except requests.exceptions.RequestException as exc:
            raise ClientConnectionError(
                f"the download broke off: {self.config.redact(str(exc))[:200]}",
                method="GET",
                url=self.config.redact(response.url or ""),
            ) from exc
        finally:
            response.close()


def decode_body(response: requests.Response) -> Any:
    """``None`` for 204 or an empty body, parsed JSON when it parses, the text otherwise."""
    return _decode(response.content, response.status_code)


def _decode(content: bytes, status: int) -> Any:
    if status == 204 or not content:
        return None
    try:
        return json.loads(content)
    except (ValueError, RecursionError):  # not JSON, or nested past Python's stack
        return content.decode("utf-8", "replace")


def _read_bounded(response: requests.Response, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of a streamed body, and whether there was more. The rest is
    never downloaded: the connection is closed instead of drained."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(16 * 1024):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break
    except requests.exceptions.RequestException:
        pass  # a broken error body still makes an error, from what did arrive
    finally:
        response.close()
    return b"".join(chunks)[:limit], size > limit
