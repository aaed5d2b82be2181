"""Client settings, from arguments first and the environment second.

The environment is read when a client is built, never at import, so a notebook can set
``os.environ`` and then build a client. Tokens are held as `Secret` so that they
never show in a ``repr``, a log line or an error message.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from synapse.errors import InvalidInputError

__all__ = [
    "DEFAULT_TIMEOUT",
    "Config",
    "Secret",
    "Timeout",
    "TimeoutLike",
    "mask",
    "mask_url_credentials",
]

ENV_BASE_URL = ("SYNAPSE_BASE_URL", "SYNAPSE_HOST")
ENV_ACCESS_TOKEN = "SYNAPSE_ACCESS_TOKEN"  # noqa: S105 - a variable name
ENV_TENANT = "SYNAPSE_TENANT"
ENV_AGENT_TOKEN = "SYNAPSE_AGENT_TOKEN"  # noqa: S105 - a variable name
ENV_UNKNOWN_FILTERS = "SYNAPSE_UNKNOWN_FILTERS"
ENV_PAGES_IN_FLIGHT = "SYNAPSE_PAGES_IN_FLIGHT"
ENV_PROFILE = "SYNAPSE_PROFILE"
ENV_CONFIG_FILE = "SYNAPSE_CONFIG_FILE"
PROFILE_KEYS = frozenset({"base_url", "access_token", "tenant", "agent_token"})


def config_file(env: Mapping[str, str]) -> Path:
    """``SYNAPSE_CONFIG_FILE``, else ``$XDG_CONFIG_HOME/synapse/config.toml`` (by default
    ``~/.config/synapse/config.toml``)."""
    explicit = env.get(ENV_CONFIG_FILE)
    if explicit:
        return Path(explicit).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "synapse" / "config.toml"


def load_profile(name: str | None, env: Mapping[str, str]) -> dict[str, str]:
    """The settings of a named profile of the config file, as python-gitlab users know it:

    ```toml
    default = "staging"            # used when no profile is named

    [profiles.staging]
    base_url = "https://staging.synapse.example"
    access_token = "..."
    ```

    Nothing is read when no profile is named (by argument, ``SYNAPSE_PROFILE`` or
    ``default``). Tokens from the file are held as secrets like any other; a file that
    others can read gives a warning.
    """
    path = config_file(env)
    if not path.is_file():
        if name:
            raise InvalidInputError(f"profile {name!r} asked for, but {path} does not exist")
        return {}
    if sys.version_info >= (3, 11):  # imported here: only a config file needs it
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"cannot read {path}: not UTF-8 text ({exc.reason})") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from None
    default = document.get("default")
    if default is not None and not isinstance(default, str):
        raise InvalidInputError(f"'default' in {path} must be a profile name, got {default!r}")
    name = name or default
    if not name:
        return {}
    profiles = document.get("profiles", {})
    if not isinstance(profiles, dict):
        raise InvalidInputError(
            f"'profiles' in {path} must be a table of [profiles.NAME], got {profiles!r}"
        )
    if name not in profiles:
        raise InvalidInputError(
            f"no profile {name!r} in {path}; profiles there: {sorted(profiles) or 'none'}"
        )
    settings = profiles[name]
    if not isinstance(settings, dict):
        raise InvalidInputError(f"profiles.{name} in {path} must be a table, got {settings!r}")
    unknown = set(settings) - PROFILE_KEYS
    if unknown:
        raise InvalidInputError(f"profile {name!r} has unknown keys {sorted(unknown)}")
    for key, value in settings.items():
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise InvalidInputError(
                f"profiles.{name}.{key} in {path} must be a string or a number, got {value!r}"
            )
    if os.name == "posix" and path.stat().st_mode & 0o044:
        warnings.warn(
            f"{path} can be read by other users and holds tokens: chmod 600 {path}",
            UserWarning,
            stacklevel=4,
        )
    return {k: str(v) for k, v in settings.items()}


UNKNOWN_FILTER_MODES = ("raise", "warn")


def _warn_mixed(url_from: str, token_from: str) -> None:
    """A profile's base URL with a token from elsewhere (or the other way round) may send
    one environment's credentials to another: say so."""
    warnings.warn(
        f"the base URL comes from the {url_from} and the access token from the "
        f"{token_from}: check that they belong to the same environment (give both in one "
        "place to silence this)",
        UserWarning,
        stacklevel=4,
    )


def mask(value: str) -> str:
    """A masked form that identifies a token without revealing it: ``****abcd``."""
    return f"****{value[-4:]}" if len(value) >= 16 else "****"


# The protocol puts agent tokens in URL paths (``agents/<token>/connect/``).
_AGENT_PATH = re.compile(r"(agents/)([^/?#\s]+)")


def mask_url_credentials(text: str) -> str:
    """``text`` with every token that the protocol puts in a URL path masked."""
    return _AGENT_PATH.sub(lambda m: m.group(1) + mask(m.group(2)), text)


class Secret:
    """A credential. Its ``repr`` and ``str`` are masked; `reveal()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value, for the one place that sends it: the request headers."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({mask(self._value)!r})"

    def __str__(self) -> str:
        return mask(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __getstate__(self) -> str:
        return self._value

    def __setstate__(self, state: str) -> None:
        self._value = state


@dataclass(frozen=True)
class Timeout:
    """Seconds to wait to connect and to read an answer; ``None`` waits forever."""

    connect: float | None = 5.0
    read: float | None = 15.0

    def __post_init__(self) -> None:
        for name in ("connect", "read"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value <= 0
            ):
                raise InvalidInputError(f"timeout {name} must be a positive number, got {value!r}")

    @classmethod
    def coerce(cls, value: TimeoutLike | None) -> Timeout:
        """Accept a Timeout, ``{'connect': 5, 'read': 15}``, ``(5, 15)``, a number or None."""
        if value is None:
            return DEFAULT_TIMEOUT
        if isinstance(value, Timeout):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"connect", "read"}
            if unknown:
                raise InvalidInputError(f"timeout accepts 'connect' and 'read', not {unknown}")
            return cls(
                connect=value.get("connect", DEFAULT_TIMEOUT.connect),
                read=value.get("read", DEFAULT_TIMEOUT.read),
            )
        if isinstance(value, tuple) and len(value) == 2:
            return cls(connect=value[0], read=value[1])
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return cls(connect=value, read=value)
        raise InvalidInputError(
            "timeout must be a number, a (connect, read) tuple, "
            f"a {{'connect': .., 'read': ..}} dict or a Timeout, got {value!r}"
        )

    def as_tuple(self) -> tuple[float | None, float | None]:
        """The form the HTTP library takes."""
        return (self.connect, self.read)


DEFAULT_TIMEOUT = Timeout(connect=5.0, read=15.0)

TimeoutLike = Timeout | Mapping[str, Any] | tuple[Any, Any] | float | int


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_base_url(url: str) -> str:
    """The base URL without a trailing slash, or a clear error; warns on remote plain http."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInputError(
            "no base URL: pass base_url= or set SYNAPSE_BASE_URL "
            "(for example https://api.synapse.sh)"
        )
    url = url.strip()
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise InvalidInputError(f"base URL may not contain spaces or control characters: {url!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise InvalidInputError(f"base URL has an invalid host or port: {url!r} ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInputError(f"base URL must start with http:// or https://, got {url!r}")
    if not parts.hostname:
        raise InvalidInputError(f"base URL has no host: {url!r}")
    if parts.query or parts.fragment:
        raise InvalidInputError(f"base URL may not carry a query or fragment: {url!r}")
    if parts.username or parts.password:
        raise InvalidInputError("base URL may not carry credentials; use access_token=")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        warnings.warn(
            f"base URL {url!r} uses plain http to a remote host: tokens travel unencrypted",
            UserWarning,
            stacklevel=4,
        )
    return url.rstrip("/")


def _secret(value: str | Secret | None) -> Secret | None:
    if value is None or value == "":
        return None
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise InvalidInputError(f"a token must be a string, got {type(value).__name__}")
    value = value.strip()  # read from a file, a token often ends in a newline
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        # Never sent (an HTTP library would quote the whole header in its error).
        raise InvalidInputError("a token holds a space or a control character (not shown)")
    return Secret(value) if value else None


@dataclass(frozen=True)
class Config:
    """Everything a client needs to talk to one backend. Build it with `resolve()`."""

    base_url: str
    access_token: Secret | None = None
    authorization_token: Secret | None = None
    tenant: str | None = None
    agent_token: Secret | None = None
    timeout: Timeout = DEFAULT_TIMEOUT
    max_retries: int = 3
    page_size: int = 100
    #: What a filter name the SDK does not know does: ``"raise"`` (the default: the
    #: backend would ignore it and return everything) or ``"warn"`` and send it.
    unknown_filters: str = "raise"
    #: Page requests kept in flight while a listing is consumed (1: one at a time).
    pages_in_flight: int = 4
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def resolve(
        cls,
        base_url: str | None = None,
        access_token: str | Secret | None = None,
        *,
        authorization_token: str | Secret | None = None,
        tenant: str | None = None,
        agent_token: str | Secret | None = None,
        timeout: TimeoutLike | None = None,
        max_retries: int | None = None,
        page_size: int | None = None,
        unknown_filters: str | None = None,
        pages_in_flight: int | None = None,
        profile: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Config:
        """Merge explicit arguments over the ``SYNAPSE_*`` environment variables, and
        those over a profile of the config file (see `load_profile()`)."""
        env = os.environ if environ is None else environ
        chosen = load_profile(profile or env.get(ENV_PROFILE), env)
        url_from = token_from = "argument"  # noqa: S105 - where a setting came from
        if base_url is None:
            base_url = next((env[name] for name in ENV_BASE_URL if env.get(name)), None)
            url_from = "environment" if base_url else "profile"
            base_url = base_url or chosen.get("base_url")
        if access_token is None:
            access_token = env.get(ENV_ACCESS_TOKEN)
            token_from = "environment" if access_token else "profile"
            access_token = access_token or chosen.get("access_token")
        mixed = url_from != token_from and "profile" in (url_from, token_from)
        if mixed and access_token and base_url:
            _warn_mixed(url_from, token_from)
        if tenant is None:
            tenant = env.get(ENV_TENANT) or chosen.get("tenant")
        if agent_token is None:
            agent_token = env.get(ENV_AGENT_TOKEN) or chosen.get("agent_token")
        if authorization_token is not None:
            warnings.warn(
                "authorization_token is deprecated: use access_token",
                DeprecationWarning,
                stacklevel=3,
            )
        retries = 3 if max_retries is None else max_retries
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidInputError(f"max_retries must be an int >= 0, got {max_retries!r}")
        size = 100 if page_size is None else page_size
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1000:
            raise InvalidInputError(f"page_size must be an int from 1 to 1000, got {page_size!r}")
        where = "unknown_filters"
        if unknown_filters is None:
            unknown_filters = env.get(ENV_UNKNOWN_FILTERS) or "raise"
            where = f"{ENV_UNKNOWN_FILTERS} (environment)"
        if unknown_filters not in UNKNOWN_FILTER_MODES:
            raise InvalidInputError(f"{where} must be 'raise' or 'warn', got {unknown_filters!r}")
        where = "pages_in_flight"
        if pages_in_flight is None:
            from_env = env.get(ENV_PAGES_IN_FLIGHT)
            pages_in_flight = 4
            if from_env:
                where = f"{ENV_PAGES_IN_FLIGHT} (environment)"
                text = from_env.strip()
                if not (text.isascii() and text.lstrip("+-").isdigit()):
                    raise InvalidInputError(
                        f"{where} must be an int from 1 to 32, got {from_env!r}"
                    )
                pages_in_flight = int(text)
        if (
            isinstance(pages_in_flight, bool)
            or not isinstance(pages_in_flight, int)
            or not 1 <= pages_in_flight <= 32
        ):
            raise InvalidInputError(f"{where} must be an int from 1 to 32, got {pages_in_flight!r}")
        return cls(
            base_url=validate_base_url(base_url or ""),
            access_token=_secret(access_token),
            authorization_token=_secret(authorization_token),
            tenant=tenant or None,
            agent_token=_secret(agent_token),
            timeout=Timeout.coerce(timeout),
            max_retries=retries,
            page_size=size,
            unknown_filters=unknown_filters,
            pages_in_flight=pages_in_flight,
        )

    def secrets(self) -> list[str]:
        """The raw credential values, for masking them out of any text."""
        return [
            s.reveal()
            for s in (self.access_token, self.authorization_token, self.agent_token)
            if s is not None
        ]

    def redact(self, text: str) -> str:
        """``text`` with every credential of this config replaced by its masked form."""
        for value in self.secrets():
            if value:
                text = _whole(value).sub(mask(value), text)
        return mask_url_credentials(text)


# A token character: a secret is masked where it stands whole (a path segment, a header
# value, a word), not inside a longer word - a one-letter token must not mask every letter.
_TOKEN_CHAR = r"[A-Za-z0-9_.~-]"  # noqa: S105 - a character class


def _whole(value: str) -> re.Pattern[str]:
    return re.compile(f"(?<!{_TOKEN_CHAR}){re.escape(value)}(?!{_TOKEN_CHAR})")
