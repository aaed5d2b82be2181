"""The client settings are declared once (`synapse.config.SETTINGS`): the clients'
signatures, the environment and profile reading and the docs' table follow it."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

import pytest

import synapse
from synapse import Client, InvalidInputError
from synapse.aio import AsyncClient
from synapse.config import SETTING, SETTINGS, Config, Setting, settings_table

DOCS = Path(synapse.__file__).parent.parent / "docs"
#: The client arguments that are objects, not settings.
OBJECTS = {"retry", "transport"}


def missing_settings(function: Any, settings: tuple[Setting, ...]) -> set[str]:
    """The declared settings a signature lacks (or has with a default other than None)."""
    parameters = inspect.signature(function).parameters
    return {
        s.name
        for s in settings
        if s.name not in parameters or parameters[s.name].default is not None
    }


@pytest.mark.parametrize("client", [Client, AsyncClient], ids=lambda c: c.__name__)
def test_each_client_signature_lists_exactly_the_declared_settings(client: type) -> None:
    assert missing_settings(client.__init__, SETTINGS) == set()
    parameters = set(inspect.signature(client.__init__).parameters) - {"self"}
    assert parameters - OBJECTS == set(SETTING)


def test_a_setting_declared_but_missing_from_a_signature_is_found() -> None:
    added = Setting("proxy", "a proxy", "none", lambda value, where: value)
    assert missing_settings(Client.__init__, (*SETTINGS, added)) == {"proxy"}


def test_every_setting_is_documented_in_the_client_docstring_and_the_docs_table() -> None:
    doc = Client.__doc__ or ""
    assert [s.name for s in SETTINGS if f"        {s.name}:" not in doc] == []
    assert settings_table() in (DOCS / "configuration.md").read_text()


#: A valid value per setting read from the environment, and what the config holds then.
FROM_ENV: dict[str, tuple[str, Any]] = {
    "base_url": ("https://env.example.com/", "https://env.example.com"),
    "access_token": ("env-token-0123456789", "****6789"),
    "tenant": ("acme", "acme"),
    "agent_token": ("agent-token-0123456789", "****6789"),
    "pages_in_flight": (" 9 ", 9),
    "unknown_filters": ("warn", "warn"),
}


@pytest.mark.parametrize(
    ("setting", "variable"),
    [(s, v) for s in SETTINGS if s.name != "profile" for v in s.env],
    ids=lambda x: x if isinstance(x, str) else x.name,
)
def test_each_declared_variable_is_read(setting: Setting, variable: str) -> None:
    text, expected = FROM_ENV[setting.name]
    base = {} if setting.name == "base_url" else {"SYNAPSE_BASE_URL": "https://o.example.com"}
    environ = {**base, variable: text}
    config = Config.resolve(environ=environ)
    value = getattr(config, setting.name)
    assert (str(value) if setting.name.endswith("_token") else value) == expected
    # an argument wins over the variable
    if setting.name == "pages_in_flight":
        assert Config.resolve(environ=environ, pages_in_flight=2).pages_in_flight == 2


def test_a_bad_value_names_where_it_came_from() -> None:
    environ = {"SYNAPSE_BASE_URL": "https://x.example.com", "SYNAPSE_PAGES_IN_FLIGHT": "99"}
    with pytest.raises(InvalidInputError, match=r"SYNAPSE_PAGES_IN_FLIGHT \(environment\)"):
        Config.resolve(environ=environ)
    with pytest.raises(InvalidInputError, match=r"^max_retries must be an int >= 0"):
        Config.resolve("https://x.example.com", max_retries=True)
    with pytest.raises(InvalidInputError, match="unknown settings"):
        Config.resolve("https://x.example.com", page_sise=5)


def test_profiles_give_the_declared_profile_settings_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[profiles.a]\nbase_url = "https://p.example.com"\ntenant = "t1"\n')
    path.chmod(0o600)
    monkeypatch.setenv("SYNAPSE_CONFIG_FILE", str(path))
    for name in ("SYNAPSE_BASE_URL", "SYNAPSE_HOST", "SYNAPSE_TENANT", "SYNAPSE_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    config = Config.resolve(profile="a")
    assert (config.base_url, config.tenant) == ("https://p.example.com", "t1")
    assert {s.name for s in SETTINGS if s.in_profile} == {
        "base_url",
        "access_token",
        "tenant",
        "agent_token",
    }
    path.write_text('[profiles.a]\nbase_url = "https://p.example.com"\npage_size = 5\n')
    with pytest.raises(InvalidInputError, match=r"unknown keys \['page_size'\]"):
        Config.resolve(profile="a")


@pytest.mark.parametrize("client_type", [Client, AsyncClient], ids=lambda c: c.__name__)
def test_the_page_size_setter_checks_as_the_declaration_does(client_type: type) -> None:
    client = client_type("https://x.example.com", "t" * 20)
    client.page_size = 1000
    assert client.config.page_size == 1000
    with pytest.raises(InvalidInputError, match="page_size must be an int from 1 to 1000"):
        client.page_size = 1001


@pytest.mark.parametrize("client_type", [Client, AsyncClient], ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    ("name", "text"), [("page_size", "50"), ("max_retries", "2"), ("pages_in_flight", " 8 ")]
)
def test_an_int_setting_is_read_from_text_only_in_the_environment(
    client_type: type, name: str, text: str
) -> None:
    """``SYNAPSE_PAGE_SIZE=50`` is text by nature; ``page_size="50"`` in code is a mistake."""
    with pytest.raises(InvalidInputError, match=f"{name} must be an int"):
        client_type("https://x.example.com", "t" * 20, **{name: text})
    for variable in SETTING[name].env:  # where the environment may give it
        environ = {"SYNAPSE_BASE_URL": "https://x.example.com", variable: text}
        assert getattr(Config.resolve(environ=environ), name) == int(text)
    client = client_type("https://x.example.com", "t" * 20)
    with pytest.raises(InvalidInputError, match="page_size must be an int"):
        client.page_size = "25"


def test_the_config_holds_each_declared_setting_but_the_profile_choice() -> None:
    fields = {f.name for f in dataclasses.fields(Config)} - {"extra"}
    assert fields == set(SETTING) - {"profile"}
