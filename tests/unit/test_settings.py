"""Config validation: a wrong key or value stops the program with the key's path."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.settings import ConfigError, EnvSettings, load_config
from tests.support.config import SOURCE, write

ROOT = Path(__file__).resolve().parents[2]




def test_the_shipped_config_is_valid():
    cfg = load_config(ROOT / "config" / "ikdoemee.toml")
    assert cfg.sources[0].name == "uitdatabank"
    assert cfg.region_file.is_file()


def test_valid_minimal_config(tmp_path):
    cfg = load_config(write(tmp_path, SOURCE))
    assert cfg.sources[0].limit == 200
    assert cfg.web.port == 8080


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("limit = 5000\n", "sources[0].limit: Input should be less than or equal to 2000"),
        ("limitt = 10\n", "sources[0].limitt: Extra inputs are not permitted"),
        ('timeout_seconds = "soon"\n', "sources[0].timeout_seconds"),
    ],
)
def test_wrong_source_values_name_the_key(tmp_path, extra, expected):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, SOURCE + extra))
    assert expected in str(info.value)


def test_wrong_section_key_and_type(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, SOURCE + "\n[web]\nport = 99999\nbase = 1\n"))
    msg = str(info.value)
    assert "web.port: Input should be less than or equal to 65535" in msg
    assert "web.base: Extra inputs are not permitted" in msg


def test_unknown_connector_and_missing_sources(tmp_path):
    with pytest.raises(ConfigError, match=r"sources\[0\].connector"):
        load_config(write(tmp_path, SOURCE.replace('"uitdatabank"\nbase', '"ftp"\nbase')))
    with pytest.raises(ConfigError, match="sources: Field required"):
        load_config(write(tmp_path, ""))


def test_duplicate_source_names(tmp_path):
    with pytest.raises(ConfigError, match="repeated: uitdatabank"):
        load_config(write(tmp_path, SOURCE + SOURCE))


def test_broken_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[[sources]\n"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_missing_region_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('region_file = "missing.json"\n' + SOURCE, encoding="utf-8")
    with pytest.raises(ConfigError, match="region_file: Value error, file not found"):
        load_config(path)


def test_client_id_comes_from_the_named_environment_variable(tmp_path, monkeypatch):
    src = load_config(write(tmp_path, SOURCE)).sources[0]
    monkeypatch.delenv("TEST_CLIENT_ID", raising=False)
    with pytest.raises(ConfigError, match="environment variable TEST_CLIENT_ID is not set"):
        src.client_id()
    monkeypatch.setenv("TEST_CLIENT_ID", "abc")
    assert src.client_id() == "abc"


def test_database_url_from_environment(monkeypatch):
    monkeypatch.setenv("IKDOEMEE_DATABASE_URL", "postgresql+psycopg://x@h/db")
    assert EnvSettings().database_url == "postgresql+psycopg://x@h/db"
    monkeypatch.delenv("IKDOEMEE_DATABASE_URL")
    assert EnvSettings().database_url.startswith("sqlite:///data/")
