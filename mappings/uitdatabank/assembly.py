"""One mapping pass: skip checks first, then the activity assembled from the readers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mappings.activity_types import TypeTable
from mappings.taaliconen import taalicoon_level
from mappings.uitdatabank import calendar as cal
from mappings.uitdatabank import offer
from mappings.uitdatabank.html import describe
from mappings.uitdatabank.place import (
    DEFAULT_LANGUAGE,
    NoPostalCode,
    is_education_dummy,
    is_online_only,
    locate,
)
from mappings.uitdatabank.readers import (
    as_list,
    as_object,
    as_str,
    kind,
    lang_map,
    last_segment,
    opt_iso,
    status,
    unavailable,
)
from sync.domain.activity import (
    ATTENDANCE_MIXED,
    ATTENDANCE_OFFLINE,
    AUDIENCE_EDUCATION,
    SKIP_CANCELLED,
    SKIP_DELETED,
    SKIP_DRAFT,
    SKIP_EDUCATION,
    SKIP_NO_LANGUAGE_ICON,
    SKIP_NO_POSTAL_CODE,
    SKIP_ONLINE_ONLY,
    SKIP_OUTSIDE_REGION,
    SKIP_REJECTED,
    STATUS_AVAILABLE,
    STATUS_CANCELLED,
    MappingError,
    NormalisedActivity,
    Place,
    Skipped,
)
from sync.domain.calendar import next_occurrence
from sync.domain.region import Region

_WORKFLOW_SKIPS: dict[str, str] = {
    "DELETED": SKIP_DELETED,
    "REJECTED": SKIP_REJECTED,
    "DRAFT": SKIP_DRAFT,
}


class Mapper:
    """One mapping pass; `at` names the field being processed, for the safety net's message."""

    def __init__(self, region: Region, types: TypeTable) -> None:
        self.region = region
        self.types = types
        self.at = "$"

    def run(self, doc: Any, as_of: Any) -> NormalisedActivity | Skipped:
        self.at = "as_of"
        if not isinstance(as_of, datetime):
            raise MappingError("as_of", f"expected a datetime, got {kind(as_of)}")
        now = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)

        self.at = "$"
        if not isinstance(doc, Mapping):
            raise MappingError("$", f"expected a JSON object, got {kind(doc)}")

        self.at = "@id"
        url = as_str(doc.get("@id"), "@id")
        if url is None:
            raise MappingError("@id", "missing")
        source_id = last_segment(url)
        if source_id is None:
            raise MappingError("@id", f"no id segment in {url[:60]!r}")

        # Skips come before any other validation: a deleted or foreign event with a broken
        # calendar must still be withdrawn, not parked as a failure.
        self.at = "modified"
        skip_modified = self._modified_for_skip(doc)

        def skip(reason: str) -> Skipped:
            return Skipped(source_id, reason, skip_modified)

        self.at = "workflowStatus"
        workflow = self._workflow(doc)
        if workflow in _WORKFLOW_SKIPS:
            return skip(_WORKFLOW_SKIPS[workflow])

        self.at = "labels"
        labels = self._labels(doc)
        levels = tuple(sorted({lvl for lvl in map(taalicoon_level, labels) if lvl is not None}))
        if not levels:
            return skip(SKIP_NO_LANGUAGE_ICON)

        self.at = "audience"
        audience = offer.audience(doc.get("audience"))
        if audience == AUDIENCE_EDUCATION or is_education_dummy(doc):
            return skip(SKIP_EDUCATION)

        self.at = "attendanceMode"
        if is_online_only(doc):
            return skip(SKIP_ONLINE_ONLY)

        self.at = "mainLanguage"
        main_language = as_str(doc.get("mainLanguage"), "mainLanguage") or DEFAULT_LANGUAGE

        self.at = "location"
        try:
            located = locate(doc.get("location"), main_language, self.region)
        except NoPostalCode:
            return skip(SKIP_NO_POSTAL_CODE)
        if located.place is None:
            return skip(SKIP_OUTSIDE_REGION)

        self.at = "status"
        event_status = status(doc.get("status"), "status", STATUS_AVAILABLE)
        if event_status == STATUS_CANCELLED:
            return skip(SKIP_CANCELLED)

        return self._activity(doc, source_id, url, main_language, levels, labels,
                              located.place, event_status, workflow, audience, now)

    # -- skip checks --

    def _modified_for_skip(self, doc: Mapping[str, Any]) -> str | None:
        # Best effort: a skip must go through even when its timestamp is unusable.
        for key in ("modified", "created"):
            try:
                value = opt_iso(doc.get(key), key)
            except MappingError:
                continue
            if value is not None:
                return value
        return None

    def _workflow(self, doc: Mapping[str, Any]) -> str:
        value = doc.get("workflowStatus")
        if value is None:
            return "APPROVED"  # older documents predate the field; they were published
        if not isinstance(value, str):
            raise MappingError("workflowStatus", f"expected a string, got {kind(value)}")
        return value.strip().upper() or "APPROVED"

    def _labels(self, doc: Mapping[str, Any]) -> tuple[str, ...]:
        out: list[str] = []
        for key in ("labels", "hiddenLabels"):
            value = doc.get(key)
            if isinstance(value, str):
                value = [value]
            elif isinstance(value, Mapping):
                value = list(value.values())
            elif not isinstance(value, list):
                continue  # a label container of the wrong type carries no labels
            out.extend(v.strip() for v in value if isinstance(v, str) and v.strip())
        return tuple(out)

    # -- the full activity --

    def _activity(
        self, doc: Mapping[str, Any], source_id: str, url: str, main_language: str,
        levels: tuple[int, ...], labels: tuple[str, ...], place: Place, event_status: str,
        workflow: str, audience: str, as_of: datetime,
    ) -> NormalisedActivity:
        self.at = "name"
        title = lang_map(doc.get("name"), "name", main_language)
        if not title:
            raise MappingError("name", "missing, or no non-empty title in any language")

        self.at = "description"
        descriptions = lang_map(doc.get("description"), "description", main_language,
                                multiline=True)
        description_html: dict[str, str] = {}
        description_text: dict[str, str] = {}
        for lang, raw in descriptions.items():
            cleaned, text = describe(raw)  # raw is through multi_line already
            if cleaned and text:
                description_html[lang], description_text[lang] = cleaned, text

        self.at = "terms"
        event_type_id, theme_ids = self._terms(doc)

        self.at = "bookingAvailability"
        event_sold_out = unavailable(doc.get("bookingAvailability"), "bookingAvailability")

        self.at = "calendarType"
        calendar = cal.read_calendar(doc, event_status, event_sold_out)
        sub_events = calendar.occurrences if calendar.type == "multiple" else ()
        sold_out = event_sold_out or (bool(sub_events) and all(o.sold_out for o in sub_events))
        upcoming = next_occurrence(calendar, as_of)

        self.at = "status.reason"
        status_value = doc.get("status")
        status_reason = (
            lang_map(status_value.get("reason"), "status.reason", main_language)
            if isinstance(status_value, Mapping)
            else {}
        )

        self.at = "modified"
        modified = self._modified(doc)

        self.at = "priceInfo"
        price = offer.price(doc.get("priceInfo"), labels, main_language)
        self.at = "bookingInfo"
        booking = offer.booking(doc.get("bookingInfo"), main_language)
        self.at = "contactPoint"
        contact = offer.contact(doc.get("contactPoint"))
        self.at = "organizer"
        organizer = offer.organizer(doc.get("organizer"), main_language)
        self.at = "image"
        image, image_alt, image_credit = offer.image(doc)
        self.at = "typicalAgeRange"
        age_range = offer.age_range(doc.get("typicalAgeRange"))
        self.at = "availableFrom"
        available_from = opt_iso(doc.get("availableFrom"), "availableFrom")
        self.at = "availableTo"
        available_to = opt_iso(doc.get("availableTo"), "availableTo")
        self.at = "terms"
        facilities = offer.facilities(doc, self.types)
        self.at = "attendanceMode"
        mode = as_str(doc.get("attendanceMode"), "attendanceMode")
        attendance = ATTENDANCE_MIXED if mode and mode.casefold() == "mixed" else ATTENDANCE_OFFLINE
        online_url = (as_str(doc.get("onlineUrl"), "onlineUrl")
                      if attendance == ATTENDANCE_MIXED else None)
        self.at = "sameAs"
        nl_title = title.get("nl") or title.get(main_language) or next(iter(title.values()))
        people_url = offer.people_url(doc, source_id, nl_title)

        self.at = "$"
        return NormalisedActivity(
            source_id=source_id,
            url=people_url,
            source_url=url,
            main_language=main_language,
            languages=tuple(sorted(title)),
            title=title,
            description_html=description_html,
            description_text=description_text,
            language_levels=levels,
            activity_types=self.types.activity_types(event_type_id, theme_ids),
            event_type_id=event_type_id,
            event_type_label=self.types.event_type_label(event_type_id),
            theme_ids=theme_ids,
            place=place,
            calendar=calendar,
            status=event_status,
            sold_out=sold_out,
            workflow_status=workflow,
            modified=modified,
            status_reason=status_reason,
            price=price,
            booking=booking,
            contact=contact,
            organizer=organizer,
            image=image,
            image_alt=image_alt,
            image_credit=image_credit,
            age_range=age_range,
            audience=audience,
            available_from=available_from,
            available_to=available_to,
            next_occurrence=None if upcoming is None else upcoming.start.isoformat(),
            facilities=facilities,
            attendance_mode=attendance,
            online_url=online_url,
            children_only=doc.get("childrenOnly") is True,
            next_occurrence_over=None if upcoming is None or upcoming.over is None
            else upcoming.over.astimezone(UTC).isoformat(),
        )

    def _terms(self, doc: Mapping[str, Any]) -> tuple[str | None, tuple[str, ...]]:
        event_type_id: str | None = None
        themes: set[str] = set()
        for i, term in enumerate(as_list(doc.get("terms"), "terms")):
            entry = as_object(term, f"terms[{i}]")
            domain = entry.get("domain")
            if domain not in ("eventtype", "theme"):
                continue
            term_id = as_str(entry.get("id"), f"terms[{i}].id")
            if term_id is None:
                raise MappingError(f"terms[{i}].id", f"missing on a {domain} term")
            if domain == "eventtype":
                # There is one eventtype term; should a document carry more, the first wins.
                event_type_id = event_type_id or term_id
            else:
                themes.add(term_id)
        return event_type_id, tuple(sorted(themes))

    def _modified(self, doc: Mapping[str, Any]) -> str:
        modified = opt_iso(doc.get("modified"), "modified")
        if modified is not None:
            return modified
        created = opt_iso(doc.get("created"), "created")
        if created is not None:
            return created
        raise MappingError("modified", "missing, and no `created` to fall back on")
