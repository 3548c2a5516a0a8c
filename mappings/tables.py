"""Lookup tables for the UiTdatabank mapping: taalicoon labels and term ids → activity types."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from sync.domain.activity import ACTIVITY_TYPES

# --- Taaliconen -------------------------------------------------------------------------------
# The canonical labels are `één taalicoon` … `vier taaliconen`; older data writes `een`, uses
# underscores or capitals, and sometimes gets singular/plural wrong, so we key on the number word
# and accept either noun form.
_NUMBER_WORDS: dict[str, int] = {
    "een": 1,
    "1": 1,
    "twee": 2,
    "2": 2,
    "drie": 3,
    "3": 3,
    "vier": 4,
    "4": 4,
}
_NOUNS = frozenset({"taalicoon", "taaliconen"})
_SEPARATORS = re.compile(r"[\s_\-]+")


def _fold(text: str) -> str:
    # Accents are dropped so `één`, `eén` and `een` (and NFD-encoded variants) compare equal.
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SEPARATORS.sub(" ", stripped.casefold()).strip()


def taalicoon_level(label: object) -> int | None:
    """The language level (1–4) a label stands for, or None when it is no taalicoon label."""
    if not isinstance(label, str):
        return None
    words = _fold(label).split(" ")
    if len(words) != 2 or words[1] not in _NOUNS:
        return None
    return _NUMBER_WORDS.get(words[0])


def is_uitpas_label(label: object) -> bool:
    """UiTPAS labels come in many spellings (`UITPAS`, `UiTPAS Regio Aalst`, …)."""
    return isinstance(label, str) and "uitpas" in label.casefold()


# --- Event types → catalogue activity types ----------------------------------------------------
# Keyed by the taxonomy `eventtype` id (never the label: labels are stored at write time and go
# stale). Place-only event types (scope `places`) are left out: they never describe an event.
EVENT_TYPE_ACTIVITY_TYPES: dict[str, tuple[str, ...]] = {
    # Lessenreeks
    "0.3.1.0.0": ("Cursus",),
    # Cursus met open sessies: a course, but each session can be joined on its own like a workshop
    "0.3.1.0.1": ("Cursus", "Workshop"),
    # Lezing of congres
    "0.3.2.0.0": ("Culturele activiteit",),
    # Sportactiviteit
    "0.59.0.0.0": ("Sportactiviteit",),
    # Sportwedstrijd bekijken: newcomers look for sport by subject, watching included
    "0.19.0.0.0": ("Sportactiviteit",),
    # Begeleide uitstap of rondleiding
    "0.7.0.0.0": ("Uitstap",),
    # Fiets- of wandelroute: an outing that is also exercise
    "0.17.0.0.0": ("Sportactiviteit", "Uitstap"),
    # Kamp of vakantie
    "0.57.0.0.0": ("Uitstap",),
    # Beurs
    "0.6.0.0.0": ("Uitstap",),
    # Tentoonstelling
    "0.0.0.0.0": ("Culturele activiteit",),
    # Concert
    "0.50.4.0.0": ("Culturele activiteit",),
    # Film
    "0.50.6.0.0": ("Culturele activiteit",),
    # Festival
    "0.5.0.0.0": ("Culturele activiteit",),
    # Dansvoorstelling
    "0.54.0.0.0": ("Culturele activiteit",),
    # Theatervoorstelling
    "0.55.0.0.0": ("Culturele activiteit",),
    # Festiviteit
    "0.28.0.0.0": ("Ontmoeting",),
    # Eet- of drankfestijn
    "1.50.0.0.0": ("Ontmoeting",),
    # Party of fuif
    "0.49.0.0.0": ("Ontmoeting",),
    # Spel of quiz
    "0.50.21.0.0": ("Ontmoeting",),
    # Markt, braderie of kermis
    "0.37.0.0.0": ("Ontmoeting",),
    # Opendeurdag: a low-threshold way to meet an organisation and its people
    "0.12.0.0.0": ("Ontmoeting",),
    # Activiteit met de jeugdbeweging
    "8aRjN4dGsXuE6tBkM1pVwQ": ("Vereniging",),
    # Speelpleinwerking: run like a youth movement, by volunteer monitors
    "hZ5fCyL9nKqW3xDvTrJ2gP": ("Vereniging",),
    # Not mapped on purpose (→ Andere unless a theme adds a type):
    # 0.51.0.0.0 Type onbepaald, K7mPx3nQrT9bWfH2zL5cYv Kinderopvang.
}

# --- Themes that add an activity type ----------------------------------------------------------
# A theme adds a type on top of the event type, so a generic event (Festiviteit, Type onbepaald)
# with a sport or arts theme still lands in the right catalogue section.
THEME_ACTIVITY_TYPES: dict[str, tuple[str, ...]] = {
    # Sport themes (suggested under Sportwedstrijd bekijken)
    "1.51.3.0.0": ("Sportactiviteit",),  # Zwemmen en watersport
    "1.51.6.0.0": ("Sportactiviteit",),  # Fitness, gymnastiek, dans en vechtsport
    "1.51.10.0.0": ("Sportactiviteit",),  # Volkssporten
    "1.51.11.0.0": ("Sportactiviteit",),  # Outdoor en Adventure sport
    "1.51.12.0.0": ("Sportactiviteit",),  # Omnisport en andere
    "1.51.13.0.0": ("Sportactiviteit",),  # Bal en racketsport
    "1.51.14.0.0": ("Sportactiviteit",),  # Atletiek, wandelen en fietsen
    "1.58.8.0.0": ("Sportactiviteit",),  # Lucht en motorsport
    # Visual arts themes (suggested under Tentoonstelling)
    "1.0.1.0.0": ("Culturele activiteit",),  # Schilderkunst
    "1.0.2.0.0": ("Culturele activiteit",),  # Beeldhouwkunst
    "1.0.3.0.0": ("Culturele activiteit",),  # Installatiekunst
    "1.0.4.0.0": ("Culturele activiteit",),  # Grafiek
    "1.0.5.0.0": ("Culturele activiteit",),  # Decoratieve kunst
    "1.0.6.0.0": ("Culturele activiteit",),  # Fotografie
    "1.0.9.0.0": ("Culturele activiteit",),  # Meerdere kunstvormen
    "1.1.0.0.0": ("Culturele activiteit",),  # Audiovisuele kunst
    "1.2.1.0.0": ("Culturele activiteit",),  # Architectuur
    "1.2.2.0.0": ("Culturele activiteit",),  # Design
    "1.41.0.0.0": ("Culturele activiteit",),  # Kunst en kunsteducatie
    # Literature themes
    "1.10.0.0.0": ("Culturele activiteit",),  # Literatuur
    "1.10.5.0.0": ("Culturele activiteit",),  # Poezie
    "1.10.8.0.0": ("Culturele activiteit",),  # Strips
    # Stage themes (suggested under Theatervoorstelling / Festival)
    "0.52.0.0.0": ("Culturele activiteit",),  # Circus
    "1.3.1.0.0": ("Culturele activiteit",),  # Tekst en muziektheater
    "1.3.4.0.0": ("Culturele activiteit",),  # Mime en bewegingstheater
    "1.3.5.0.0": ("Culturele activiteit",),  # Figuren en poppentheater
    "1.3.10.0.0": ("Culturele activiteit",),  # Humor en comedy
    "1.4.0.0.0": ("Culturele activiteit",),  # Musical
    "1.5.0.0.0": ("Culturele activiteit",),  # Opera en operette
    # Dance themes (suggested under Dansvoorstelling)
    "1.9.1.0.0": ("Culturele activiteit",),  # Ballet en klassieke dans
    "1.9.2.0.0": ("Culturele activiteit",),  # Moderne dans
    "1.9.3.0.0": ("Culturele activiteit",),  # Volksdans en werelddans
    "1.9.5.0.0": ("Culturele activiteit",),  # Stijl en salondansen
    # Film themes (suggested under Film)
    "1.7.1.0.0": ("Culturele activiteit",),  # Documentaires en reportages
    "1.7.2.0.0": ("Culturele activiteit",),  # Actie- en avonturenfilm
    "1.7.3.0.0": ("Culturele activiteit",),  # Komedie
    "1.7.4.0.0": ("Culturele activiteit",),  # Drama
    "1.7.6.0.0": ("Culturele activiteit",),  # Griezelfilm of horror
    "1.7.7.0.0": ("Culturele activiteit",),  # Science fiction
    "1.7.8.0.0": ("Culturele activiteit",),  # Historische film
    "1.7.10.0.0": ("Culturele activiteit",),  # Filmmusical
    "1.7.11.0.0": ("Culturele activiteit",),  # Cinefiel
    "1.7.12.0.0": ("Culturele activiteit",),  # Animatie en kinderfilms
    "1.7.13.0.0": ("Culturele activiteit",),  # Kortfilm
    "1.7.14.0.0": ("Culturele activiteit",),  # Meerdere filmgenres
    "1.7.15.0.0": ("Culturele activiteit",),  # Thriller
    # Music themes (suggested under Concert)
    "1.8.1.0.0": ("Culturele activiteit",),  # Klassieke muziek
    "1.8.2.0.0": ("Culturele activiteit",),  # Jazz en blues
    "1.8.3.1.0": ("Culturele activiteit",),  # Pop en rock
    "1.8.3.2.0": ("Culturele activiteit",),  # Hip hop, rnb en rap
    "1.8.3.3.0": ("Culturele activiteit",),  # Dance muziek
    "1.8.3.5.0": ("Culturele activiteit",),  # Amusementsmuziek
    "1.8.4.0.0": ("Culturele activiteit",),  # Folk en wereldmuziek
    # Meeting themes: intercultural activities are about meeting people
    "1.43.0.0.0": ("Ontmoeting",),  # Interculturele vorming
    # Hands-on themes
    "1.42.0.0.0": ("Workshop",),  # Creativiteit
}

FALLBACK_ACTIVITY_TYPE = "Andere"


def activity_types(event_type_id: str | None, theme_ids: Iterable[str]) -> tuple[str, ...]:
    """Catalogue types for an event, in ACTIVITY_TYPES order; ("Andere",) when nothing matches."""
    found: set[str] = set()
    if event_type_id is not None:
        found.update(EVENT_TYPE_ACTIVITY_TYPES.get(event_type_id, ()))
    for theme_id in theme_ids:
        found.update(THEME_ACTIVITY_TYPES.get(theme_id, ()))
    if not found:
        return (FALLBACK_ACTIVITY_TYPE,)
    return tuple(t for t in ACTIVITY_TYPES if t in found)
