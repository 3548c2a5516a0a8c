"""The region: municipalities with their NIS and postal codes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Municipality:
    """One municipality of the region."""

    name: str
    nis: str
    postal_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Region:
    """The municipalities a deployment serves, looked up by postal code or name."""

    name: str
    municipalities: tuple[Municipality, ...]

    @property
    def postal_codes(self) -> tuple[str, ...]:
        return tuple(pc for m in self.municipalities for pc in m.postal_codes)

    def by_postal_code(self, postal_code: str) -> Municipality | None:
        code = postal_code.strip()
        for m in self.municipalities:
            if code in m.postal_codes:
                return m
        return None

    def find(self, name_or_nis: str) -> Municipality | None:
        """Case-insensitive match on name, or exact NIS code."""
        key = name_or_nis.strip().casefold()
        for m in self.municipalities:
            if m.nis == key or m.name.casefold() == key:
                return m
        return None
