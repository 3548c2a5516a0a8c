"""Where an event takes place: its address, municipality, and whether it is a real venue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mappings.uitdatabank.readers import as_object, as_str, lang_map, last_segment
from sync.domain.activity import MappingError, Place
from sync.domain.region import Region

NIL_PLACE_ID = "00000000-0000-0000-0000-000000000000"
ONLINE_POSTAL_CODE = "0000"
DEFAULT_LANGUAGE = "nl"


# The address to use, its path and its postal code.
Address = tuple[Mapping[str, Any], str, str]


class NoPostalCode(Exception):
    """The place has an address but no postal code: its municipality cannot be known."""


@dataclass(frozen=True, slots=True)
class Located:
    place: Place | None  # None: the postal code is outside the region
    postal_code: str


def address(location: Any, main_language: str) -> Address:
    """The address to use, its path and its postal code (language map or legacy flat)."""
    if location is None:
        raise MappingError("location", "missing")
    if isinstance(location, str):
        raise MappingError("location.address", "missing: the location is only a reference")
    loc = as_object(location, "location")
    found = as_object(loc.get("address"), "location.address")
    if not found:
        raise MappingError("location.address", "missing")
    if any(k in found for k in ("postalCode", "addressLocality", "streetAddress")):
        chosen, path = found, "location.address"
    elif isinstance(first := found.get(main_language), Mapping) and \
            first.get("postalCode") not in (None, ""):
        # The main language's address with a postal code comes first in the order below.
        chosen, path = first, f"location.address.{main_language}"
    else:
        order = [main_language, DEFAULT_LANGUAGE] + [k for k in found if isinstance(k, str)]
        candidates = [lang for lang in dict.fromkeys(order) if lang in found]
        usable = [(lang, found[lang]) for lang in candidates
                  if isinstance(found[lang], Mapping)]
        if not usable:
            raise MappingError("location.address", "no address in any language")
        with_code = [(lang, e) for lang, e in usable if e.get("postalCode") not in (None, "")]
        lang, chosen = (with_code or usable)[0]
        path = f"location.address.{lang}"
    postal_code = as_str(chosen.get("postalCode"), f"{path}.postalCode")
    if postal_code is None:
        raise NoPostalCode(path)
    return chosen, path, postal_code


def is_online_only(doc: Mapping[str, Any]) -> bool:
    mode = doc.get("attendanceMode")
    if isinstance(mode, str) and mode.strip().casefold() == "online":
        return True
    location = doc.get("location")
    ref = location if isinstance(location, str) else None
    if isinstance(location, Mapping):
        ref = location.get("@id") if isinstance(location.get("@id"), str) else None
    if ref is not None and last_segment(ref) == NIL_PLACE_ID:
        return True
    try:
        _, _, postal_code = address(location, DEFAULT_LANGUAGE)
    except (MappingError, NoPostalCode):
        return False  # reported properly, with its path, when the place is mapped
    return postal_code == ONLINE_POSTAL_CODE


def is_education_dummy(doc: Mapping[str, Any]) -> bool:
    """publiq's placeholder place for school events (`isDummyPlaceForEducationEvents`)."""
    location = doc.get("location")
    return isinstance(location, Mapping) and location.get("isDummyPlaceForEducationEvents") is True


def locate(location: Any, main_language: str, region: Region) -> Located:
    found, path, postal_code = address(location, main_language)
    municipality = region.by_postal_code(postal_code)
    if municipality is None:
        return Located(None, postal_code)
    loc = as_object(location, "location")
    ref = as_str(loc.get("@id"), "location.@id")
    return Located(
        Place(
            # A place without @id is a dummy: no real venue to track.
            id=None if ref is None else last_segment(ref),
            name=lang_map(loc.get("name"), "location.name", main_language),
            street_address=as_str(found.get("streetAddress"), f"{path}.streetAddress"),
            postal_code=postal_code,
            locality=as_str(found.get("addressLocality"), f"{path}.addressLocality"),
            municipality=municipality.name,
            nis=municipality.nis,
        ),
        postal_code,
    )
