"""Search text normalised one way for index and query: NFC, casefold, no accents, words."""

from __future__ import annotations

import re
import unicodedata

MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 10
# PostgreSQL refuses a tsvector past 1 MB; a description that long says nothing more.
MAX_BODY_CHARS = 200_000

# Letters and digits only: "_" and punctuation separate words, as in SQLite's unicode61
# tokenizer, so the index and the query split a text the same way on both databases.
_WORD = re.compile(r"[^\W_]+")


def normalise(text: str) -> str:
    """NFC, casefold, accents removed: "Taalcafé", "TAALCAFE" and a decomposed é agree."""
    folded = unicodedata.normalize("NFC", text).casefold()
    bare = "".join(c for c in unicodedata.normalize("NFD", folded) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare)


def words(text: str) -> list[str]:
    """The normalised words of a text, in order."""
    return _WORD.findall(normalise(text))


def body(texts: list[str]) -> str:
    """What the index stores of an activity: its normalised words, separated by one space."""
    return " ".join(words(" ".join(texts)))[:MAX_BODY_CHARS]


class QueryTooLong(ValueError):
    """A search text past the caps: too many characters or too many words."""


def query_words(q: str) -> list[str]:
    """The words to look for (each a prefix, all required); raises QueryTooLong past the caps."""
    if len(q) > MAX_QUERY_CHARS:
        raise QueryTooLong(f"q is longer than {MAX_QUERY_CHARS} characters")
    found = words(q)
    if len(found) > MAX_QUERY_WORDS:
        raise QueryTooLong(f"q has more than {MAX_QUERY_WORDS} words")
    return found


def matches(query: list[str], text_words: list[str]) -> bool:
    """Prefix AND: every query word starts some word of the text (the index's semantics)."""
    return all(any(w.startswith(q) for w in text_words) for q in query)
