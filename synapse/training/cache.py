"""A content-addressed media cache: files stored by their server checksum, verified
when written, reused by every later export (interrupted downloads resume, and a file
already cached is never fetched again)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from synapse.downloads import download, media_cache_dir

if TYPE_CHECKING:
    from synapse.transport import Transport

__all__ = ["MediaCache"]

_ALGORITHMS = {32: "md5", 40: "sha1", 64: "sha256"}
_HEX = re.compile(r"[0-9a-f]+")


def checksum_algorithm(checksum: object) -> str | None:
    """The hash a checksum was made with, by its length; None if it is not a digest."""
    if not isinstance(checksum, str) or not _HEX.fullmatch(checksum):
        return None
    return _ALGORITHMS.get(len(checksum))


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


class MediaCache:
    """Files by checksum under ``root`` (default: the SDK's cache folder, ``media/by-checksum``)."""

    def __init__(self, transport: Transport, root: str | os.PathLike[str] | None = None) -> None:
        self.transport = transport
        self.root = Path(root) if root is not None else media_cache_dir() / "by-checksum"

    def path(self, checksum: str) -> Path:
        return self.root / checksum[:2] / checksum

    def fetch(self, url: str, checksum: object, dest: Path) -> bool:
        """Put the file at ``dest``; True when it came from the cache.

        A checksum that is not a hex digest cannot be verified: such a file is downloaded
        to ``dest`` and not cached. A download whose bytes do not match the checksum
        raises ``ChecksumMismatchError`` and leaves nothing behind.
        """
        from synapse.errors import ChecksumMismatchError

        algorithm = checksum_algorithm(checksum)
        if algorithm is None:
            download(self.transport, url, dest)
            return False
        assert isinstance(checksum, str)
        cached = self.path(checksum)
        hit = cached.is_file()
        if not hit:
            cached.parent.mkdir(parents=True, exist_ok=True)
            part = cached.with_name(f"{checksum}.{uuid.uuid4().hex[:8]}.tmp")
            try:
                download(self.transport, url, part)
                if file_digest(part, algorithm) != checksum:
                    raise ChecksumMismatchError(
                        f"the downloaded file does not match its checksum {checksum}"
                    )
                part.replace(cached)
            finally:
                part.unlink(missing_ok=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, dest)
        return hit
