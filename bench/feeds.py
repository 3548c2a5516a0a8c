"""The benchmark feeds: generated events, and events built from publiq's real fixture shapes."""

from __future__ import annotations

import copy
import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import ROOT
from samplefeed.generator import generate_events

TAALICONEN = ("één taalicoon", "twee taaliconen", "drie taaliconen", "vier taaliconen")
_YEAR = re.compile(r'"(19|20)\d\d-(\d\d)-(\d\d)T')
_START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def fixture_folder() -> Path:
    folder = ROOT.parent / "shared" / "uitdatabank" / "events"
    return folder if folder.is_dir() else ROOT / "tests" / "fixtures" / "events"


def fixture_templates() -> list[dict[str, Any]]:
    """The fixtures that are whole event documents with a place, dates moved to 2028 (a leap
    year, so 29 February stays a date) so that they are upcoming."""
    out = []
    for path in sorted(fixture_folder().glob("*.json")):
        text = _YEAR.sub(lambda m: f'"2028-{m[2]}-{m[3]}T', path.read_text(encoding="utf-8"))
        doc = json.loads(text)
        if isinstance(doc, dict) and "@id" in doc and isinstance(doc.get("location"), dict) \
                and "calendarType" in doc:
            out.append(doc)
    return out


def publiq_events(n: int, *, seed: int = 11) -> list[dict[str, Any]]:
    """`n` events cut from the publiq fixtures: new ids, a region address, a taalicoon
    label, mostly approved, `modified` increasing with a few ties per second."""
    from sync.adapters.region_file import load_region

    region = load_region(ROOT / "config" / "westhoek_municipalities.json")
    places = [(m.name, pc) for m in region.municipalities for pc in m.postal_codes]
    rng = random.Random(seed)
    templates = fixture_templates()
    moment = _START
    events = []
    for i in range(n):
        doc = copy.deepcopy(templates[i % len(templates)])
        uid = f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-" \
              f"a{rng.getrandbits(12):03x}-{rng.getrandbits(48):012x}"
        doc["@id"] = f"https://io.uitdatabank.be/event/{uid}"
        doc["modified"] = moment.isoformat()
        doc["workflowStatus"] = "APPROVED" if rng.random() < 0.97 else "READY_FOR_VALIDATION"
        labels = [lb for lb in doc.get("labels") or [] if lb not in TAALICONEN]
        doc["labels"] = [*labels, rng.choice(TAALICONEN)]
        name, postal_code = rng.choice(places)
        address = doc["location"].setdefault("address", {})
        for lang in ("nl", *[k for k in address if k != "nl"]):
            part = address.setdefault(lang, {})
            if isinstance(part, dict):
                part.update(postalCode=postal_code, addressLocality=name, addressCountry="BE")
        events.append(doc)
        if rng.random() < 0.2:
            moment += timedelta(seconds=rng.randint(1, 90))
    return events


def feed(kind: str, n: int, seed: int) -> list[dict[str, Any]]:
    return generate_events(n, seed=seed) if kind == "generated" else publiq_events(n, seed=seed)
