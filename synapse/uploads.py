"""The chunked upload engine: the only code that speaks the chunked-upload protocol.

Protocol 4.1: each chunk is a multipart PUT (a ``filename`` field and a ``file`` part) with
``Content-Range: bytes <start>-<end>/<total>``, sent to the ``url`` the server returned
last; a POST of ``{"md5": ...}`` to that URL finalizes.

What this engine adds:

- **Streaming, one pass.** Each chunk streams from disk into the request body; the MD5 is
  updated from the same reads. Memory does not grow with the chunk size.
- **Never re-sends a byte the server has, never skips one.** After any failure or
  ambiguous answer it asks ``GET chunked_upload/{id}/`` for the server's offset and goes on
  from there, within the retry budget and backoff of the transport's policy. A finalize
  whose answer was lost is settled by reading the upload's state.
- **Resume across processes.** With ``resume=True`` (the default for files over one
  chunk), a journal in the user cache directory remembers the upload, so running the same
  upload again after a crash continues it: the already-sent prefix is hashed locally and
  only the rest is sent. A changed file (size or mtime) starts a new upload.
- **Empty files.** Nothing is PUT: the finalize POST goes to ``chunked_upload/`` itself with
  the MD5 of empty input and the file name, and the server answers a completed upload.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synapse.encoding import check_readable
from synapse.errors import (
    ChecksumMismatchError,
    ClientConnectionError,
    ClientError,
    ClientResponseIncompleteError,
    ClientTimeoutError,
    HTTPError,
    InvalidInputError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from synapse.protocol import UPLOAD_CHUNK_SIZE
from synapse.steps import PAUSE, Pause, Send, Wait, drive
from synapse.transport import Call
from synapse.urls import build_path

if TYPE_CHECKING:
    from synapse.transport import Transport

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "ChunkedUploader",
    "Progress",
    "Steps",
    "cache_dir",
]

DEFAULT_CHUNK_SIZE = UPLOAD_CHUNK_SIZE  # 52,428,800 bytes, as the backend expects
READ_BLOCK = 1024 * 1024
AMBIGUOUS = (ClientConnectionError, ClientTimeoutError, ServerError, RateLimitError)

ProgressCallback = Callable[[int, int], None]


def cache_dir() -> Path:
    """The SDK's cache folder: ``SYNAPSE_CACHE_DIR``, else the user's cache directory."""
    explicit = os.environ.get("SYNAPSE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "synapse" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "synapse"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "synapse"


class Progress:
    """Reports bytes done to a callback and/or a tqdm bar; monotone, ends at the total."""

    def __init__(
        self, total: int, callback: ProgressCallback | None, bar: bool, label: str
    ) -> None:
        self.total = total
        self.callback = callback
        self.done = -1
        self.bar: Any = None
        if bar:
            from synapse.progress import progress_bar

            self.bar = progress_bar(total, unit="B", unit_scale=True, desc=label)

    def update(self, done: int) -> None:
        if done <= self.done:
            return
        if self.bar is not None:
            self.bar.update(done - max(self.done, 0))
        self.done = done
        if self.callback is not None:
            self.callback(done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _ChunkBody:
    """A multipart body streamed from a slice of a file, hashing the bytes it reads."""

    def __init__(self, path: Path, start: int, length: int, filename: str, hasher: Any) -> None:
        self.boundary = uuid.uuid4().hex
        name = json.dumps(filename)[1:-1]  # keeps quotes and newlines out of the form field
        self.preamble = (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="filename"\r\n\r\n'
            f"{name}\r\n--{self.boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="file"\r\n\r\n'
        ).encode()
        self.epilogue = f"\r\n--{self.boundary}--\r\n".encode()
        self.path = path
        self.start = start
        self.length = length
        self.hasher = hasher
        self.hashed_to = start  # file offset the hasher has consumed
        self._file: Any = None
        self._piece = memoryview(b"")
        self._stage = 0  # 0 preamble, 1 file bytes, 2 epilogue, 3 done
        self._left = length

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self.preamble) + self.length + len(self.epilogue)

    def per_attempt(self) -> _ChunkBody:
        """The body factory a request calls on each attempt: this body (the transport
        rewinds nothing; a retried chunk is sent again by the chunk loop)."""
        return self

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes of the body (all the rest without a size); ``b""`` at the end."""
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(READ_BLOCK), b""))
        while not self._piece and self._stage < 3:
            self._piece = memoryview(self._next_piece())
        out, self._piece = self._piece[:size], self._piece[size:]
        return bytes(out)

    def _next_piece(self) -> bytes:
        if self._stage == 0:
            self._stage = 1
            return self.preamble
        if self._stage == 1:
            if self._left == 0:
                self._stage = 2
                if self._file is not None:
                    self._file.close()
                return b""
            if self._file is None:
                self._file = open(self.path, "rb")  # noqa: SIM115 - closed at the end
                self._file.seek(self.start)
            block: bytes = self._file.read(min(READ_BLOCK, self._left))
            if not block:
                raise InvalidInputError(f"{self.path} shrank while it was being uploaded")
            self._left -= len(block)
            self.hasher.update(block)
            self.hashed_to += len(block)
            return block
        self._stage = 3
        return self.epilogue

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _hash_range(path: Path, hasher: Any, start: int, end: int) -> Generator[Pause, Any, None]:
    """Feed bytes ``[start, end)`` of the file to the hasher (a local read, nothing sent),
    pausing after each block: an event loop is not held for the whole prefix."""
    with open(path, "rb") as source:
        source.seek(start)
        left = end - start
        while left > 0:
            block = source.read(min(READ_BLOCK, left))
            if not block:
                raise InvalidInputError(f"{path} shrank while it was being uploaded")
            hasher.update(block)
            left -= len(block)
            yield PAUSE


@dataclass
class _Journal:
    """Remembers unfinished uploads so that a later process can continue them."""

    directory: Path

    def key(self, base_url: str, path: Path, chunk_size: int) -> str:
        stat = path.stat()
        ident = f"{base_url}|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{chunk_size}"
        return hashlib.sha256(ident.encode()).hexdigest()

    def load(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.directory / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def save(self, key: str, entry: Mapping[str, Any]) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self.directory / f"{key}.json"
        temporary = target.with_suffix(".tmp")
        # Owner only: an entry names the upload URL and the local path of the file.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        if hasattr(os, "fchmod"):  # a leftover temporary file keeps its old mode otherwise
            os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(json.dumps(dict(entry)))
        temporary.replace(target)

    def remove(self, key: str) -> None:
        (self.directory / f"{key}.json").unlink(missing_ok=True)


#: The chunked-upload protocol as a generator of steps, returning the finalized upload:
#: every decision is made there; `run_steps` and `synapse.aio.transfers.arun_steps` only
#: send, wait and feed back what happened.
Steps = Generator[Send | Wait | Pause, Any, dict[str, Any]]


class ChunkedUploader:
    """Uploads one file with the chunked protocol; see the module docstring."""

    def __init__(
        self,
        transport: Transport,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        journal_dir: Path | None = None,
    ) -> None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise InvalidInputError(f"chunk_size must be a positive int, got {chunk_size!r}")
        self.transport = transport
        self.chunk_size = chunk_size
        self.journal = _Journal(journal_dir or cache_dir() / "uploads")

    def upload(
        self,
        path: str | os.PathLike[str],
        *,
        resume: bool | None = None,
        on_progress: ProgressCallback | None = None,
        progress: bool = False,
        timeout: Any = None,
    ) -> dict[str, Any]:
        """Upload ``path`` and return the finalized upload (``id``, ``checksum``...)."""
        steps = self.steps(
            path, resume=resume, on_progress=on_progress, progress=progress, timeout=timeout
        )
        return drive(self.transport, steps)

    def steps(
        self,
        path: str | os.PathLike[str],
        *,
        resume: bool | None = None,
        on_progress: ProgressCallback | None = None,
        progress: bool = False,
        timeout: Any = None,
    ) -> Steps:
        """The upload of ``path`` as steps for a driver; the path is checked now, before
        any step."""
        file = check_readable(path)
        total = file.stat().st_size
        if resume is None:
            resume = total > self.chunk_size
        return self._steps(file, total, resume, on_progress, progress, timeout)

    def _steps(
        self,
        file: Path,
        total: int,
        resume: bool,
        on_progress: ProgressCallback | None,
        progress: bool,
        timeout: Any,
    ) -> Steps:
        meter = Progress(total, on_progress, progress, file.name)
        try:
            if total == 0:
                state = yield from self._finalize(
                    "chunked_upload/",
                    None,
                    hashlib.md5().hexdigest(),
                    file,
                    timeout,
                )
                meter.update(0)
                return state
            return (yield from self._upload(file, total, resume, meter, timeout))
        finally:
            meter.close()

    # ------------------------------------------------------------------ the loop

    def _upload(self, file: Path, total: int, resume: bool, meter: Progress, timeout: Any) -> Steps:
        key = self.journal.key(self.transport.config.base_url, file, self.chunk_size)
        hasher = hashlib.md5()
        url, upload_id, offset = "chunked_upload/", None, 0
        entry = self.journal.load(key) if resume else None
        if entry is not None:
            resumed = yield from self._resume(entry, file, total, hasher, timeout)
            if resumed is not None:
                if "completed" in resumed:
                    self.journal.remove(key)
                    meter.update(total)
                    completed: dict[str, Any] = resumed["completed"]
                    return completed
                url, upload_id, offset = entry["url"], entry["id"], resumed["offset"]
                meter.update(offset)
            else:
                self.journal.remove(key)
        policy = self.transport.policy
        failures = 0
        while offset < total:
            length = min(self.chunk_size, total - offset)
            checkpoint = hasher.copy()
            body = _ChunkBody(file, offset, length, file.name, hasher)
            error: ClientError | None = None
            answer: Any = None
            try:
                answer = yield Send(
                    Call(
                        "PUT",
                        url,
                        body=body.per_attempt,
                        headers={
                            "Content-Type": body.content_type,
                            "Content-Length": str(len(body)),  # (httpx: not chunked)
                            "Content-Range": f"bytes {offset}-{offset + length - 1}/{total}",
                        },
                        timeout=timeout,
                        max_retries=0,
                    )
                )
            except ValidationError as exc:
                if not isinstance(exc.response, Mapping) or "offset" not in exc.response:
                    raise
                error = exc  # an offset mismatch: the server says where it is
            except AMBIGUOUS as exc:
                error = exc
            finally:
                body.close()
            if error is None:
                upload_id, url, server_offset = _chunk_answer(answer)
                url = self.transport.on_own_origin(url)
                if offset == 0 and resume:
                    self.journal.save(key, {"id": upload_id, "url": url, "path": str(file)})
                if server_offset == offset + length:
                    offset = server_offset
                    failures = 0
                    meter.update(offset)
                    continue
                error = ClientError(
                    f"the server stored up to {server_offset}, not {offset + length}"
                )
            failures += 1
            if failures > policy.max_retries:
                raise error
            retry_after = error.retry_after if isinstance(error, RateLimitError) else None
            yield Wait(policy.delay(failures - 1, retry_after))
            if upload_id is None:
                hasher = checkpoint  # nothing is known on the server: begin again
                offset, url = 0, "chunked_upload/"
                continue
            server_offset = _offset((yield from self._state(url, timeout)), total)
            if server_offset == body.hashed_to:
                pass  # the hasher already covers exactly what the server has
            elif offset <= server_offset <= offset + length:
                hasher = checkpoint
                yield from _hash_range(file, hasher, offset, server_offset)
            else:
                hasher = hashlib.md5()
                yield from _hash_range(file, hasher, 0, server_offset)
            offset = server_offset
            meter.update(offset)
        state = yield from self._finalize(url, upload_id, hasher.hexdigest(), file, timeout)
        self.journal.remove(key)
        return state

    def _resume(
        self, entry: Mapping[str, Any], file: Path, total: int, hasher: Any, timeout: Any
    ) -> Generator[Send | Wait | Pause, Any, dict[str, Any] | None]:
        """Where a journaled upload stands: its offset (prefix hashed), or its completion."""
        try:
            state = yield from self._state(str(entry["url"]), timeout)
        except KeyError:
            return None
        except HTTPError as exc:
            if exc.status_code in (400, 404, 410):  # expired or unknown: start afresh
                return None
            raise
        try:
            offset = _offset(state, total)
        except ClientError:
            return None  # a journal the server no longer matches: start afresh
        yield from _hash_range(file, hasher, 0, offset)
        if state.get("completed_at"):
            if state.get("checksum") not in (None, hasher.hexdigest()) or offset != total:
                return None
            return {"completed": state}
        return {"offset": offset}

    def _state(self, url: str, timeout: Any, max_retries: int | None = None) -> Steps:
        state = yield Send(Call("GET", url, timeout=timeout, max_retries=max_retries))
        if not isinstance(state, dict):
            raise ClientError(f"unexpected chunked upload state: {state!r:.100}")
        return state

    def _finalize(self, url: str, upload_id: Any, md5: str, file: Path, timeout: Any) -> Steps:
        policy = self.transport.policy
        body: dict[str, Any] = {"md5": md5}
        if upload_id is None:
            body["filename"] = file.name
        failures = 0
        # A finalize that reached the server without an answer is never sent again (a
        # second one makes a duplicate): only the upload's state is asked, until it says
        # complete or the retry budget is spent.
        delivered: ClientError | None = None
        while True:
            error: ClientError
            if delivered is None:
                try:
                    answer = yield Send(
                        Call("POST", url, data=body, timeout=timeout, max_retries=0)
                    )
                except ValidationError as exc:
                    if "md5" in str(exc).lower() or "checksum" in str(exc).lower():
                        raise ChecksumMismatchError(
                            f"the server's MD5 of {file.name} does not match the file's ({md5})",
                            status_code=exc.status_code,
                            response=exc.response,
                            method=exc.method,
                            url=exc.url,
                        ) from exc
                    raise
                except AMBIGUOUS as exc:
                    error = exc
                    if isinstance(exc, ClientResponseIncompleteError) and upload_id is not None:
                        delivered = exc
                else:
                    if not isinstance(answer, dict) or "id" not in answer:
                        raise ClientError(f"unexpected finalize answer: {answer!r:.100}")
                    return answer
            else:
                error = delivered
            failures += 1
            if upload_id is not None:
                try:  # (without retries of its own: the loop's budget counts)
                    state = yield from self._state(url, timeout, max_retries=0)
                except AMBIGUOUS:
                    state = {}
                if state.get("completed_at"):
                    return state
            if failures > policy.max_retries:
                raise error
            retry_after = error.retry_after if isinstance(error, RateLimitError) else None
            yield Wait(policy.delay(failures - 1, retry_after))


def _offset(state: Mapping[str, Any], total: int) -> int:
    """The server's offset of an upload, checked: a whole number of bytes of the file."""
    offset = state.get("offset")
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= total:
        raise ClientError(
            f"unexpected chunked upload state: offset {offset!r:.50} of a {total}-byte file"
        )
    return offset


def _chunk_answer(answer: Any) -> tuple[Any, str, int]:
    if not isinstance(answer, Mapping):
        raise ClientError(f"unexpected chunk answer: {answer!r:.100}")
    upload_id, url, offset = answer.get("id"), answer.get("url"), answer.get("offset")
    if upload_id is None or not isinstance(url, str) or not isinstance(offset, int):
        raise ClientError(f"a chunk answer needs id, url and offset, got {dict(answer)!r:.200}")
    return upload_id, url, offset


def upload_file(
    transport: Transport,
    path: str | os.PathLike[str],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    resume: bool | None = None,
    on_progress: ProgressCallback | None = None,
    progress: bool = False,
    timeout: Any = None,
) -> dict[str, Any]:
    """Upload a file with the resumable chunked protocol; the finalized upload (its
    ``id`` is what ``data_files`` and ``models`` take as ``chunked_upload``)."""
    uploader = ChunkedUploader(transport, chunk_size=chunk_size)
    return uploader.upload(
        path, resume=resume, on_progress=on_progress, progress=progress, timeout=timeout
    )


def upload_state(transport: Transport, upload_id: Any) -> Any:
    """``GET chunked_upload/{id}/``: how far an upload got (``offset``, ``completed_at``)."""
    return transport.request("GET", build_path("chunked_upload/{}/", upload_id))
