"""Safe downloads: streamed to disk, resumed with ``Range`` after a broken connection,
renamed into place only when complete. Storage URLs on another host get no Synapse
credentials (the transport sends them to the configured origin only).

Also [`convert_urls()`][synapse.downloads.convert_urls], the old package's ``url_conversion``: URLs
in
chosen fields of an answer are replaced by local paths of the downloaded files, cached by
the URL without its query string, so re-signed URLs of one object hit the cache.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import uuid
from collections.abc import Callable, Generator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote, urlsplit

from synapse.errors import (
    ChecksumMismatchError,
    ClientConnectionError,
    ClientError,
    ClientTimeoutError,
    HTTPError,
    InvalidInputError,
)
from synapse.paths import names_folder
from synapse.steps import Wait, run_steps
from synapse.transport import Call
from synapse.uploads import cache_dir
from synapse.urls import without_query

if TYPE_CHECKING:
    from synapse.retry import RetryPolicy
    from synapse.transport import Transport

__all__ = ["Fetch", "convert_urls", "download", "download_steps", "media_cache_dir"]

logger = logging.getLogger("synapse")

CHUNK = 64 * 1024  # what a broken connection can lose, at most
_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\Z")
_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9_-]{1,16}")
_HASHES = {32: "md5", 40: "sha1", 64: "sha256"}  # by the length of a hex digest


def download(
    transport: Transport,
    url: str,
    dest: str | os.PathLike[str],
    *,
    size: int | None = None,
    checksum: str | None = None,
) -> Path:
    """Stream ``url`` to ``dest`` and return it; resumes with ``Range`` after a failure.

    The bytes go to ``dest`` plus ``.part`` first and are renamed on completion, so
    ``dest`` never holds a partial file. A ``dest`` that is a folder, or whose parent is a
    file, is refused before the first byte. The download is complete only when its size
    says so: the ``Content-Length`` of a whole answer, the total of a ``Content-Range``,
    and ``size`` when the caller knows it; a resumed answer must start where we asked
    and keep the total, or the download starts over. ``checksum`` (an MD5, SHA-1 or
    SHA-256 hex digest, as a data file's) is checked before the rename.
    """
    steps = download_steps(transport.policy, url, dest, size, checksum)
    return run_steps(steps, transport.policy.sleep, lambda fetch: _fetch_once(transport, fetch))


@dataclass(frozen=True)
class Fetch:
    """A step of a download: one request, its body appended to ``part``."""

    url: str
    part: Path
    state: _Progress

    def call(self) -> Call:
        """The request: the rest of the file from what is on disk, streamed, sent
        without retries of its own (the download's steps retry, within one budget)."""
        return Call(
            "GET",
            self.url,
            headers=_range_headers(self.state),
            stream=True,
            ok_statuses=(416,),
            max_retries=0,
        )


def download_steps(
    policy: RetryPolicy,
    url: str,
    dest: str | os.PathLike[str],
    size: int | None,
    checksum: str | None,
) -> Generator[Fetch | Wait, Any, Path]:
    """The download as steps for a driver (its retries, restarts and final checks); a
    ``dest`` that cannot be written is refused now, before any step."""
    target = _check_dest(dest)
    return _download_steps(policy, url, target, size, checksum)


def _download_steps(
    policy: RetryPolicy, url: str, target: Path, size: int | None, checksum: str | None
) -> Generator[Fetch | Wait, Any, Path]:
    part = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.part")
    state = _Progress(url, size)
    failures = 0
    try:
        while not state.done:
            try:
                yield Fetch(url, part, state)
            except (ClientConnectionError, ClientTimeoutError, HTTPError) as exc:
                # The one retry budget: each fetch is sent without retries of its own.
                status = exc.status_code if isinstance(exc, HTTPError) else None
                if status is not None and not policy.retries_status("GET", status):
                    raise
                failures += 1
                if failures > policy.max_retries:
                    raise
                if state.have == 0:  # starting over: nothing on disk counts
                    part.unlink(missing_ok=True)
                state.have = part.stat().st_size if part.exists() else 0
                retry_after = exc.retry_after if isinstance(exc, HTTPError) else None
                delay = policy.delay(failures - 1, retry_after, "GET", status)
                logger.warning(
                    "retrying the download of %s after %s (retry %d of %d, in %.2fs)",
                    without_query(url), exc.message, failures, policy.max_retries, delay,
                )  # fmt: skip
                yield Wait(delay)
        if checksum is not None:
            _verify(part, checksum, url)
        part.replace(target)
        return target
    finally:
        part.unlink(missing_ok=True)


class _Progress:
    """What a download has on disk (``have``) against the size it must reach (``total``,
    once an answer or the caller said it)."""

    def __init__(self, url: str, size: int | None) -> None:
        self.url = url
        self.have = 0
        self.known = size  # the caller's: it outranks what any answer says
        self.total = size
        self.done = False
        #: The version of the file being read (its ``ETag``), asked for again on resume.
        self.etag: str | None = None

    def learn_total(self, total: int | None) -> None:
        if total is None:
            return
        if self.known is not None and total != self.known:
            self.have = 0
            raise ClientConnectionError(
                f"the server sends a {total}-byte file where {self.known} bytes are expected"
            )
        if self.total is not None and total != self.total:
            announced, self.total, self.have = self.total, None, 0  # another file now
            raise ClientConnectionError(
                f"the file changed during the download: {total} bytes where "
                f"{announced} were announced; starting over"
            )
        self.total = total

    def finish(self) -> None:
        if self.total is None or self.have == self.total:
            self.done = True
            return
        if self.have > self.total:
            sent, self.have = self.have, 0
            raise ClientConnectionError(
                f"the download sent {sent} bytes of a {self.total}-byte file; starting over"
            )
        raise ClientConnectionError(f"the download ended at byte {self.have} of {self.total}")


def _fetch_once(transport: Transport, fetch: Fetch) -> None:
    """One request of a download: whole, or the rest from ``state.have``."""
    state = fetch.state
    response = transport.perform(fetch.call())
    try:
        end = _begin(state, fetch.url, fetch.part, response.status_code, response.headers)
        if end == _NOTHING:
            return
        with _open_part(fetch.part, state) as out:
            for block in transport.iter_content(response, CHUNK):
                out.write(block)
                state.have += len(block)
        _end(state, end)
    finally:
        response.close()


#: What `_begin` says when the answer completes the file without a body (a 416).
_NOTHING = -1


def _range_headers(state: _Progress) -> dict[str, str]:
    """The headers of the next request: the rest from ``state.have``, of this version."""
    asked = state.have
    headers = {"Range": f"bytes={asked}-"} if asked else {}
    if asked and state.etag:  # the rest of this version, or the whole of a newer one
        headers["If-Range"] = state.etag
    return headers


def _begin(
    state: _Progress, url: str, part: Path, status: int, headers: Mapping[str, str]
) -> int | None:
    """Check an answer before its body is written: the byte its body must reach
    (``None``: unknown), or `_NOTHING` when it completed the download without one; a
    broken promise raises (a `ClientConnectionError` to start over)."""
    asked = state.have
    first, last, total = _content_range(headers.get("Content-Range"), url)
    etag = headers.get("ETag")
    if asked and state.etag and etag and etag != state.etag and status == 206:
        state.have = 0  # a part of another version: what we have cannot be completed
        raise ClientConnectionError("the file changed during the download; starting over")
    if etag and (status == 200 or (status == 206 and not asked)):
        state.etag = etag  # the version whose bytes are now being written
    if status == 416:
        # Nothing left to send from ``asked``: complete if the file is that size.
        if total is None or total != asked:
            state.have = 0
            raise ClientConnectionError("the server refused to resume the download")
        state.learn_total(total)
        part.touch()
        state.finish()
        return _NOTHING
    if status == 206:
        if total is None:
            raise ClientError(
                f"the server sent part of {without_query(url)} without the file's size "
                f"({headers.get('Content-Range')!r}): it cannot be completed"
            )
        if first is None or first != asked:
            state.have = 0  # not where we asked: start over from byte 0
            raise ClientConnectionError(
                f"the server resumed at {headers.get('Content-Range')!r}, not at byte {asked}"
            )
        state.learn_total(total)
        return None if last is None else last + 1
    # a whole answer, from byte 0 whatever we asked
    state.have = 0
    length = _content_length(headers.get("Content-Length"), url)
    if headers.get("Content-Encoding", "identity") == "identity":
        state.learn_total(length)
    return state.total


def _open_part(part: Path, state: _Progress) -> BinaryIO:
    """The partial file, to append to what it holds (``state.have`` bytes) or anew."""
    return open(part, "ab" if state.have else "wb")


def _end(state: _Progress, end: int | None) -> None:
    """After the body: complete, or a broken connection to resume."""
    if end is not None and state.have < end:
        raise ClientConnectionError(f"the download ended at byte {state.have} of {end}")
    state.finish()


def _content_range(value: str | None, url: str) -> tuple[int | None, int | None, int | None]:
    """``(first, last, total)`` of a ``Content-Range`` (None where absent or ``*``)."""
    if value is None:
        return None, None, None
    match = _CONTENT_RANGE.match(value.strip())
    if not match:
        raise ClientError(
            f"the server sent an invalid Content-Range {value[:60]!r} for {without_query(url)}"
        )
    first, last, total = match.groups()
    return _number(first), _number(last), _number(total)


def _number(text: str | None) -> int | None:
    return None if text is None or text == "*" else int(text)


def _content_length(value: str | None, url: str) -> int | None:
    if value is None:
        return None
    if not (value.strip().isascii() and value.strip().isdigit()):
        raise ClientError(
            f"the server sent an invalid Content-Length {value[:40]!r} for {without_query(url)}"
        )
    return int(value)


def _verify(part: Path, checksum: str, url: str) -> None:
    """Raise unless the file's digest is ``checksum`` (algorithm by the digest's length)."""
    name = _HASHES.get(len(checksum))
    if name is None or not all(c in "0123456789abcdefABCDEF" for c in checksum):
        return  # not a digest we know: nothing to check it with
    digest = hashlib.new(name)
    with open(part, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != checksum.lower():
        raise ChecksumMismatchError(
            f"the download of {without_query(url)} has {name} {digest.hexdigest()}, not {checksum}"
        )


def _check_dest(dest: str | os.PathLike[str]) -> Path:
    target = Path(dest)
    if names_folder(dest):
        raise InvalidInputError(f"download destination is a folder, not a file path: {dest}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InvalidInputError(
            f"cannot download to {target}: a file stands where its folder should be"
        ) from None
    return target


def media_cache_dir() -> Path:
    """Where [`convert_urls()`][synapse.downloads.convert_urls] keeps downloaded files."""
    return cache_dir() / "media"


def _cached_path(url: str) -> Path:
    parts = urlsplit(url)
    without_query = parts._replace(query="", fragment="").geturl()
    suffix = PurePosixPath(unquote(parts.path)).suffix
    if not _SAFE_SUFFIX.fullmatch(suffix):
        suffix = ""  # the name is our digest; the server only lends a short plain suffix
    digest = hashlib.md5(without_query.encode()).hexdigest()
    return media_cache_dir() / f"{digest}{suffix}"


def _local_copy(transport: Transport, value: str) -> str:
    if value.startswith("data:"):
        header, _, payload = value.partition(",")
        try:
            data = base64.b64decode(payload) if ";base64" in header else unquote(payload).encode()
        except (binascii.Error, ValueError) as exc:
            raise InvalidInputError(f"invalid data URI: {exc}") from exc
        digest = hashlib.md5(data).hexdigest()
        path = media_cache_dir() / digest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return str(path)
    if not value.startswith(("http://", "https://")):
        return value  # already local
    path = _cached_path(value)
    if not path.exists():
        download(transport, value, path)
    return str(path)


def _convert_field(transport: Transport, value: Any, coerce: Callable[[str], Any] | None) -> Any:
    def local(url: str) -> Any:
        path = _local_copy(transport, url)
        return coerce(path) if coerce else path

    if isinstance(value, str):
        return local(value)
    if isinstance(value, MutableMapping):
        for name, entry in list(value.items()):
            if isinstance(entry, str):
                value[name] = local(entry)
            elif isinstance(entry, MutableMapping) and isinstance(entry.get("url"), str):
                entry["path"] = local(entry.pop("url"))
        return value
    if value is None:
        return value
    raise TypeError(f"url_conversion handles a URL or a dict of files, not {type(value).__name__}")


def convert_urls(transport: Transport, answer: Any, spec: Mapping[str, Any]) -> Any:
    """Apply the old package's ``url_conversion`` (``files_fields``, ``is_list``,
    ``coerce``) to an answer, in place, and return it."""
    if not isinstance(answer, MutableMapping):
        return answer
    fields = list(spec.get("files_fields") or [])
    coerce = spec.get("coerce")
    objects = answer["results"] if spec.get("is_list") else [answer]
    for obj in objects:
        for dotted in fields:
            *parents, last = dotted.split(".")
            holder: Any = obj
            for name in parents:
                holder = holder.get(name) if isinstance(holder, Mapping) else None
            if isinstance(holder, MutableMapping) and last in holder:
                holder[last] = _convert_field(transport, holder[last], coerce)
    return answer
