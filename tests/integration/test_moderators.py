"""Moderators: the service rules, routing to fallback moderators, and the CLI commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import structlog
from typer.testing import CliRunner

from sync.entrypoints.cli import app as cli_app
from sync.service import moderators as mods
from tests.support.apps import ROOT
from tests.support.places import IEPER, POPERINGE

NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


def test_add_validates_email_name_and_mode(engine):
    with engine.begin() as conn:
        m = mods.add(conn, name="  Ann   Peeters ", email="Ann@Ieper.TEST", municipalities=[IEPER],
                     now=NOW)
        assert (m.name, m.email, m.notify, m.active, m.municipalities) == (
            "Ann Peeters", "ann@ieper.test", "daily", True, (IEPER,))
        for bad in ("ann@ieper.test", "no-at-sign", "a@b.test\r\nBcc: evil@x", "a b@c.test"):
            with pytest.raises(mods.ModeratorError):
                mods.add(conn, name="X", email=bad, municipalities=[], now=NOW)
        with pytest.raises(mods.ModeratorError):
            mods.add(conn, name="X", email="x@y.test", municipalities=[], now=NOW,
                     notify="hourly")


def test_routing_sends_unmoderated_and_inactive_municipalities_to_the_fallback(engine):
    with engine.begin() as conn:
        ann = mods.add(conn, name="Ann", email="ann@ieper.test", municipalities=[IEPER], now=NOW)
        off = mods.add(conn, name="Off", email="off@pop.test", municipalities=[POPERINGE],
                       now=NOW, active=False)
        r = mods.routing(conn, ["regio@ikdoemee.test"], NOW, [IEPER, POPERINGE, "32003"])
        [fb] = r.fallback
        assert r.recipients(IEPER) == [ann.id]
        assert r.recipients(POPERINGE) == [fb] and r.recipients("32003") == [fb]
        assert off.id not in r.moderators
        assert r.scope(fb, [IEPER, POPERINGE, "32003"]) == {POPERINGE, "32003"}
        assert r.is_fallback_for(fb, POPERINGE) and not r.is_fallback_for(fb, IEPER)
        # Registered once, not on every call.
        again = mods.routing(conn, ["regio@ikdoemee.test"], NOW)
        assert again.fallback == [fb]


@pytest.fixture
def cli(database_url, engine, monkeypatch):
    monkeypatch.setenv("IKDOEMEE_DATABASE_URL", database_url)
    runner = CliRunner()
    config = str(ROOT / "config" / "ikdoemee.toml")

    def run(*args: str, code: int = 0):
        result = runner.invoke(cli_app, ["--config", config, *args])
        assert result.exit_code == code, result.output
        return result

    yield run
    # The CLI configured structlog to write to the runner's (now closed) stderr.
    structlog.reset_defaults()


def test_cli_add_list_update_remove(cli):
    cli("moderators", "add", "--name", "Ann Peeters", "--email", "ann@ieper.test",
        "--municipality", "Ieper", "--municipality", "33021", "--notify", "immediate")
    doc = json.loads(cli("moderators", "list", "--json").stdout)
    [ann] = doc["moderators"]
    assert ann["municipality_names"] == ["Ieper", "Poperinge"] and ann["notify"] == "immediate"
    assert "Ieper" not in doc["fallback_municipalities"]
    assert len(doc["fallback_municipalities"]) == 15
    cli("moderators", "update", "ann@ieper.test", "--municipality", "Ieper", "--inactive",
        "--notify", "daily")
    [ann] = json.loads(cli("moderators", "list", "--json").stdout)["moderators"]
    assert (ann["municipalities"], ann["active"], ann["notify"]) == ([IEPER], False, "daily")
    bad = cli("moderators", "add", "--name", "X", "--email", "x@y.test", "--municipality",
              "Brugge", code=2)
    assert "unknown municipality 'Brugge'" in bad.output
    dup = cli("moderators", "add", "--name", "X", "--email", "ann@ieper.test", code=2)
    assert "already exists" in dup.output
    cli("moderators", "remove", "ann@ieper.test")
    assert json.loads(cli("moderators", "list", "--json").stdout)["moderators"] == []
    cli("moderators", "remove", "ann@ieper.test", code=2)


def test_cli_notify_digest_writes_nothing_when_nothing_is_open(cli):
    doc = json.loads(cli("notify", "digest", "--json").stdout)
    assert doc == {"digests": {"mails": 0, "items": 0}}
