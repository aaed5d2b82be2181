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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from synapse.errors import InvalidInputError

__all__ = [
    "DEFAULT_TIMEOUT",
    "SETTINGS",
    "Config",
    "Secret",
    "Setting",
    "Timeout",
    "TimeoutLike",
    "mask",
    "mask_url_credentials",
]

ENV_PROFILE = "SYNAPSE_PROFILE"
ENV_CONFIG_FILE = "SYNAPSE_CONFIG_FILE"


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
    unknown = set(settings) - {s.name for s in SETTINGS if s.in_profile}
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


def _warn_mixed(url_from: str, token_from: str) -> None:
    """A profile's base URL with a token from elsewhere (or the other way round) may send
    one environment's credentials to another: say so."""
    warnings.warn(
        f"the base URL comes from the {url_from} and the access token from the "
        f"{token_from}: check that they belong to the same environment (give both in one "
        "place to silence this)",
        UserWarning,
        stacklevel=5,
    )


def mask(value: str) -> str:
    """A masked form that identifies a token without revealing it: ``****abcd``."""
    return f"****{value[-4:]}" if len(value) >= 16 else "****"


# The protocol puts agent tokens in URL paths (``agents/<token>/connect/``).
_AGENT_PATH = re.compile(r"(agents/)([^/?#\s]+)")


#: A query parameter that signs or authorizes a URL (S3's ``X-Amz-Signature``, GCS's
#: ``X-Goog-Credential``, Azure's ``sig``...), by what its name holds, with its value.
_SECRET_PARAM = re.compile(
    r"([?&])((?:[^=&\s?#]*(?:signature|credential|token|secret|password)[^=&\s?#]*)|sig|key)"
    r"=([^&\s#\"']*)",
    re.IGNORECASE,
)


def masked_query(text: str) -> str:
    """A URL (or a log line holding URLs) with the values of its signing parameters
    masked: a backend may sign URLs on its own host too (presigned uploads)."""
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}=***", text)


def mask_url_credentials(text: str) -> str:
    """``text`` with every token that the protocol puts in a URL path masked, and the
    signing parameters of its URLs' queries (a presigned URL's signature)."""
    return masked_query(_AGENT_PATH.sub(lambda m: m.group(1) + mask(m.group(2)), text))


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
            stacklevel=6,
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


def _int_in(low: int, high: int | None) -> Callable[[Any, str], int]:
    span = f"from {low} to {high}" if high is not None else f">= {low}"

    def check(value: Any, where: str) -> int:
        too_high = high is not None and isinstance(value, int) and value > high
        if isinstance(value, bool) or not isinstance(value, int) or value < low or too_high:
            raise InvalidInputError(f"{where} must be an int {span}, got {value!r}")
        return value

    return check


def _int_text(text: str, where: str) -> int | str:
    """The int an environment variable or profile spells (``" 8 "``), else the text as
    it is, for the check to refuse with its own message."""
    stripped = text.strip()
    if stripped.isascii() and stripped.lstrip("+-").isdigit():
        return int(stripped)
    return text


def _one_of(*choices: str) -> Callable[[Any, str], str]:
    def check(value: Any, where: str) -> str:
        if value not in choices:
            listed = " or ".join(repr(c) for c in choices)
            raise InvalidInputError(f"{where} must be {listed}, got {value!r}")
        return str(value)

    return check


@dataclass(frozen=True)
class Setting:
    """One client setting: its name (the argument of `Client` and the field of `Config`),
    the environment variables and profile key it is read from, its default and check."""

    name: str
    #: What it is, for the docs' table.
    doc: str
    #: The default, as the docs' table shows it.
    shown_default: str
    check: Callable[[Any, str], Any]
    default: Any = None
    #: Environment variables read, first set first.
    env: tuple[str, ...] = ()
    #: Whether a profile of the config file may give it.
    in_profile: bool = False
    #: Reads the text of an environment variable or profile (an argument is never text
    #: to parse: ``page_size="50"`` is refused, ``SYNAPSE_PAGE_SIZE=50`` is read).
    from_text: Callable[[str, str], Any] | None = None

    def _read(self, raw: Any, where: str) -> Any:
        if self.from_text is not None and isinstance(raw, str):
            raw = self.from_text(raw, where)
        return self.check(raw, where)

    def lookup(
        self, argument: Any, env: Mapping[str, str], profile: Mapping[str, str]
    ) -> tuple[Any, str]:
        """The checked value and where it came from: the argument, the environment, the
        profile, or the default."""
        if argument is not None:
            return self.check(argument, self.name), "argument"
        for variable in self.env:
            if env.get(variable):
                return self._read(env[variable], f"{variable} (environment)"), "environment"
        if self.in_profile and profile.get(self.name):
            return self._read(profile[self.name], f"{self.name} (profile)"), "profile"
        return self.check(self.default, self.name), "default"


def _base_url(value: Any, where: str) -> str:
    return validate_base_url(value or "")


def _tenant(value: Any, where: str) -> str | None:
    return value or None


def _timeout(value: Any, where: str) -> Timeout:
    return Timeout.coerce(value)


def _token(value: Any, where: str) -> Secret | None:
    return _secret(value)


#: Every client setting, declared once: `Config.resolve`, the profile keys, the checks of
#: `Client` and `AsyncClient` (whose signatures a test holds to this) and the table of
#: docs/configuration.md are made from it.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "base_url",
        "the backend's root URL",
        "required",
        _base_url,
        env=("SYNAPSE_BASE_URL", "SYNAPSE_HOST"),
        in_profile=True,
    ),
    Setting(
        "access_token",
        "sent as `Synapse-Access-Token`",
        "none",
        _token,
        env=("SYNAPSE_ACCESS_TOKEN",),
        in_profile=True,
    ),
    Setting(
        "tenant",
        "sent as `Synapse-Tenant`",
        "none",
        _tenant,
        env=("SYNAPSE_TENANT",),
        in_profile=True,
    ),
    Setting(
        "agent_token",
        "sent as `SYNAPSE-Agent`",
        "none",
        _token,
        env=("SYNAPSE_AGENT_TOKEN",),
        in_profile=True,
    ),
    Setting("authorization_token", "deprecated: sent as `Authorization`", "none", _token),
    Setting(
        "timeout",
        "seconds to connect and to read",
        "`{'connect': 5, 'read': 15}`",
        _timeout,
    ),
    Setting(
        "max_retries",
        "retries of the retry policy",
        "3",
        _int_in(0, None),
        default=3,
        from_text=_int_text,
    ),
    Setting(
        "page_size",
        "items per page when listing (`client.page_size = n` later)",
        "100 (1 to 1000)",
        _int_in(1, 1000),
        default=100,
        from_text=_int_text,
    ),
    Setting(
        "pages_in_flight",
        "page requests in flight while a listing is consumed (1: one at a time)",
        "4 (1 to 32)",
        _int_in(1, 32),
        default=4,
        from_text=_int_text,
        env=("SYNAPSE_PAGES_IN_FLIGHT",),
    ),
    Setting(
        "unknown_filters",
        "what a filter name the SDK does not know does",
        '`"raise"` (or `"warn"`)',
        _one_of("raise", "warn"),
        default="raise",
        env=("SYNAPSE_UNKNOWN_FILTERS",),
    ),
    Setting(
        "profile",
        "a profile of the config file",
        "the file's `default`, if any",
        lambda value, where: value,
        env=(ENV_PROFILE,),
    ),
)
SETTING = {setting.name: setting for setting in SETTINGS}


def settings_table() -> str:
    """The rows of the settings table of docs/configuration.md."""
    rows = [
        "| Argument | Environment variable | In a profile | Default | What |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in SETTINGS:
        env = " or ".join(f"`{name}`" for name in s.env) or "—"
        profile = "yes" if s.in_profile else "—"
        rows.append(f"| `{s.name}` | {env} | {profile} | {s.shown_default} | {s.doc} |")
    return "\n".join(rows)


def arguments(values: Mapping[str, Any]) -> dict[str, Any]:
    """The settings among a client's arguments (its ``locals()``), for `Config.resolve`."""
    return {name: values[name] for name in SETTING}


def _warn_on_sources(values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    url_from, token_from = sources["base_url"], sources["access_token"]
    mixed = url_from != token_from and "profile" in (url_from, token_from)
    if mixed and values["access_token"] and values["base_url"]:
        _warn_mixed(url_from, token_from)
    if values["authorization_token"] is not None:
        warnings.warn(
            "authorization_token is deprecated: use access_token",
            DeprecationWarning,
            stacklevel=4,
        )


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
        environ: Mapping[str, str] | None = None,
        **given: Any,
    ) -> Config:
        """Merge explicit arguments over the ``SYNAPSE_*`` environment variables, and
        those over a profile of the config file (see `load_profile()`); the settings and
        where each is read are those of `SETTINGS`."""
        given.update(base_url=base_url, access_token=access_token)
        unknown = set(given) - set(SETTING)
        if unknown:
            raise InvalidInputError(f"unknown settings {sorted(unknown)}")
        env = os.environ if environ is None else environ
        chosen = load_profile(given.get("profile") or env.get(ENV_PROFILE), env)
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for setting in SETTINGS:
            if setting.name != "profile":
                value, sources[setting.name] = setting.lookup(given.get(setting.name), env, chosen)
                values[setting.name] = value
        _warn_on_sources(values, sources)
        return cls(**values)

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
