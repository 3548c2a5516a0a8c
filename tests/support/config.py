"""Config files for tests: a TOML beside a copy of the region table, and one source."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "region.json").write_text(
        (ROOT / "config" / "westhoek_municipalities.json").read_text(encoding="utf-8"),
        encoding="utf-8")
    path = tmp_path / "ikdoemee.toml"
    path.write_text('region_file = "region.json"\n' + body, encoding="utf-8")
    return path


SOURCE = """
[[sources]]
name = "uitdatabank"
connector = "uitdatabank"
base_url = "https://search.uitdatabank.be"
client_id_env = "TEST_CLIENT_ID"
"""
