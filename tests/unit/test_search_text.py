"""Search normalisation: accents, case and Unicode forms agree; caps refuse long queries."""

from __future__ import annotations

import pytest

from sync.domain.search_text import (
    MAX_QUERY_CHARS,
    QueryTooLong,
    body,
    matches,
    normalise,
    query_words,
    words,
)


def test_accents_case_and_decomposed_forms_normalise_alike():
    composed = "Taalcaf\u00e9"
    decomposed = "Taalcafe\u0301"
    assert composed != decomposed
    assert normalise(composed) == normalise(decomposed) == normalise("TAALCAFE") == "taalcafe"


def test_casefold_goes_further_than_lower():
    assert normalise("Straße") == "strasse"
    assert normalise("ÇA VA, GRÜẞE") == "ca va, grusse"


def test_words_split_on_punctuation_and_underscores_like_the_index():
    assert words("Praat-café: 'n uur_lang, 2de keer!") == ["praat", "cafe", "n", "uur", "lang",
                                                             "2de", "keer"]


def test_body_is_the_words_joined_and_capped():
    assert body(["Taalcafé Ieper", "Kom <b>praten</b>"]) == "taalcafe ieper kom b praten b"
    assert len(body(["x " * 300_000])) <= 200_000


def test_query_words_are_prefixes_all_required():
    text = words("Taalcafé in de bibliotheek van Ieper")
    assert matches(query_words("taalcafe"), text)
    assert matches(query_words("TAALCAF biblio"), text)
    assert matches(query_words("Taalcafe\u0301"), text)
    assert not matches(query_words("taalcafe poperinge"), text)
    assert not matches(query_words("cafe"), text)  # a prefix, not any substring


def test_query_caps_refuse_long_and_wordy_queries():
    assert len(query_words("a " * 10)) == 10
    with pytest.raises(QueryTooLong):
        query_words("a " * 11)
    with pytest.raises(QueryTooLong):
        query_words("x" * (MAX_QUERY_CHARS + 1))
    assert query_words("x" * MAX_QUERY_CHARS) == ["x" * MAX_QUERY_CHARS]


def test_a_query_of_only_punctuation_has_no_words():
    assert query_words(" -- !? ") == []
