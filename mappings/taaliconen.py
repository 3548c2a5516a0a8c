"""The one table of taalicoon label spellings: the query asks for each, the mapping reads them."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from itertools import product

# The current labels are `één taalicoon` … `vier taaliconen`. Older data writes `een` or
# `eén`, a digit, an underscore or a hyphen instead of the space, and sometimes the other noun
# form. SAPI3 matches labels ignoring case only (not accents, underscores or hyphens), so every
# spelling we accept must be asked for by name: the query is built from this same table.
_NUMBERS: dict[int, tuple[str, ...]] = {
    1: ("één", "een", "eén", "1"),
    2: ("twee", "2"),
    3: ("drie", "3"),
    4: ("vier", "4"),
}
_NOUNS = ("taalicoon", "taaliconen")
_SEPARATORS = (" ", "_", "-")


def _key(label: str) -> str:
    return unicodedata.normalize("NFC", label).strip().casefold()


# label (NFC, case-folded) → language level
SPELLINGS: dict[str, int] = {
    _key(f"{number}{separator}{noun}"): level
    for level, numbers in _NUMBERS.items()
    for number, separator, noun in product(numbers, _SEPARATORS, _NOUNS)
}

# The canonical spellings first (they are most of the data), then the variants.
CANONICAL: tuple[str, ...] = ("één taalicoon", "twee taaliconen", "drie taaliconen",
                              "vier taaliconen")
QUERY_LABELS: tuple[str, ...] = CANONICAL + tuple(s for s in SPELLINGS if s not in CANONICAL)


def taalicoon_level(label: object) -> int | None:
    """The language level (1–4) a label stands for, or None when it is no taalicoon label."""
    if not isinstance(label, str):
        return None
    return _level(label)


@lru_cache(maxsize=1024)
def _level(label: str) -> int | None:
    # A few hundred distinct labels make up a feed: each is normalised once.
    return SPELLINGS.get(_key(label))
