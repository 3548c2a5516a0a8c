"""Deterministic, realistic Westhoek taalicoon events shaped like SAPI3 JSON-LD documents."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

IO = "https://io.uitdatabank.be"
DEFAULT_START = datetime(2026, 11, 1, 8, 0, 0, tzinfo=UTC)
NIL_PLACE = f"{IO}/places/00000000-0000-0000-0000-000000000000"

# Municipality → (deelgemeente, postal code); the 17 Westhoek municipalities, 30 postal codes.
WESTHOEK: dict[str, list[tuple[str, str]]] = {
    "Alveringem": [
        ("Alveringem", "8690"),
        ("Hoogstade", "8690"),
        ("Stavele", "8691"),
        ("Leisele", "8691"),
        ("Beveren-aan-de-IJzer", "8691"),
    ],
    "De Panne": [("De Panne", "8660"), ("Adinkerke", "8660")],
    "Diksmuide": [
        ("Diksmuide", "8600"),
        ("Esen", "8600"),
        ("Vladslo", "8600"),
        ("Woumen", "8600"),
        ("Pervijze", "8600"),
    ],
    "Heuvelland": [
        ("Kemmel", "8956"),
        ("Wijtschate", "8953"),
        ("Wulvergem", "8952"),
        ("Nieuwkerke", "8950"),
        ("Dranouter", "8951"),
        ("Westouter", "8954"),
        ("Loker", "8958"),
    ],
    "Houthulst": [("Houthulst", "8650"), ("Merkem", "8650"), ("Klerken", "8650")],
    "Ieper": [
        ("Ieper", "8900"),
        ("Sint-Jan", "8900"),
        ("Dikkebus", "8900"),
        ("Zillebeke", "8902"),
        ("Voormezele", "8902"),
        ("Boezinge", "8904"),
        ("Zuidschote", "8904"),
        ("Elverdinge", "8906"),
        ("Vlamertinge", "8908"),
    ],
    "Koekelare": [("Koekelare", "8680"), ("Bovekerke", "8680"), ("Zande", "8680")],
    "Koksijde": [("Koksijde", "8670"), ("Oostduinkerke", "8670"), ("Wulpen", "8670")],
    "Kortemark": [("Kortemark", "8610"), ("Handzame", "8610"), ("Zarren", "8610")],
    "Langemark-Poelkapelle": [
        ("Langemark", "8920"),
        ("Poelkapelle", "8920"),
        ("Bikschote", "8920"),
    ],
    "Lo-Reninge": [("Lo", "8647"), ("Reninge", "8647"), ("Noordschote", "8647")],
    "Mesen": [("Mesen", "8957")],
    "Nieuwpoort": [("Nieuwpoort", "8620"), ("Sint-Joris", "8620"), ("Ramskapelle", "8620")],
    "Poperinge": [
        ("Poperinge", "8970"),
        ("Reningelst", "8970"),
        ("Proven", "8972"),
        ("Krombeke", "8972"),
        ("Roesbrugge-Haringe", "8972"),
        ("Watou", "8978"),
    ],
    "Veurne": [
        ("Veurne", "8630"),
        ("Avekapelle", "8630"),
        ("Houtem", "8630"),
        ("Steenkerke", "8630"),
    ],
    "Vleteren": [("Westvleteren", "8640"), ("Oostvleteren", "8640"), ("Woesten", "8640")],
    "Zonnebeke": [
        ("Zonnebeke", "8980"),
        ("Passendale", "8980"),
        ("Beselare", "8980"),
        ("Geluveld", "8980"),
    ],
}
POSTAL_CODES: tuple[str, ...] = tuple(sorted({pc for v in WESTHOEK.values() for _, pc in v}))

STREETS = (
    "Grote Markt",
    "Kerkstraat",
    "Statiestraat",
    "Dorpsplein",
    "Marktplein",
    "Schoolstraat",
    "Ieperstraat",
    "Poperingseweg",
    "Veurnestraat",
    "Diksmuidestraat",
    "Stationsplein",
    "Kasteelstraat",
    "Molenstraat",
    "Zeelaan",
    "Noordstraat",
    "Ooststraat",
    "Zuidstraat",
    "Meensestraat",
    "Elverdingsestraat",
    "Gasthuisstraat",
    "Nieuwstraat",
    "Sint-Maartensplein",
    "Boezingestraat",
    "Bruggestraat",
    "Lindenlaan",
    "Vaartstraat",
    "IJzerlaan",
    "Dijkstraat",
)
PLACE_KINDS = (
    ("Bibliotheek {town}", "kI7uAyn2uUu9VV6Z3uWZTA", "Bibliotheek of documentatiecentrum"),
    ("Cultuurcentrum {town}", "Yf4aZBfsUEu2NsQqsprngw", "Cultuur- of ontmoetingscentrum"),
    ("Ontmoetingscentrum De Schakel", "Yf4aZBfsUEu2NsQqsprngw", "Cultuur- of ontmoetingscentrum"),
    ("Parochiezaal Sint-Jan", "OyaPaf64AEmEAYXHeLMAtA", "Zaal of expohal"),
    ("Sporthal {town}", "eBwaUAAhw0ur0Z02i5ttnw", "Sportcentrum"),
    ("Dienstencentrum 't Hof", "Yf4aZBfsUEu2NsQqsprngw", "Cultuur- of ontmoetingscentrum"),
    ("Basisschool De Regenboog", "rJRFUqmd6EiqTD4c7HS90w", "School of onderwijscentrum"),
    ("Jeugdhuis De Kelder", "JCjA0i5COUmdjMwcyjNAFA", "Jeugdhuis of jeugdcentrum"),
    ("Café De Zwaan", "ekdc4ATGoUitCa0e6me6xA", "Horeca"),
)
ORGANIZERS = (
    "Bibliotheek {municipality}",
    "Taalpunt Westhoek",
    "Welzijnsschakel {municipality}",
    "OCMW {municipality}",
    "Gezinsbond {municipality}",
    "Vormingplus Oost- en West-Vlaanderen",
    "Sportdienst {municipality}",
    "Cultuurdienst {municipality}",
    "Davidsfonds {municipality}",
    "Samenlevingsopbouw West-Vlaanderen",
    "Huis van het Kind Westhoek",
    "Natuurpunt Westhoek",
    "Vrijwilligerspunt {municipality}",
    "CVO Miras",
    "Rode Kruis {municipality}",
)

# (title, eventtype id, eventtype label, themes, preferred calendar types)
ACTIVITIES: tuple[tuple[str, str, str, tuple[tuple[str, str], ...], tuple[str, ...]], ...] = (
    (
        "Taalcafé",
        "0.3.1.0.1",
        "Cursus met open sessies",
        (("1.11.1.0.0", "Taal en communicatie"), ("1.43.0.0.0", "Interculturele vorming")),
        ("multiple", "periodic"),
    ),
    (
        "Conversatietafel Nederlands",
        "0.3.1.0.0",
        "Lessenreeks",
        (("1.11.1.0.0", "Taal en communicatie"),),
        ("multiple", "periodic"),
    ),
    (
        "Babbelwandeling",
        "0.17.0.0.0",
        "Fiets- of wandelroute",
        (("1.51.14.0.0", "Atletiek, wandelen en fietsen"), ("1.64.0.0.0", "Milieu en natuur")),
        ("single", "multiple"),
    ),
    (
        "Samen koken uit de wereldkeuken",
        "0.3.1.0.0",
        "Lessenreeks",
        (("1.65.0.0.0", "Voeding"), ("1.43.0.0.0", "Interculturele vorming")),
        ("multiple",),
    ),
    (
        "Voorleesuurtje in makkelijk Nederlands",
        "0.3.2.0.0",
        "Lezing of congres",
        (("1.10.0.0.0", "Literatuur"),),
        ("single", "multiple"),
    ),
    (
        "Fietsles voor volwassenen",
        "0.3.1.0.0",
        "Lessenreeks",
        (("1.51.14.0.0", "Atletiek, wandelen en fietsen"),),
        ("multiple", "periodic"),
    ),
    (
        "Breicafé",
        "0.3.1.0.1",
        "Cursus met open sessies",
        (("1.42.0.0.0", "Creativiteit"),),
        ("periodic", "multiple"),
    ),
    (
        "Repair Café",
        "0.28.0.0.0",
        "Festiviteit",
        (("1.64.0.0.0", "Milieu en natuur"), ("1.37.2.0.0", "Samenleving")),
        ("single", "multiple"),
    ),
    (
        "Petanque voor iedereen",
        "0.59.0.0.0",
        "Sportactiviteit",
        (("1.51.10.0.0", "Volkssporten"),),
        ("periodic", "multiple"),
    ),
    (
        "Zwemmen voor vrouwen",
        "0.59.0.0.0",
        "Sportactiviteit",
        (("1.51.3.0.0", "Zwemmen en watersport"),),
        ("multiple", "periodic"),
    ),
    (
        "Rondleiding in eenvoudig Nederlands",
        "0.7.0.0.0",
        "Begeleide uitstap of rondleiding",
        (("1.40.0.0.0", "Erfgoed"), ("1.11.0.0.0", "Geschiedenis")),
        ("single", "multiple"),
    ),
    (
        "Spelletjesnamiddag",
        "0.50.21.0.0",
        "Spel of quiz",
        (("1.61.0.0.0", "Persoon en relaties"),),
        ("single", "periodic"),
    ),
    (
        "Wereldconcert",
        "0.50.4.0.0",
        "Concert",
        (("1.8.4.0.0", "Folk en wereldmuziek"),),
        ("single",),
    ),
    ("Buurtfeest", "0.28.0.0.0", "Festiviteit", (("1.37.2.0.0", "Samenleving"),), ("single",)),
    (
        "Expo 'Thuis in de Westhoek'",
        "0.0.0.0.0",
        "Tentoonstelling",
        (("1.0.6.0.0", "Fotografie"), ("1.43.0.0.0", "Interculturele vorming")),
        ("periodic", "permanent"),
    ),
    (
        "Moestuinieren met buren",
        "0.3.1.0.0",
        "Lessenreeks",
        (("1.64.0.0.0", "Milieu en natuur"),),
        ("periodic", "multiple"),
    ),
    (
        "Open bibliotheek: ontdek de bib",
        "0.12.0.0.0",
        "Opendeurdag",
        (("1.10.0.0.0", "Literatuur"),),
        ("permanent", "single"),
    ),
    (
        "Sportkamp voor nieuwkomers",
        "0.57.0.0.0",
        "Kamp of vakantie",
        (("1.51.12.0.0", "Omnisport en andere"),),
        ("periodic",),
    ),
    (
        "Soepcafé",
        "1.50.0.0.0",
        "Eet- of drankfestijn",
        (("1.65.0.0.0", "Voeding"),),
        ("multiple", "single"),
    ),
)

TAALICONEN = ("één taalicoon", "twee taaliconen", "drie taaliconen", "vier taaliconen")
LEGACY_MATCHING = ("Één Taalicoon", "Twee Taaliconen", "Drie Taaliconen", "Vier Taaliconen")
LEGACY_NON_MATCHING = ("een taalicoon", "Twee_Taaliconen", "Drie_Taaliconen", "vier taalicoon")
OTHER_LABELS = (
    "UiTPAS Westhoek",
    "ook voor kinderen",
    "Vrijetijdsparticipatie",
    "samen Nederlands oefenen",
    "Week van de Nederlandse Taal",
    "toegankelijk voor rolstoelgebruikers",
    "gratis",
)

INTROS = (
    "Wil je Nederlands oefenen in een ontspannen sfeer?",
    "Ben je nieuw in de buurt en wil je mensen leren kennen?",
    "Heb je zin om iets nieuws te leren en tegelijk je Nederlands te verbeteren?",
    "Zoek je een gezellige plek om te praten, te lachen en samen iets te doen?",
)
BODIES = (
    "We praten over alledaagse dingen: het weer, eten, werk en vrije tijd.",
    "Vrijwilligers helpen je op weg. Fouten maken mag, daar leer je van!",
    "Je hoeft niet goed Nederlands te spreken. Je leert al doende.",
    "Na afloop drinken we samen koffie of thee en praten we nog wat na.",
    "Breng gerust een vriend of vriendin mee.",
)
FR = ("Pratiquez le néerlandais dans une ambiance détendue.", "Activité en néerlandais simple.")
EN = ("Practise Dutch in a relaxed atmosphere.", "An activity in easy Dutch for newcomers.")
DE = ("Üben Sie Niederländisch in entspannter Atmosphäre.",)


def _brussels(moment: datetime) -> datetime:
    """UTC → Europe/Brussels by the EU rule (last Sunday of March/October, 01:00 UTC)."""

    def last_sunday(year: int, month: int) -> datetime:
        day = datetime(year, month, 31, 1, 0, tzinfo=UTC)
        return day - timedelta(days=(day.weekday() + 1) % 7)

    utc = moment.astimezone(UTC)
    summer = last_sunday(utc.year, 3) <= utc < last_sunday(utc.year, 10)
    return utc.astimezone(timezone(timedelta(hours=2 if summer else 1)))


def _local(year: int, month: int, day: int, hour: int, minute: int = 0) -> str:
    """A Belgian wall-clock time with its offset, as UiTdatabank writes calendar dates."""
    offset = _brussels(datetime(year, month, day, 12, tzinfo=UTC)).utcoffset() or timedelta(hours=1)
    return datetime(year, month, day, hour, minute, tzinfo=timezone(offset)).isoformat()


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


class _World:
    """Places and organizers reused across events, as in a real database."""

    def __init__(self, rng: random.Random) -> None:
        self.places: list[dict[str, Any]] = []
        for postal_code in POSTAL_CODES:
            towns = [(m, t) for m, v in WESTHOEK.items() for t, pc in v if pc == postal_code]
            for _ in range(2):
                municipality, town = rng.choice(towns)
                name, type_id, type_label = rng.choice(PLACE_KINDS)
                self.places.append(
                    {
                        "@id": f"{IO}/places/{_uuid(rng)}",
                        "@type": "Place",
                        "mainLanguage": "nl",
                        "name": {"nl": name.format(town=town)},
                        "address": {
                            "nl": {
                                "addressCountry": "BE",
                                "addressLocality": town,
                                "postalCode": postal_code,
                                "streetAddress": f"{rng.choice(STREETS)} {rng.randint(1, 180)}",
                            }
                        },
                        "geo": {
                            "latitude": round(50.75 + rng.random() * 0.35, 6),
                            "longitude": round(2.55 + rng.random() * 0.55, 6),
                        },
                        "terms": [{"id": type_id, "label": type_label, "domain": "eventtype"}],
                        "workflowStatus": "APPROVED",
                        "_municipality": municipality,
                    }
                )
        self.organizers: list[dict[str, Any]] = []
        for municipality in WESTHOEK:
            for _ in range(2):
                template = rng.choice(ORGANIZERS)
                name = template.format(municipality=municipality)
                slug = name.lower().replace(" ", "").replace("'", "")[:24]
                self.organizers.append(
                    {
                        "@id": f"{IO}/organizers/{_uuid(rng)}",
                        "@type": "Organizer",
                        "mainLanguage": "nl",
                        "name": {"nl": name},
                        "url": f"https://www.{slug}.be",
                        "email": [f"info@{slug}.be"],
                        "phone": [
                            f"05{rng.randint(1, 9)} {rng.randint(10, 99)} "
                            f"{rng.randint(10, 99)} {rng.randint(10, 99)}"
                        ],
                        "workflowStatus": "ACTIVE",
                    }
                )


def _description(rng: random.Random, title: str, place: str, url: str) -> str:
    items = rng.sample(
        [
            "je leert nieuwe mensen kennen",
            "je oefent Nederlands",
            "deelname is gratis",
            "kinderopvang is mogelijk",
            "je hoeft niets mee te brengen",
            "er is koffie en thee",
        ],
        k=rng.randint(2, 4),
    )
    parts = [
        f"<p><strong>{title}</strong> in {place}. {rng.choice(INTROS)}</p>",
        f"<p>{' '.join(rng.sample(BODIES, k=2))}</p>",
        "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>",
        f'<p>Meer info en inschrijven: <a href="{url}">{url}</a></p>',
    ]
    return "\n".join(parts)


def _calendar(rng: random.Random, kind: str, base: datetime) -> dict[str, Any]:
    """Calendar fields for 2026-2027, times in Belgian local time."""
    first = base + timedelta(days=rng.randint(3, 300))
    hour = rng.choice([9, 10, 13, 14, 18, 19])
    duration = rng.choice([1, 2, 2, 3])
    opening = {
        "dayOfWeek": rng.sample(
            ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday"],
            k=rng.randint(1, 3),
        ),
        "opens": f"{hour:02d}:00",
        "closes": f"{hour + duration:02d}:00",
    }

    def occurrence(day: datetime, index: int | None, varied: bool) -> dict[str, Any]:
        sub: dict[str, Any] = {
            "@type": "Event",
            "startDate": _local(day.year, day.month, day.day, hour),
            "endDate": _local(day.year, day.month, day.day, hour + duration),
            "status": {"type": "Available"},
            "bookingAvailability": {"type": "Available"},
        }
        if index is not None:
            sub["id"] = index
        if varied:
            roll = rng.random()
            if roll < 0.08:
                sub["status"] = {
                    "type": "Unavailable",
                    "reason": {"nl": "Afgelast wegens ziekte van de begeleider."},
                }
            elif roll < 0.14:
                sub["status"] = {
                    "type": "TemporarilyUnavailable",
                    "reason": {"nl": "Uitgesteld, nieuwe datum volgt."},
                }
            elif roll < 0.22:
                sub["bookingAvailability"] = {"type": "Unavailable"}
        return sub

    if kind == "single":
        sub = occurrence(first, 0, varied=False)
        return {
            "calendarType": "single",
            "startDate": sub["startDate"],
            "endDate": sub["endDate"],
            "subEvent": [sub],
        }
    if kind == "multiple":
        count = rng.randint(2, 6)
        step = rng.choice([1, 7, 7, 14])
        subs = [occurrence(first + timedelta(days=i * step), i, varied=True) for i in range(count)]
        return {
            "calendarType": "multiple",
            "startDate": subs[0]["startDate"],
            "endDate": subs[-1]["endDate"],
            "subEvent": subs,
        }
    if kind == "periodic":
        last = first + timedelta(days=rng.randint(14, 180))
        calendar: dict[str, Any] = {
            "calendarType": "periodic",
            "startDate": _local(first.year, first.month, first.day, 0),
            "endDate": _local(last.year, last.month, last.day, 23, 59),
            "openingHours": [opening],
        }
        return calendar
    return {"calendarType": "permanent", "openingHours": [opening]}


def _labels(rng: random.Random) -> tuple[list[str], list[str]]:
    level = rng.choices([1, 2, 3, 4], weights=[35, 35, 20, 10])[0]
    icons = [TAALICONEN[level - 1]]
    if rng.random() < 0.10:  # two levels on one event: moderators must see both
        other = level + 1 if level < 4 else level - 1
        icons.append(TAALICONEN[other - 1])
    roll = rng.random()
    if roll < 0.06:
        icons[0] = LEGACY_MATCHING[level - 1]  # capitals still match: SAPI3 ignores case
    elif roll < 0.11:
        icons.append(LEGACY_NON_MATCHING[level - 1])  # extra legacy spelling next to the real one
    extra = rng.sample(OTHER_LABELS, k=rng.choice([0, 0, 1, 2]))
    if rng.random() < 0.2:
        return extra, icons  # taaliconen sometimes live in hiddenLabels only
    hidden = ["kansentarief"] if rng.random() < 0.1 else []
    return icons + extra, hidden


def _price(rng: random.Random) -> list[dict[str, Any]]:
    if rng.random() < 0.45:
        return [
            {
                "category": "base",
                "name": {"nl": "Basistarief"},
                "price": 0.0,
                "priceCurrency": "EUR",
            }
        ]
    base = rng.choice([2.0, 3.0, 5.0, 7.5, 10.0, 12.0, 25.0])
    tariffs = [
        {
            "category": "base",
            "name": {"nl": "Basistarief", "fr": "Tarif de base", "en": "Base tariff"},
            "price": base,
            "priceCurrency": "EUR",
        }
    ]
    if rng.random() < 0.5:
        tariffs.append(
            {
                "category": "tariff",
                "name": {"nl": "Kinderen (-12 jaar)"},
                "price": round(base / 2, 2),
                "priceCurrency": "EUR",
            }
        )
    if rng.random() < 0.35:
        tariffs.append(
            {
                "category": "uitpas",
                "name": {"nl": "UiTPAS Westhoek kansentarief"},
                "price": round(base * 0.2, 2),
                "priceCurrency": "EUR",
            }
        )
    return tariffs


def make_event(
    rng: random.Random,
    world: _World,
    *,
    modified: datetime,
    created: datetime | None = None,
) -> dict[str, Any]:
    """One realistic event document; `modified` is written as given (UTC, second precision)."""
    eid = _uuid(rng)
    title, type_id, type_label, themes, kinds = rng.choice(ACTIVITIES)
    place = rng.choice(world.places)
    organizer = dict(rng.choice(world.organizers))
    town = place["address"]["nl"]["addressLocality"]
    created = created or modified - timedelta(
        days=rng.randint(0, 120), seconds=rng.randint(0, 86399)
    )
    kind = (
        rng.choice(kinds)
        if rng.random() < 0.85
        else rng.choice(["single", "multiple", "periodic", "permanent"])
    )
    calendar = _calendar(rng, kind, datetime(2026, 11, 15, tzinfo=UTC))
    slug = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in title.lower())[:30]
    url = f"https://www.uitinvlaanderen.be/agenda/e/{slug.strip('-')}/{eid}"
    name = {"nl": f"{title} in {town}" if rng.random() < 0.6 else title}
    description = {"nl": _description(rng, title, town, url)}
    languages = ["nl"]
    for lang, texts in (("fr", FR), ("en", EN), ("de", DE)):
        if rng.random() < {"fr": 0.25, "en": 0.2, "de": 0.05}[lang]:
            languages.append(lang)
            name[lang] = f"{title} ({lang})"
            description[lang] = f"<p>{rng.choice(texts)}</p>"
    labels, hidden = _labels(rng)
    chosen_themes = rng.sample(list(themes), k=min(len(themes), rng.randint(0, 2)))
    terms = [{"id": type_id, "label": type_label, "domain": "eventtype"}] + [
        {"id": tid, "label": tlabel, "domain": "theme"} for tid, tlabel in chosen_themes
    ]
    public_place = {k: v for k, v in place.items() if not k.startswith("_")}
    if kind == "permanent":
        available_to = "2100-01-01T00:00:00+00:00"
    elif type_id in ("0.3.1.0.0", "0.57.0.0.0"):
        # Course series and camps stop being visible once they have started (SAPI3 rule).
        available_to = calendar["startDate"]
    else:
        available_to = calendar["endDate"]
    event: dict[str, Any] = {
        "@id": f"{IO}/event/{eid}",
        "@context": "/contexts/event",
        "@type": "Event",
        "mainLanguage": "nl",
        "languages": languages,
        "completedLanguages": languages if rng.random() < 0.7 else ["nl"],
        "name": name,
        "description": description,
        **calendar,
        "status": {"type": "Available"},
        "bookingAvailability": {"type": "Available"},
        "attendanceMode": "offline",
        "location": public_place,
        "organizer": organizer,
        "terms": terms,
        "labels": labels,
        "typicalAgeRange": rng.choice(["18-", "16-", "12-", "-", "6-12", "-"]),
        "audience": {"audienceType": "members" if rng.random() < 0.03 else "everyone"},
        "priceInfo": _price(rng),
        "contactPoint": {
            "phone": organizer["phone"] if rng.random() < 0.7 else [],
            "email": organizer["email"] if rng.random() < 0.8 else [],
            "url": [organizer["url"]] if rng.random() < 0.5 else [],
        },
        "workflowStatus": "APPROVED" if rng.random() < 0.9 else "READY_FOR_VALIDATION",
        "availableFrom": _iso(created),
        "availableTo": available_to,
        "sameAs": [url],
        "creator": f"{_uuid(rng)}",
        "created": _iso(created),
        "modified": _iso(modified),
    }
    if hidden:
        event["hiddenLabels"] = hidden
    if rng.random() < 0.6:
        event["bookingInfo"] = {
            "phone": organizer["phone"][0],
            "email": organizer["email"][0],
            "url": organizer["url"] + "/inschrijven",
            "urlLabel": {"nl": "Schrijf je in", "fr": "Réservez", "en": "Book now"},
        }
    if rng.random() < 0.65:
        image_id = _uuid(rng)
        content = f"https://images.uitdatabank.be/20261015/{image_id}.jpg"
        event["image"] = content
        event["mediaObject"] = [
            {
                "@id": f"{IO}/images/{image_id}",
                "@type": "schema:ImageObject",
                "id": image_id,
                "contentUrl": content,
                "thumbnailUrl": content,
                "description": f"Sfeerbeeld {title.lower()}",
                "copyrightHolder": organizer["name"]["nl"],
                "inLanguage": "nl",
            }
        ]
    if kind == "multiple" and all(
        sub["status"]["type"] == "Unavailable" for sub in calendar["subEvent"]
    ):
        event["status"] = {"type": "Unavailable"}
    return event


def generate_events(
    n: int, *, seed: int = 1, start: datetime = DEFAULT_START, ties: int = 5
) -> list[dict[str, Any]]:
    """`n` events with increasing `modified`, about `ties` sharing each second."""
    rng = random.Random(seed)
    world = _World(rng)
    moment = start.astimezone(UTC).replace(microsecond=0)
    events = []
    for _ in range(n):
        events.append(make_event(rng, world, modified=moment))
        if ties <= 1 or rng.random() < 1 / ties:
            moment += timedelta(seconds=rng.randint(1, 90))
    return events


# Edge cases, keyed by what they test; the SAPI3 query of the connector excludes some of them.
# Legacy spellings (`een taalicoon`, `twee_taaliconen`) are asked for by name, so they match.
EXCLUDED_BY_QUERY = frozenset({"no_taalicoon", "outside_region", "online"})


def generate_edge_events(
    *, seed: int = 2, start: datetime = DEFAULT_START
) -> dict[str, dict[str, Any]]:
    """Events the server's filter must exclude (EXCLUDED_BY_QUERY) or still include."""
    rng = random.Random(seed)
    world = _World(rng)
    moment = start.astimezone(UTC).replace(microsecond=0)
    out: dict[str, dict[str, Any]] = {}
    names = (
        "no_taalicoon",
        "outside_region",
        "online",
        "legacy_een_only",
        "legacy_underscore_only",
        "capitalised_label",
        "hidden_label_only",
        "two_levels",
        "deleted",
        "members_only",
        "expired",
    )
    for name in names:
        event = make_event(rng, world, modified=moment)
        moment += timedelta(seconds=1)
        event["labels"] = ["één taalicoon"]
        event.pop("hiddenLabels", None)
        if name == "no_taalicoon":
            event["labels"] = ["UiTPAS Westhoek"]
        elif name == "outside_region":
            event["location"] = {
                "@id": f"{IO}/places/{_uuid(rng)}",
                "@type": "Place",
                "name": {"nl": "Hungaria"},
                "address": {
                    "nl": {
                        "addressCountry": "BE",
                        "addressLocality": "Leuven",
                        "postalCode": "3000",
                        "streetAddress": "Vaartkom 35",
                    }
                },
            }
        elif name == "online":
            event["attendanceMode"] = "online"
            event["onlineUrl"] = "https://meet.example.org/taalcafe"
            event["location"] = {
                "@id": NIL_PLACE,
                "@type": "Place",
                "name": {"nl": "Online"},
                "address": {
                    "nl": {
                        "addressCountry": "BE",
                        "addressLocality": "Online",
                        "postalCode": "0000",
                        "streetAddress": "Online",
                    }
                },
            }
        elif name == "legacy_een_only":
            event["labels"] = ["een taalicoon"]  # no accents: matched only when asked by name
        elif name == "legacy_underscore_only":
            event["labels"] = ["Twee_Taaliconen"]
        elif name == "capitalised_label":
            event["labels"] = ["Drie Taaliconen"]
        elif name == "hidden_label_only":
            event["labels"] = ["ook voor kinderen"]
            event["hiddenLabels"] = ["vier taaliconen"]
        elif name == "two_levels":
            event["labels"] = ["twee taaliconen", "drie taaliconen"]
        elif name == "deleted":
            event["workflowStatus"] = "DELETED"
        elif name == "members_only":
            event["audience"] = {"audienceType": "members"}
        elif name == "expired":
            event["availableTo"] = "2026-01-31T23:59:59+01:00"
        out[name] = event
    return out


_ALL_TAALICOON_SPELLINGS = frozenset(
    label.casefold() for label in (*TAALICONEN, *LEGACY_MATCHING, *LEGACY_NON_MATCHING)
)


def generate_uit_offer(
    n: int,
    *,
    seed: int = 3,
    start: datetime = DEFAULT_START,
    taalicoon_share: float = 0.4,
    never_share: float = 0.35,
) -> list[dict[str, Any]]:
    """The region's whole UiT offer: events with and without taaliconen. A share of the
    organizers never labels an event (who the coordinator should call), the others label
    about `taalicoon_share` of theirs."""
    events = generate_events(n, seed=seed, start=start)
    rng = random.Random(seed + 1000)
    never: dict[str, bool] = {}
    for event in events:
        organizer = event["organizer"]["@id"]
        if organizer not in never:
            never[organizer] = rng.random() < never_share
        if never[organizer] or rng.random() >= taalicoon_share:
            for key in ("labels", "hiddenLabels"):
                if key in event:
                    event[key] = [
                        label for label in event[key]
                        if label.casefold() not in _ALL_TAALICOON_SPELLINGS
                    ]
    return events
