"""Reads the region table (municipalities, NIS and postal codes) from its JSON file."""

from __future__ import annotations

import json
from pathlib import Path

from sync.domain.region import Municipality, Region


class RegionFileError(ValueError):
    """The region file is missing or malformed."""


def load_region(path: Path) -> Region:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RegionFileError(f"region file not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise RegionFileError(f"region file {path} is not valid JSON: {exc}") from exc
    try:
        municipalities = tuple(
            Municipality(
                name=str(m["name"]),
                nis=str(m["nis"]),
                postal_codes=tuple(str(pc) for pc in m["postal_codes"]),
            )
            for m in data["municipalities"]
        )
    except (KeyError, TypeError) as exc:
        raise RegionFileError(f"region file {path}: every municipality needs name, nis and "
                              f"postal_codes ({exc!r})") from exc
    if not municipalities:
        raise RegionFileError(f"region file {path} lists no municipalities")
    name = str(data.get("name") or data.get("province", {}).get("name") or "regio")
    return Region(name=name, municipalities=municipalities)
