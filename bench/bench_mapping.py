"""Time the UiTdatabank mapping alone, and prove with a golden digest that its output is unchanged.

    .venv/bin/python bench/bench_mapping.py [--events 5000] [--repeat 3] [--golden FILE]

Builds the generated and the publiq-shaped feeds in memory, maps every document with
`to_activity` as the sync does (the region from the config, the shipped type table, one `as_of`
for the page) and reports CPU seconds per 1 000 events per feed, best of `--repeat`.

With `--golden FILE` it also maps an "edge" corpus (the fixtures and feed documents with tricky
texts and dates swapped in) and writes FILE, or, when FILE exists, compares against it: every
outcome's digest (an activity's `to_dict()` as orjson with sorted keys, a skip's fields, an
error's path and message) must be byte-identical.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import hashlib
import json
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT  # noqa: E402
from bench.feeds import feed, fixture_folder  # noqa: E402
from mappings.uitdatabank import to_activity  # noqa: E402
from sync.adapters.region_file import load_region  # noqa: E402
from sync.domain.activity import MappingError, NormalisedActivity  # noqa: E402
from sync.domain.region import Region  # noqa: E402

FEEDS = ("generated", "publiq")
SEEDS = {"generated": 7, "publiq": 11}
# A fixed moment, so next occurrences (and with them the digests) do not move with the clock.
AS_OF = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

# Texts that exercise every branch of the description and one-line cleaning.
TRICKY_TEXTS = (
    "", " ", "plain", "  spaces  around  ", "Tom & Jerry",
    "a &amp; b &lt;c&gt; &#39;q&#39; &nbsp;x",
    "x < y > z", "<p>Hallo <b>wereld</b></p>", "<p>één</p>\n\n<p>twee</p>", "line1\nline2",
    "para1\n\n\npara2\r\nline\rcr", "tab\there", "ctl\x00\x07\x1b[31mred\x7f\x85end",
    "<script>alert(1)</script>ok", '<a href="javascript:x">j</a><a href="https://x.be">ok</a>',
    "<br><br/>a<br />b", "<ul><li>een</li><li>twee</li></ul>", "<div>div</div><h2>kop</h2>",
    "&", "&amp", "&unknown;", "<", ">", "<!-- c -->text", "<3 liefde", "a\u00a0b\u2028c\u200bd",
    "ÉÉN\u0301 accent", "x" * 700, ("woord " * 6000), "<p>" + "lang " * 7000 + "</p>",
    "<table><tr><td>1</td><td>2</td></tr></table>", "<img src=x onerror=y>",
    "<P CLASS='x'>Upper</P>", "emoji 🎉 tekst", "\ud83d lone", "   \n\n  ", "<p> </p>",
)
TRICKY_DATES = (
    "2027-03-02T19:00:00+01:00", "2027-03-02T19:00:00Z", "2027-03-02T19:00:00",
    "2027-03-02T19:00:00.123456+02:00", "2027-03-02", "2027-03-02T19:00", "2027-03-02 19:00:00",
    "2027-10-31T02:30:00", "2027-03-28T02:30:00", "20270302T190000", " 2027-03-02T19:00:00Z ",
    "2027-13-01T00:00:00Z", "nope", "", "2027-03-02T24:00:00", "2027-03-02T19:00:00+0100",
    "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00",
)
TRICKY_LABELS = (
    "één taalicoon", "EEN_TAALICOON", "eén-taaliconen", "Twee Taaliconen", " drie taalicoon ",
    "4_taaliconen", "ee\u0301n taalicoon", "vijf taaliconen", "UiTPAS Regio", "",
)


def region() -> Region:
    return load_region(ROOT / "config" / "westhoek_municipalities.json")


def map_all(docs: list[Any], where: Region) -> list[Any]:
    """Every document mapped as the sync maps a page: one `as_of`, errors kept as outcomes."""
    out: list[Any] = []
    for doc in docs:
        try:
            out.append(to_activity(doc, where, as_of=AS_OF))
        except MappingError as exc:
            out.append(exc)
    return out


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # a lone surrogate: orjson refuses it, the standard library escapes it
        plain = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
        return json.dumps(plain, sort_keys=True).encode()


def digest(outcome: Any) -> str:
    if isinstance(outcome, NormalisedActivity):
        blob = b"A" + _dumps(outcome.to_dict())
    elif isinstance(outcome, MappingError):
        blob = b"E" + _dumps([outcome.field_path, outcome.message])
    else:
        blob = b"S" + _dumps(outcome)
    return hashlib.sha256(blob).hexdigest()[:24]


def counts(outcomes: list[Any]) -> str:
    kinds = {"activities": 0, "skips": 0, "errors": 0}
    for o in outcomes:
        kinds["activities" if isinstance(o, NormalisedActivity)
              else "errors" if isinstance(o, MappingError) else "skips"] += 1
    return ", ".join(f"{n} {k}" for k, n in kinds.items())


def _set_text(doc: dict[str, Any], rng: random.Random) -> None:
    text = rng.choice(TRICKY_TEXTS)
    key = rng.choice(("name", "description", "description", "status.reason", "organizer",
                      "location.name", "calendarSummary", "typicalAgeRange", "labels",
                      "priceInfo", "bookingInfo", "contactPoint"))
    if key == "name":
        doc["name"] = rng.choice(({"nl": text}, {"nl": "Titel", "fr": text}, text))
    elif key == "description":
        doc["description"] = rng.choice(({"nl": text}, {"nl": text, "en": text + " en"}, text))
    elif key == "status.reason":
        doc["status"] = {"type": "Available", "reason": {"nl": text}}
    elif key == "organizer":
        doc["organizer"] = {"@id": "https://io.uitdatabank.be/organizers/x1", "name": {"nl": text},
                            "email": [text, "a@b.be"], "phone": text}
    elif key == "location.name" and isinstance(doc.get("location"), dict):
        doc["location"]["name"] = {"nl": text}
    elif key == "calendarSummary":
        doc["calendarSummary"] = rng.choice((text, {"nl": {"text": {"md": text}}}))
    elif key == "typicalAgeRange":
        doc["typicalAgeRange"] = rng.choice(("12-18", "5-", "-", "12+", "7", text))
    elif key == "labels":
        doc["labels"] = [rng.choice(TRICKY_LABELS), rng.choice(TRICKY_LABELS), text]
    elif key == "priceInfo":
        doc["priceInfo"] = [{"category": "base", "name": {"nl": text}, "price": "2,50",
                             "priceCurrency": "EUR"},
                            {"category": "uitpas", "name": text, "price": 1}]
    elif key == "bookingInfo":
        doc["bookingInfo"] = {"url": text or None, "email": "x@y.be", "urlLabel": text,
                              "availabilityStarts": rng.choice(TRICKY_DATES)}
    else:
        doc["contactPoint"] = {"url": [text, text], "phone": text, "email": ["a@b.be"]}


def _set_date(doc: dict[str, Any], rng: random.Random) -> None:
    key = rng.choice(("startDate", "endDate", "modified", "availableTo", "subEvent"))
    value = rng.choice(TRICKY_DATES)
    if key == "subEvent" and isinstance(doc.get("subEvent"), list) and doc["subEvent"]:
        sub = doc["subEvent"][0]
        if isinstance(sub, dict):
            sub[rng.choice(("startDate", "endDate"))] = value
    else:
        doc[key] = value


def edge_corpus(base: list[dict[str, Any]], n: int, seed: int = 5) -> list[Any]:
    """`n` documents: fixtures and feed documents with tricky texts, labels and dates."""
    rng = random.Random(seed)
    fixtures = [json.loads(p.read_text(encoding="utf-8"))
                for p in sorted(fixture_folder().glob("*.json"))]
    out: list[Any] = list(fixtures)
    pool = [d for d in base if isinstance(d, dict)]
    mutators: tuple[Callable[[dict[str, Any], random.Random], None], ...] = (_set_text, _set_date)
    while len(out) < n:
        doc = copy.deepcopy(rng.choice(pool))
        for _ in range(rng.randint(1, 3)):
            rng.choice(mutators)(doc, rng)
        out.append(doc)
    return out


def cpu_per_thousand(docs: list[Any], where: Region, repeat: int) -> tuple[float, list[Any]]:
    """Best CPU seconds per 1 000 documents over `repeat` runs, and the last run's outcomes."""
    best = float("inf")
    outcomes: list[Any] = []
    for _ in range(repeat):
        outcomes = []
        gc.collect()
        started = time.process_time()
        outcomes = map_all(docs, where)
        best = min(best, time.process_time() - started)
    return best * 1000 / len(docs), outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000, help="documents per feed")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--feeds", default=",".join(FEEDS))
    parser.add_argument("--golden", type=Path, help="write, or compare against, this digest file")
    args = parser.parse_args()

    where = region()
    digests: dict[str, list[str]] = {}
    docs_by_feed: dict[str, list[Any]] = {}
    for name in args.feeds.split(","):
        docs = feed(name, args.events, SEEDS[name])
        docs_by_feed[name] = docs
        map_all(docs[:200], where)  # warm caches and imports, as a running sync would be
        per_k, outcomes = cpu_per_thousand(docs, where, args.repeat)
        print(f"{name:>9}: {per_k:.3f} CPU s per 1 000 events (best of {args.repeat}, "
              f"{len(docs)} events: {counts(outcomes)})")
        if args.golden:
            digests[name] = [digest(o) for o in outcomes]

    if not args.golden:
        return 0
    base = [d for docs in docs_by_feed.values() for d in docs[:500]]
    edge = edge_corpus(base, 3000)
    edge_outcomes = map_all(edge, where)
    print(f"     edge: {len(edge)} documents: {counts(edge_outcomes)}")
    digests["edge"] = [digest(o) for o in edge_outcomes]
    current = {
        "as_of": AS_OF.isoformat(), "events": args.events,
        "feeds": {name: {"digest": hashlib.sha256("".join(items).encode()).hexdigest(),
                         "items": items} for name, items in digests.items()},
    }
    if not args.golden.exists():
        args.golden.parent.mkdir(parents=True, exist_ok=True)
        args.golden.write_text(json.dumps(current, indent=0), encoding="utf-8")
        for name, entry in current["feeds"].items():
            print(f"golden {name}: {entry['digest'][:16]} ({len(entry['items'])} outcomes) "
                  f"written to {args.golden}")
        return 0
    golden = json.loads(args.golden.read_text(encoding="utf-8"))
    if (golden["as_of"], golden["events"]) != (current["as_of"], current["events"]):
        print("golden file made with other settings (as_of, events)", file=sys.stderr)
        return 2
    failed = False
    for name, entry in current["feeds"].items():
        want = golden["feeds"].get(name)
        if want is None:
            print(f"golden {name}: missing in {args.golden}", file=sys.stderr)
            failed = True
            continue
        if want["digest"] == entry["digest"]:
            print(f"golden {name}: identical ({len(entry['items'])} outcomes)")
            continue
        failed = True
        diff = [i for i, (a, b) in enumerate(zip(want["items"], entry["items"], strict=False))
                if a != b]
        print(f"golden {name}: DIFFERENT in {len(diff)} outcomes, first at {diff[:10]}",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
