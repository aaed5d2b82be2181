"""Local paths built from server data.

A file specification name, an original file name or the last segment of a URL is chosen
by whoever filled the server, so it is untrusted input: ``../../x``, ``/etc/passwd``,
``C:\\x``, ``..`` or a name with control characters must never decide where bytes land.
`safe_component()` reduces any such text to one harmless path component, and
`path_inside()` joins components under a destination and refuses anything that would
still resolve outside it (a symlink planted inside the destination, for instance).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Container
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from synapse.errors import UnsafePathError

__all__ = [
    "MAX_COMPONENT_BYTES",
    "names_folder",
    "path_inside",
    "safe_component",
    "unique_path",
    "url_basename",
]

MAX_COMPONENT_BYTES = 200  # below every common file system's 255-byte name limit
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
)


def safe_component(name: object, fallback: str = "file") -> str:
    """One path component made from untrusted text, never ``.``, ``..`` or empty.

    Separators, drive colons and control characters become ``_``; leading dots and
    spaces are dropped (no hidden files, no ``..``); a name over
    `MAX_COMPONENT_BYTES` bytes is shortened keeping its suffix. ``fallback`` (which
    must itself be safe) is used when nothing is left.
    """
    text = unicodedata.normalize("NFC", str(name)) if name is not None else ""
    text = _UNSAFE.sub("_", text).strip().lstrip(". ").rstrip(". ")
    if text.split(".")[0].upper() in _WINDOWS_RESERVED:
        text = f"_{text}"
    text = _shorten(text)
    if not text:
        if safe_component(fallback, "file") != fallback:
            raise ValueError(f"fallback {fallback!r} is not a safe path component")
        return fallback
    return text


def _shorten(text: str) -> str:
    if len(text.encode("utf-8")) <= MAX_COMPONENT_BYTES:
        return text
    stem, dot, suffix = text.rpartition(".")
    if not dot or len(suffix.encode("utf-8")) > 16:
        stem, suffix = text, ""
    budget = MAX_COMPONENT_BYTES - len(suffix.encode("utf-8")) - (1 if suffix else 0)
    cut = stem.encode("utf-8")[:budget].decode("utf-8", "ignore")
    return f"{cut}.{suffix}" if suffix else cut


def names_folder(dest: str | os.PathLike[str]) -> bool:
    """Whether ``dest`` means a folder: one that exists, or a path written with a
    trailing separator (``"models/"``, which `Path` would silently drop)."""
    text = os.fspath(dest)
    separators = tuple(s for s in (os.sep, os.altsep) if s)
    return Path(text).is_dir() or (isinstance(text, str) and text.endswith(separators))


def path_inside(dest: str | os.PathLike[str], *components: str) -> Path:
    """``dest`` joined with already-safe components, checked to stay inside ``dest``.

    Raises [`UnsafePathError`][synapse.errors.UnsafePathError] when the result (symlinks resolved)
    is not below ``dest``: a component that was not made safe, or a link placed in the
    destination that points elsewhere.
    """
    root = Path(dest).resolve()
    target = root.joinpath(*components)
    resolved = target.resolve()
    if resolved == root or root not in resolved.parents:
        raise UnsafePathError(
            f"refusing to write {target}: it resolves outside the destination {root}"
        )
    return target


def url_basename(url: str) -> str:
    """The last segment of a URL's path, percent-decoded: untrusted, pass it through
    `safe_component()` before it names anything."""
    return PurePosixPath(unquote(urlsplit(url).path)).name


def unique_path(path: Path, taken: Container[Path]) -> Path:
    """``path``, or ``stem-2.suffix``, ``stem-3.suffix``... if ``taken`` holds it already."""
    candidate, n = path, 1
    while candidate in taken:
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate
