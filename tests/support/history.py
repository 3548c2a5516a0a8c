"""Catalogue rows for report tests: published activities as the sync and a moderator leave
them, and the annual report's own counts."""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa

from sync.adapters import tables as t
from sync.adapters.region_file import load_region
from sync.bootstrap import map_uitdatabank
from sync.domain.activity import ACTIVITY_TYPES, NormalisedActivity
from sync.domain.region import Region
from tests.builders import make_event
from tests.support.apps import ROOT
from tests.support.clock import NOW


@cache
def _region() -> Region:
    return load_region(ROOT / "config" / "westhoek_municipalities.json")


# The annual report: 223 activities, counts per type in the catalogue's order.
ANNUAL_COUNTS = (5, 13, 28, 121, 26, 14, 3, 14, 50, 15)
ANNUAL_PERCENTAGES = (2.24, 5.83, 12.56, 54.26, 11.66, 6.28, 1.35, 6.28, 22.42, 6.73)


def insert_published(conn: sa.Connection, n: int, types: list[str], levels: list[int],
                     nis: str = "33011", organiser: str | None = None) -> int:
    """A published activity row with its approved version, as the sync and a moderator leave
    it; the report reads nothing else of it."""
    a, v = t.activities, t.activity_versions
    # A whole stored version as the mapping writes it; the report reads these fields of it.
    mapped = map_uitdatabank(make_event(n, title=f"Activiteit {n}"), _region(), NOW)
    assert isinstance(mapped, NormalisedActivity)
    data = mapped.to_dict()
    data.update(activity_types=types, language_levels=levels)
    data["place"].update(nis=nis, municipality="Ieper")
    data["organizer"] = {"id": organiser or f"org-{n % 40}", "name": {"nl": "Vzw"}}
    aid = conn.execute(a.insert().values(
        source="uitdatabank", source_id=f"id-{n}", state="published", municipality_nis=nis,
        title=f"Activiteit {n}", content_hash=f"{n:064d}", created_at=NOW, updated_at=NOW,
    )).inserted_primary_key[0]
    vid = conn.execute(v.insert().values(activity_id=aid, number=1, content_hash=f"{n:064d}",
                                         data=data, created_at=NOW)).inserted_primary_key[0]
    conn.execute(a.update().where(a.c.id == aid).values(current_version_id=vid,
                                                         approved_version_id=vid))
    return int(aid)


def annual_mentions() -> list[list[str]]:
    """223 activities whose types give exactly the annual report's counts: mention k goes to
    activity k mod 223, so 66 activities get a second (always different) type."""
    mentions = [name for name, n in zip(ACTIVITY_TYPES, ANNUAL_COUNTS, strict=True)
                for _ in range(n)]
    out: list[list[str]] = [[] for _ in range(223)]
    for k, name in enumerate(mentions):
        out[k % 223].append(name)
    assert all(len(set(x)) == len(x) for x in out)
    return out
