"""Every config value is checked at load, with the key in the message; terminal text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync.adapters.database import DatabaseUrlError, make_engine
from sync.entrypoints.terminal import clean, json_safe
from sync.settings import ConfigError, EnvSettings, load_config
from tests.support.config import SOURCE, write


def refused(tmp_path: Path, body: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, body))
    return str(info.value)


@pytest.mark.parametrize(("cron", "why"), [
    ("0 3 * *", "Wrong number of fields"), ("61 3 * * *", "sources[0].reconcile_cron"),
    ("elke nacht", "not a cron expression")])
def test_a_bad_reconcile_cron_names_the_key(tmp_path, cron, why):
    message = refused(tmp_path, SOURCE + f'reconcile_cron = "{cron}"\n')
    assert "sources[0].reconcile_cron" in message and why in message


@pytest.mark.parametrize("address", ["regio@ikdoemee.be\r\nBcc: x@evil.example",
                                     "regio@ikdoemee.be\n", "geen adres", "a@b"])
def test_bad_fallback_addresses_are_refused(tmp_path, address):
    escaped = address.replace("\r", "\\r").replace("\n", "\\n")
    message = refused(tmp_path, SOURCE + f'[notifications]\nfallback_moderators = ["{escaped}"]\n')
    assert "notifications.fallback_moderators[0]" in message


@pytest.mark.parametrize("sender", ["ikdoemee <noreply@ikdoemee.be>\\r\\nBcc: x@evil.example",
                                    "ikdoemee <noreply>"])
def test_a_bad_sender_is_refused(tmp_path, sender):
    assert "smtp.sender" in refused(tmp_path, SOURCE + f'[smtp]\nsender = "{sender}"\n')


def test_good_addresses_pass(tmp_path):
    cfg = load_config(write(tmp_path, SOURCE + '[smtp]\nsender = "Westhoek <noreply@ikdoemee.be>"'
                                               '\n[notifications]\nfallback_moderators = '
                                               '["Regio@IkDoeMee.be"]\n'))
    assert cfg.notifications.fallback_moderators == ["regio@ikdoemee.be"]


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://ikdoemee.be", "https://",
                                 "https://ikdoemee .be", "https://user:pw@ikdoemee.be",
                                 "https://ikdoemee.be:port", "ikdoemee.be"])
def test_base_urls_must_be_http_urls(tmp_path, url):
    assert "web.base_url" in refused(tmp_path, SOURCE + f'[web]\nbase_url = "{url}"\n')
    source = SOURCE.replace("https://search.uitdatabank.be", url)
    assert "sources[0].base_url" in refused(tmp_path, source)


def test_forwarded_allow_ips_and_metrics_port(tmp_path):
    assert "web.forwarded_allow_ips" in refused(
        tmp_path, SOURCE + '[web]\nforwarded_allow_ips = ["proxy.local"]\n')
    assert "metrics_port must differ" in refused(tmp_path, SOURCE + "[web]\nmetrics_port = 8080\n")
    cfg = load_config(write(tmp_path, SOURCE + '[web]\nforwarded_allow_ips = ["10.0.0.0/8", '
                                               '"127.0.0.1"]\nmetrics_port = 9100\n'))
    assert cfg.web.forwarded_allow_ips == ["10.0.0.0/8", "127.0.0.1"]


def test_config_file_not_utf8_or_a_folder(tmp_path):
    path = write(tmp_path, SOURCE + '# Ieper – café\n')
    path.write_bytes(path.read_text(encoding="utf-8").encode("cp1252"))
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(path)
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)


@pytest.mark.parametrize(("url", "why"), [
    ("sqlite://", "in-memory"), ("sqlite:///", "in-memory"), ("sqlite:///:memory:", "in-memory"),
    ("postgres://u@localhost/db", "write postgresql+psycopg://"),
    ("postgresql+psycopg2://u@localhost/db", "write postgresql+psycopg://"),
    ("mysql://u@localhost/db", "not supported"), ("not a url", "not a database URL")])
def test_database_urls_that_cannot_work_are_refused_with_a_hint(url, why):
    with pytest.raises(DatabaseUrlError) as info:
        make_engine(url)
    assert "IKDOEMEE_DATABASE_URL" in str(info.value) and why in str(info.value)


def test_sqlite_in_a_missing_folder_is_refused_unless_it_is_the_default(tmp_path):
    with pytest.raises(DatabaseUrlError, match="does not exist"):
        make_engine(f"sqlite:///{tmp_path / 'typo' / 'db.sqlite3'}")
    assert not (tmp_path / "typo").exists()
    with pytest.raises(DatabaseUrlError, match="is a folder"):
        make_engine(f"sqlite:///{tmp_path}")
    make_engine(f"sqlite:///{tmp_path / 'data' / 'db.sqlite3'}", create_folder=True).dispose()
    assert (tmp_path / "data").is_dir()


def test_weak_secrets_are_named():
    env = EnvSettings(database_url="sqlite:///x", admin_token="1", secret_key="x")
    weak = env.weak_secrets()
    assert len(weak) == 2
    assert weak[0].startswith("IKDOEMEE_ADMIN_TOKEN: too short (1 characters)")
    assert weak[1].startswith("IKDOEMEE_SECRET_KEY")
    assert "example value" in EnvSettings(secret_key="change-me-to-a-long-random-string"
                                          ).weak_secrets()[0]
    strong = EnvSettings(database_url="sqlite:///x", admin_token="t" * 32, secret_key=None)
    assert strong.weak_secrets() == []


def test_terminal_text_escapes_controls_and_keeps_the_rest():
    evil = "Café\x1b[31m\r\n\t\x00\x7f\x9b\u202e\u2028ok"
    assert clean(evil) == "Café\\x1b[31m\\r\\n\\t\\x00\\x7f\\x9b\\u202e\\u2028ok"
    assert clean("a\nb\tc\rd", lines=True) == "a\nb\tc\\rd"
    assert clean(None) == "" and clean(5) == "5"
    doc = json.dumps({"t": evil}, ensure_ascii=False)
    assert json.loads(json_safe(doc)) == {"t": evil}
    assert not any(c in json_safe(doc) for c in "\x7f\x9b\u202e\u2028")


@pytest.mark.parametrize("value", ["-1", "\"twee\"", "65", "true"])
def test_mapping_workers_must_be_a_small_count(tmp_path, value):
    assert "catalogue.mapping_workers" in refused(
        tmp_path, SOURCE + f"[catalogue]\nmapping_workers = {value}\n")


def test_mapping_workers_default_to_every_core_but_one(tmp_path):
    from sync.service.mapping_pool import worker_count

    assert load_config(write(tmp_path, SOURCE)).catalogue.mapping_workers is None
    cfg = load_config(write(tmp_path, SOURCE + "[catalogue]\nmapping_workers = 0\n"))
    assert cfg.catalogue.mapping_workers == 0
    assert worker_count() == max(0, len(__import__("os").sched_getaffinity(0)) - 1)
