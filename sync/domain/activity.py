"""The normalised activity: what one feed event becomes in our catalogue."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

import orjson

# The ten catalogue activity types, in the catalogue's own order.
ACTIVITY_TYPES: tuple[str, ...] = (
    "Buddywerking",
    "Culturele activiteit",
    "Cursus",
    "Ontmoeting",
    "Sportactiviteit",
    "Uitstap",
    "Vereniging",
    "Vrijwilligerswerk",
    "Workshop",
    "Andere",
)

# What each language level (taalicoon count) tells a newcomer, in the moderators' Dutch.
LANGUAGE_LEVELS: dict[int, str] = {
    1: "Je begrijpt of spreekt nog weinig Nederlands.",
    2: "Je begrijpt al een beetje Nederlands, maar spreken is nog moeilijk.",
    3: "Je begrijpt al veel Nederlands en je kunt iets vertellen.",
    4: "Je begrijpt veel Nederlands en je spreekt het goed.",
}

# Event status (also per occurrence).
STATUS_AVAILABLE = "available"
STATUS_POSTPONED = "postponed"
STATUS_CANCELLED = "cancelled"

# Reasons an event does not (or no longer) belong in the catalogue. They are counted per run,
# and when the activity is already in the catalogue they withdraw it.
SKIP_NO_LANGUAGE_ICON = "no_language_icon"
SKIP_OUTSIDE_REGION = "outside_region"
SKIP_ONLINE_ONLY = "online_only"
SKIP_DELETED = "deleted"
SKIP_REJECTED = "rejected"
SKIP_CANCELLED = "cancelled"
SKIP_DRAFT = "draft"
# School groups only (publiq's `audience.audienceType = education`, or its dummy place for
# education events): never for a newcomer.
SKIP_EDUCATION = "education"
# The place has no postal code any more: we cannot tell its municipality, so it leaves.
SKIP_NO_POSTAL_CODE = "no_postal_code"
SKIP_REASONS: tuple[str, ...] = (
    SKIP_NO_LANGUAGE_ICON,
    SKIP_OUTSIDE_REGION,
    SKIP_ONLINE_ONLY,
    SKIP_DELETED,
    SKIP_REJECTED,
    SKIP_CANCELLED,
    SKIP_DRAFT,
    SKIP_EDUCATION,
    SKIP_NO_POSTAL_CODE,
)

# Audiences (publiq's `audience.audienceType`).
AUDIENCE_EVERYONE = "everyone"
AUDIENCE_MEMBERS = "members"
AUDIENCE_EDUCATION = "education"

# Attendance modes we keep (online-only events are skipped).
ATTENDANCE_OFFLINE = "offline"
ATTENDANCE_MIXED = "mixed"


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One dated occurrence (a sub-event, or the whole event for `single`/`periodic`)."""

    start: str  # ISO 8601, UTC
    end: str | None
    status: str = STATUS_AVAILABLE
    sold_out: bool = False
    # A date without a time of day (start at 00.00 and no end, or to 23.59): shown without
    # a time and over only when its day is over.
    all_day: bool = False


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """Weekly opening hours of a periodic or permanent event."""

    days: tuple[str, ...]  # schema.org day names: monday … sunday
    opens: str  # HH:MM
    closes: str  # HH:MM


@dataclass(frozen=True, slots=True)
class DayRange:
    """Closed days, or days with other opening hours, of a periodic or permanent calendar."""

    first: str  # ISO date (Europe/Brussels)
    last: str
    opening_hours: tuple[OpeningHours, ...] = ()


@dataclass(frozen=True, slots=True)
class Calendar:
    """When the activity takes place."""

    type: str  # single | multiple | periodic | permanent
    start: str | None = None
    end: str | None = None
    occurrences: tuple[Occurrence, ...] = ()
    opening_hours: tuple[OpeningHours, ...] = ()
    closed_days: tuple[DayRange, ...] = ()
    adjusted_days: tuple[DayRange, ...] = ()
    # SAPI3's ready-made Dutch summary; the only detail of legacy `multiple` events without
    # sub-events.
    summary: str | None = None


@dataclass(frozen=True, slots=True)
class Place:
    """Where the activity takes place; municipality resolved from the postal code."""

    id: str | None
    name: dict[str, str]
    street_address: str | None
    postal_code: str
    locality: str | None
    municipality: str
    nis: str


@dataclass(frozen=True, slots=True)
class Tariff:
    """One named price."""

    name: dict[str, str]
    price: float
    currency: str = "EUR"
    category: str = "tariff"  # tariff | uitpas (UiTPAS and kansentarief prices)


@dataclass(frozen=True, slots=True)
class Price:
    """Price information: free, a base price, other tariffs, UiTPAS."""

    is_free: bool
    base_price: float | None
    currency: str = "EUR"
    tariffs: tuple[Tariff, ...] = ()
    uitpas: bool = False


@dataclass(frozen=True, slots=True)
class Booking:
    """How to book."""

    url: str | None = None
    url_label: dict[str, str] = field(default_factory=dict)
    phone: str | None = None
    email: str | None = None
    # Booking period (bookingInfo.availabilityStarts/Ends), ISO 8601 UTC.
    opens: str | None = None
    closes: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    """How to get in touch."""

    urls: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Organizer:
    """Who organises the activity, and how to reach them."""

    id: str | None
    name: dict[str, str]
    url: str | None = None
    contact: Contact | None = None


@dataclass(frozen=True, slots=True)
class Facility:
    """An accessibility facility from the taxonomy (`domain: facility`)."""

    id: str
    label: str


@dataclass(frozen=True, slots=True)
class AgeRange:
    """Typical age range; None means open-ended."""

    min: int | None
    max: int | None


@dataclass(frozen=True, slots=True)
class NormalisedActivity:
    """One feed event, normalised for the catalogue. Built by a mapping; never does I/O."""

    source_id: str
    url: str  # the page for people (uitinvlaanderen.be)
    main_language: str
    languages: tuple[str, ...]  # languages the title is available in
    title: dict[str, str]
    description_html: dict[str, str]  # sanitised
    description_text: dict[str, str]
    language_levels: tuple[int, ...]  # sorted, unique, 1..4
    activity_types: tuple[str, ...]  # subset of ACTIVITY_TYPES, never empty
    event_type_id: str | None
    theme_ids: tuple[str, ...]
    place: Place
    calendar: Calendar
    status: str  # available | postponed | cancelled
    sold_out: bool
    workflow_status: str
    modified: str  # the source's `modified`, ISO 8601 UTC
    status_reason: dict[str, str] = field(default_factory=dict)
    price: Price | None = None
    booking: Booking | None = None
    contact: Contact | None = None
    organizer: Organizer | None = None
    image: str | None = None
    age_range: AgeRange | None = None
    audience: str = "everyone"
    available_from: str | None = None
    available_to: str | None = None
    next_occurrence: str | None = None  # relative to the mapping's `as_of`; not hashed
    source_url: str | None = None  # the document in the UiTdatabank API (JSON, `@id`)
    image_alt: str | None = None  # the image's description, for screen readers
    image_credit: str | None = None  # its copyright holder, shown with it
    facilities: tuple[Facility, ...] = ()
    attendance_mode: str = ATTENDANCE_OFFLINE
    online_url: str | None = None
    children_only: bool = False
    event_type_label: str | None = None
    # When `next_occurrence` is over and the next date takes its place (None: never, or no
    # next date); relative to `as_of` and not hashed, like it. Until then a re-read of the
    # same document maps to the same activity, so it need not be mapped again.
    next_occurrence_over: str | None = None

    @property
    def has_several_levels(self) -> bool:
        """Several taaliconen on one event: the moderator must look at it."""
        return len(self.language_levels) > 1

    def to_dict(self) -> dict[str, Any]:
        try:
            # orjson walks the dataclasses in C: about half the time of `to_plain`, same result.
            result: dict[str, Any] = orjson.loads(orjson.dumps(self))
        except (TypeError, orjson.JSONEncodeError):  # huge ints, lone surrogates
            result = to_plain(self)
        return result

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NormalisedActivity:
        """The activity of a stored version; fields missing in older versions get defaults."""
        result = from_plain(cls, data)
        assert isinstance(result, cls)
        return result

    @property
    def display_title(self) -> str:
        """The title a Dutch-speaking reader sees first: Dutch, the main language, any."""
        for lang in ("nl", self.main_language):
            if self.title.get(lang):
                return self.title[lang]
        return next((v for v in self.title.values() if v), self.source_id)

    @property
    def lowest_level(self) -> int:
        """The level a visitor needs at least (several taaliconen: the easiest applies)."""
        return min(self.language_levels)

    def content_hash(self) -> str:
        """Hash of what a moderator reviews: `modified` and the next date are left out."""
        return hash_of(self.to_dict())


class EncodedJson(str):
    """A value already written as JSON, byte for byte what a JSON column writes of it
    (orjson's output): stored as it is, not written again."""

    __slots__ = ()


def encoded(data: dict[str, Any]) -> EncodedJson | dict[str, Any]:
    """`data` as the JSON text its column would write, or itself where orjson cannot write
    it: a page's new activities wait for their batched insert as text, not as dicts."""
    try:
        return EncodedJson(orjson.dumps(data).decode())
    except (TypeError, orjson.JSONEncodeError):
        return data


def hash_of(data: dict[str, Any]) -> str:
    """The content hash of an activity's `to_dict()`."""
    content = {k: v for k, v in data.items() if k not in _NOT_HASHED}
    try:
        # orjson writes what `json.dumps(sort_keys, ensure_ascii=False, separators=(",", ":"))`
        # writes, about ten times faster, except floats below 1e-4 ("0.00001" against
        # "1e-05"): those take the slow path so stored hashes stay valid.
        blob = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
        if b"0.0000" not in blob:
            return hashlib.sha256(blob).hexdigest()
    except (TypeError, orjson.JSONEncodeError):
        pass  # non-string keys, huge ints, lone surrogates: the standard library decides
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


_NOT_HASHED = frozenset({"modified", "next_occurrence", "next_occurrence_over"})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def to_plain(value: Any) -> Any:
    """A dataclass as plain dicts and lists, the counterpart of `from_plain`."""
    # dataclasses.asdict deep-copies every leaf; this is the hot path of a sync, and our
    # leaves are immutable str/int/float/bool/None, so plain recursion is enough.
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    names = _FIELD_NAMES.get(type(value))
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(value))
        _FIELD_NAMES[type(value)] = names
    return {name: to_plain(getattr(value, name)) for name in names}


Convert = typing.Callable[[Any], Any]
# Per dataclass: its field names and one converter per field, worked out once from the
# annotations (reading them per value made parsing a stored activity five times slower).
_PLANS: dict[type, tuple[frozenset[str], dict[str, Convert]]] = {}


def from_plain(cls: Any, value: Any) -> Any:
    """Rebuild a dataclass tree (an activity or a part of one, e.g. its Calendar) from
    `to_dict` output, typed by the fields' annotations; missing fields take defaults."""
    if value is None:
        return None
    plan = _PLANS.get(cls)
    if plan is None:
        hints = typing.get_type_hints(cls)
        fields = dataclasses.fields(cls)
        plan = (frozenset(f.name for f in fields), {f.name: _converter(hints[f.name])
                                                    for f in fields})
        _PLANS[cls] = plan
    names, convert = plan
    return cls(**{k: convert[k](v) for k, v in value.items() if k in names})


def _as_is(value: Any) -> Any:
    return value


def _converter(hint: Any) -> Convert:
    """How to rebuild a value of this annotation from plain JSON data (None stays None)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        return _converter(inner[0]) if len(inner) == 1 else _as_is
    if origin is tuple:
        item = _converter(args[0])
        return lambda v: None if v is None else tuple(item(x) for x in v)
    if dataclasses.is_dataclass(hint):
        return lambda v: from_plain(hint, v)
    return _as_is


@dataclass(frozen=True, slots=True)
class Skipped:
    """An event that does not belong in the catalogue, with the counted reason."""

    source_id: str
    reason: str  # one of SKIP_REASONS
    modified: str | None = None


MappingOutcome = NormalisedActivity | Skipped


class MappingError(ValueError):
    """A record that cannot be normalised; the message names the field and the problem."""

    def __init__(self, field_path: str, message: str) -> None:
        self.field_path = field_path
        self.message = message
        super().__init__(f"{field_path}: {message}")
