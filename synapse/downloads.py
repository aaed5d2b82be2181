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
import os
import re
import uuid
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from synapse.errors import ClientConnectionError, InvalidInputError
from synapse.uploads import cache_dir

if TYPE_CHECKING:
    from synapse.transport import Transport

__all__ = ["convert_urls", "download", "media_cache_dir"]

CHUNK = 64 * 1024  # what a broken connection can lose, at most
_RANGE_TOTAL = re.compile(r"bytes\s+(?:\*|\d+-\d+)/(\d+)")
_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9_-]{1,16}")
_RANGE_START = re.compile(r"bytes\s+(\d+)-\d+/(?:\d+|\*)")


def download(transport: Transport, url: str, dest: str | os.PathLike[str]) -> Path:
    """Stream ``url`` to ``dest`` and return it; resumes with ``Range`` after a failure.

    The bytes go to ``dest`` plus ``.part`` first and are renamed on completion, so
    ``dest`` never holds a partial file. A ``dest`` that is a folder, or whose parent is a
    file, is refused before the first byte. A resumed answer must start where we asked
    (its ``Content-Range``), or the download starts over from byte 0.
    """
    target = _check_dest(dest)
    part = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.part")
    policy = transport.policy
    failures = 0
    have = 0
    try:
        while True:
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                response = transport.send(
                    "GET", url, headers=headers, stream=True, ok_statuses=(416,)
                )
                content_range = response.headers.get("Content-Range", "")
                if response.status_code == 416:
                    match = _RANGE_TOTAL.match(content_range)
                    response.close()
                    if match and int(match.group(1)) == have:
                        break  # we already have every byte
                    have = 0
                    part.unlink(missing_ok=True)
                    raise ClientConnectionError("the server refused to resume the download")
                resumed = response.status_code == 206 and have > 0
                if resumed and _range_start(content_range) != have:
                    response.close()
                    have = 0
                    part.unlink(missing_ok=True)
                    raise ClientConnectionError(
                        f"the server resumed at {content_range!r}, not at byte {have}"
                    )
                if not resumed:
                    have = 0
                with open(part, "ab" if resumed else "wb") as out:
                    for block in transport.iter_content(response, CHUNK):
                        out.write(block)
                        have += len(block)
                expected = response.headers.get("Content-Length")
                if expected is not None and response.status_code == 200 and int(expected) != have:
                    raise ClientConnectionError("the download ended early")
                break
            except ClientConnectionError:
                failures += 1
                if failures > policy.max_retries:
                    raise
                policy.wait(failures - 1)
                have = part.stat().st_size if part.exists() else 0
        part.replace(target)
        return target
    finally:
        part.unlink(missing_ok=True)


def _check_dest(dest: str | os.PathLike[str]) -> Path:
    target = Path(dest)
    if target.is_dir():
        raise InvalidInputError(f"download destination is a folder, not a file path: {target}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InvalidInputError(
            f"cannot download to {target}: a file stands where its folder should be"
        ) from None
    return target


def _range_start(content_range: str) -> int | None:
    match = _RANGE_START.match(content_range)
    return int(match.group(1)) if match else None


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
