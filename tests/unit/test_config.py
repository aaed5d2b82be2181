from __future__ import annotations

import logging
import pickle
import warnings
from typing import Any

import pytest

from synapse import Client, InvalidInputError, Timeout
from synapse.config import Config, Secret, mask
from tests.conftest import TOKEN


def test_env_is_read_when_the_client_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNAPSE_BASE_URL", "https://env.example.com/")
    monkeypatch.setenv("SYNAPSE_ACCESS_TOKEN", "env-token-1234567890")
    monkeypatch.setenv("SYNAPSE_TENANT", "tenant-env")
    monkeypatch.setenv("SYNAPSE_AGENT_TOKEN", "agent-env-1234567890")
    cfg = Client().config
    assert cfg.base_url == "https://env.example.com"
    assert cfg.access_token == Secret("env-token-1234567890")
    assert cfg.tenant == "tenant-env"
    assert cfg.agent_token == Secret("agent-env-1234567890")


def test_synapse_host_is_a_fallback_and_arguments_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNAPSE_HOST", "https://host.example.com")
    monkeypatch.setenv("SYNAPSE_ACCESS_TOKEN", "env-token-1234567890")
    assert Client().base_url == "https://host.example.com"
    explicit = Client("https://arg.example.com", "arg-token-1234567890")
    assert explicit.base_url == "https://arg.example.com"
    assert explicit.config.access_token == Secret("arg-token-1234567890")


def test_missing_base_url_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError, match="SYNAPSE_BASE_URL"):
        Client()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://x.example.com", "http:// or https://"),
        ("api.synapse.sh", "http:// or https://"),
        ("https://", "no host"),
        ("https://x.example.com?a=1", "query"),
        ("https://user:pw@x.example.com", "credentials"),
        ("https://x.example.com:99999", "port"),
    ],
)
def test_bad_base_urls_raise(url: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Client(url)


def test_plain_http_warns_for_remote_hosts_only() -> None:
    with pytest.warns(UserWarning, match="plain http"):
        Client("http://api.example.com")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Client("http://127.0.0.1:8000")
        Client("http://localhost:8000")
        Client("http://[::1]:8000")


def test_authorization_token_is_deprecated() -> None:
    with pytest.warns(DeprecationWarning, match="authorization_token"):
        Client("https://x.example.com", authorization_token="user-token-1234567890")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, Timeout(5, 15)),
        ({"connect": 5, "read": 15}, Timeout(5, 15)),
        ({"read": 60}, Timeout(5, 60)),
        ((2, 30), Timeout(2, 30)),
        (7, Timeout(7, 7)),
        (2.5, Timeout(2.5, 2.5)),
        (Timeout(1, None), Timeout(1, None)),
    ],
)
def test_timeout_forms(value: object, expected: Timeout) -> None:
    assert Timeout.coerce(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["5", {"connect": 1, "write": 2}, (1, 2, 3), -1, 0, True])
def test_bad_timeouts_raise(value: object) -> None:
    with pytest.raises(InvalidInputError):
        Timeout.coerce(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("field", "value"), [("max_retries", -1), ("page_size", 0)])
def test_bad_numbers_raise(field: str, value: int) -> None:
    with pytest.raises(InvalidInputError, match=field):
        Config.resolve("https://x.example.com", **{field: value})  # type: ignore[arg-type]


def test_tokens_never_show_in_repr_str_or_pickle_repr(caplog: pytest.LogCaptureFixture) -> None:
    client = Client("https://x.example.com", TOKEN, agent_token="agent-secret-9876543210")
    texts = [repr(client), str(client), repr(client.config), str(client.config)]
    caplog.set_level(logging.DEBUG)
    logging.getLogger("synapse").info("%s", client.config)
    texts.extend(r.getMessage() for r in caplog.records)
    for text in texts:
        assert TOKEN not in text
        assert "agent-secret-9876543210" not in text
    assert mask(TOKEN) in repr(client)
    copy = pickle.loads(pickle.dumps(client.config))
    assert copy.access_token == Secret(TOKEN)


def test_redact_replaces_every_secret() -> None:
    cfg = Config.resolve("https://x.example.com", TOKEN, agent_token="agent-secret-9876543210")
    text = cfg.redact(f"a {TOKEN} b agents/agent-secret-9876543210/connect/")
    assert TOKEN not in text
    assert "agent-secret-9876543210" not in text
    assert "****" in text


PROFILES = """
default = "staging"

[profiles.staging]
base_url = "https://staging.synapse.example"
access_token = "staging-token-0123456789"
tenant = "acme"

[profiles.prod]
base_url = "https://api.synapse.example"
access_token = "prod-token-0123456789abc"
"""


@pytest.fixture
def profile_file(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    path = tmp_path / "config.toml"
    path.write_text(PROFILES)
    path.chmod(0o600)
    monkeypatch.setenv("SYNAPSE_CONFIG_FILE", str(path))
    return path


def test_profiles_in_the_order_argument_environment_profile(
    profile_file: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synapse import Client

    prod = Client(profile="prod")
    assert prod.base_url == "https://api.synapse.example"
    assert prod.transport.auth_headers()["Synapse-Access-Token"] == "Token prod-token-0123456789abc"
    assert "prod-token" not in repr(prod)
    staging = Client()  # the file's default profile
    assert staging.config.tenant == "acme"
    monkeypatch.setenv("SYNAPSE_PROFILE", "prod")
    assert Client().base_url == "https://api.synapse.example"
    monkeypatch.setenv("SYNAPSE_ACCESS_TOKEN", "env-token-0123456789abcd")
    # A token from elsewhere with the profile's URL (or the reverse) is used, and flagged.
    mixed = "base URL comes from the profile and the access token from the environment"
    with pytest.warns(UserWarning, match=mixed):
        from_env = Client()
    assert from_env.config.access_token.reveal() == "env-token-0123456789abcd"  # type: ignore[union-attr]
    with pytest.warns(UserWarning, match="from the profile and the access token from the argument"):
        from_arg = Client(access_token="arg-token-0123456789abcd")
    assert from_arg.config.access_token.reveal() == "arg-token-0123456789abcd"  # type: ignore[union-attr]
    monkeypatch.delenv("SYNAPSE_ACCESS_TOKEN")
    with pytest.warns(UserWarning, match="from the argument and the access token from the profile"):
        other = Client("https://other.example", profile="prod")
    assert other.base_url == "https://other.example"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # both from one place: no warning
        Client("https://other.example", "arg-token-0123456789abcd", profile="prod")
        monkeypatch.setenv("SYNAPSE_BASE_URL", "https://env.example")
        monkeypatch.setenv("SYNAPSE_ACCESS_TOKEN", "env-token-0123456789abcd")
        Client()


def test_an_unknown_profile_or_a_readable_file_is_reported(profile_file: Any) -> None:
    from synapse import Client, InvalidInputError

    with pytest.raises(InvalidInputError, match=r"no profile 'qa'.*\['prod', 'staging'\]"):
        Client(profile="qa")
    profile_file.chmod(0o644)
    with pytest.warns(UserWarning, match="can be read by other users"):
        Client(profile="prod")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"default = 'a'\n# \xff\xfe not utf-8\n", "not UTF-8"),
        (b'profiles = "str"\ndefault = "a"\n', "'profiles' in .* must be a table"),
        (b"default = {a=1}\n", "'default' in .* must be a profile name"),
        (b'default = "a"\n[profiles]\na = 3\n', "profiles.a in .* must be a table"),
        (b'default = "a"\n[profiles.a]\nbase_url = ["x"]\n', "profiles.a.base_url in"),
    ],
)
def test_a_bad_config_file_names_the_setting_and_the_file(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, content: bytes, message: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    path.chmod(0o600)
    monkeypatch.setenv("SYNAPSE_CONFIG_FILE", str(path))
    with pytest.raises(InvalidInputError, match=message):
        Client("https://api.example.com", "t" * 20)


@pytest.mark.parametrize("value", ["\u00b2", "-3", "abc", "0", "33", "1.5"])
def test_a_bad_pages_in_flight_from_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SYNAPSE_PAGES_IN_FLIGHT", value)
    with pytest.raises(InvalidInputError, match=r"SYNAPSE_PAGES_IN_FLIGHT \(environment\)"):
        Client("https://api.example.com", "t" * 20)
    monkeypatch.setenv("SYNAPSE_PAGES_IN_FLIGHT", " 7 ")
    assert Client("https://api.example.com", "t" * 20).config.pages_in_flight == 7


def test_a_bad_unknown_filters_mode_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNAPSE_UNKNOWN_FILTERS", "ignore")
    with pytest.raises(InvalidInputError, match=r"SYNAPSE_UNKNOWN_FILTERS \(environment\)"):
        Client("https://api.example.com", "t" * 20)


def test_a_token_read_with_its_newline_is_stripped_and_one_with_a_space_refused() -> None:
    token = "ACCESS-0123456789abcdef-SECRET"
    client = Client("https://api.example.com", token + "\n")
    assert client.transport.auth_headers()["Synapse-Access-Token"] == f"Token {token}"
    for bad in (token[:10] + " " + token[10:], token[:10] + "\x00" + token[10:]):
        with pytest.raises(InvalidInputError, match="not shown") as caught:
            Client("https://api.example.com", bad)
        assert token[10:] not in str(caught.value)
    with pytest.raises(InvalidInputError, match="not shown"):
        Client("https://api.example.com", "t" * 20, agent_token="AGENT-0123456789abcdef x")


def test_an_agent_token_that_is_no_path_segment_is_not_echoed() -> None:
    client = Client("https://api.example.com", "t" * 20)
    secret = "AGENT-0123456789abcdef-SECRET\n"
    with pytest.raises(InvalidInputError, match="of 30 characters") as caught:
        client.agents.health_check(secret)
    assert "SECRET" not in str(caught.value)
