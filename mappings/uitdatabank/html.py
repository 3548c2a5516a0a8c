"""Descriptions: sanitised HTML for pages, plain text for search, mail and diffs."""

from __future__ import annotations

import html as html_module
import re
from collections.abc import Callable
from typing import Any

import nh3

from mappings.uitdatabank.readers import MAX_TEXT, cap, multi_line
from sync.domain.html import HTML_ATTRIBUTES, HTML_TAGS, LINK_REL, URL_SCHEMES

# Block tags kept only long enough to turn them into line breaks for the plain text.
_TEXT_BLOCK_TAGS = {
    "p", "br", "li", "ul", "ol", "div", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "table", "tr", "td", "th", "tbody", "thead",
}
_PARAGRAPH_TAG = re.compile(r"</?(?:p|div|h[1-6]|blockquote|ul|ol|table)\b[^>]*>", re.IGNORECASE)
_LINE_TAG = re.compile(r"<br\s*/?>|</(?:li|tr)\s*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^>]*>")
_LOOKS_LIKE_HTML = re.compile(r"<[A-Za-z/!]")
_BLANK_LINE = re.compile(r"\n\s*\n")
_MANY_BREAKS = re.compile(r"\n{3,}")
# What multi_line drops or rewrites (readers._CONTROL, and carriage returns).
_CONTROL_OR_CR = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\r]")
# nh3 refuses text with lone surrogates (the sync records that as a failure): such text takes
# the path through nh3, so it fails as before.
_SURROGATE = re.compile("[\ud800-\udfff]")
# What nh3 (html5ever) writes differently from `html.escape` in a text: quotes as themselves,
# a no-break space as an entity. Every `&` that `html.escape` leaves is its own escape, so
# these replacements cannot touch anything else.
_AS_NH3_WRITES = (("&#x27;", "'"), ("&quot;", '"'), ("\xa0", "&nbsp;"))
# Both cleanings parse the same HTML into the same tree and differ only in the elements they
# keep. Without a start or end tag of a block the pages drop (div, h1, table, …; none of them
# is ever made up by the parser without its own tag or a table's), the text-block cleaning
# is the page cleaning with its inline elements (strong, a, …) unwrapped. nh3 writes every
# attribute as ` name="value"` with `"` escaped, so the pattern finds each tag whole.
_BLOCK_ONLY_TAG = re.compile(
    r"</?(?:" + "|".join(sorted(_TEXT_BLOCK_TAGS - HTML_TAGS)) + r")(?![^\s/>])", re.IGNORECASE)
_INLINE_TAG = re.compile(
    r"<(?:" + "|".join(sorted(HTML_TAGS - _TEXT_BLOCK_TAGS)) + r')(?: [\w:-]+="[^"]*")*>'
    r"|</(?:" + "|".join(sorted(HTML_TAGS - _TEXT_BLOCK_TAGS)) + r")>")


def _cleaner(**options: Any) -> Callable[[str], str]:
    """nh3 with fixed options, built once (`nh3.clean` builds the sanitiser again on every
    call: twice the cost)."""
    clean: Callable[[str], str] = nh3.Cleaner(**options).clean
    return clean


_SANITISE = _cleaner(tags=set(HTML_TAGS), attributes=HTML_ATTRIBUTES,
                     url_schemes=set(URL_SCHEMES), link_rel=LINK_REL)
_BLOCKS_ONLY = _cleaner(tags=_TEXT_BLOCK_TAGS, attributes={}, link_rel=None)


def describe(text: str) -> tuple[str, str]:
    """The sanitised HTML and the plain text (`sanitise_html`, `plain_text`) of a description
    that is through `multi_line` (as `lang_map(..., multiline=True)` gives it)."""
    if _is_plain(text):
        paragraphs = _paragraphs(text)
        return _sanitised_paragraphs(paragraphs), _plain_of_paragraphs(paragraphs)
    if (_LOOKS_LIKE_HTML.search(text) and len(text) <= 2 * MAX_TEXT
            and _BLOCK_ONLY_TAG.search(text) is None):
        # One nh3 pass for both (see _BLOCK_ONLY_TAG); the cap would not cut this text.
        cleaned = _SANITISE(text)
        return cleaned.strip(), _plain_of_blocks(_INLINE_TAG.sub("", cleaned))
    return _sanitised(text), _plain(text)


def sanitise_html(raw: str) -> str:
    """Sanitised description HTML: a small tag set, safe links only."""
    return _sanitised(multi_line(raw))


def plain_text(raw: str) -> str:
    """Plain text: tags gone, entities decoded, whitespace collapsed, paragraphs kept."""
    return _plain(multi_line(raw))


def _is_plain(text: str) -> bool:
    """No markup to parse (a lone `<` or `&` is text, escaped on the way in) and nothing nh3
    would refuse: then nh3's result is known without calling it."""
    return _LOOKS_LIKE_HTML.search(text) is None and _SURROGATE.search(text) is None


def _paragraphs(text: str) -> list[str]:
    return [p for p in _BLANK_LINE.split(text) if p.strip()]


def _html_of(paragraphs: list[str]) -> str:
    # Plain-text descriptions: keep their paragraphs and line breaks visible once rendered.
    return "".join(
        "<p>" + "<br>".join(html_module.escape(line.strip()) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def _as_html(text: str) -> str:
    """The HTML of a description (after `multi_line`): as it is, or made from plain text."""
    return text if _LOOKS_LIKE_HTML.search(text) else _html_of(_paragraphs(text))


def _sanitised(text: str) -> str:
    if _is_plain(text):
        return _sanitised_paragraphs(_paragraphs(text))
    # Capped before cleaning, so nh3 closes whatever the cut left open.
    return _SANITISE(cap(_as_html(text), 2 * MAX_TEXT)).strip()


def _sanitised_paragraphs(paragraphs: list[str]) -> str:
    html = _html_of(paragraphs)
    if len(html) > 2 * MAX_TEXT:
        return _SANITISE(cap(html, 2 * MAX_TEXT)).strip()
    # Paragraphs, line breaks and escaped text only: nh3 keeps all of it and writes it back
    # with its own escapes.
    for escaped, written in _AS_NH3_WRITES:
        html = html.replace(escaped, written)
    return html


def _plain(text: str) -> str:
    if _is_plain(text):
        return _plain_of_paragraphs(_paragraphs(text))
    return _plain_of_blocks(_BLOCKS_ONLY(_as_html(text)))


def _plain_of_blocks(blocks: str) -> str:
    """The plain text of a description cleaned down to its text blocks."""
    # Source newlines are HTML whitespace; only the tags decide where lines break.
    if _CONTROL_OR_CR.search(blocks) is None:
        # Nothing for multi_line to drop or turn into a line break, before or after unescaping
        # (nh3 escapes only &, <, > and the no-break space): the line breaks are then the
        # only whitespace whose collapsing matters, as the lines are normalised below.
        blocks = blocks.replace("\n", " ")
        clean = False
    else:
        blocks = _one_space(blocks)
        clean = True
    blocks = _PARAGRAPH_TAG.sub("\n\n", blocks)
    blocks = _LINE_TAG.sub("\n", blocks)
    text = html_module.unescape(_ANY_TAG.sub(" ", blocks))
    if clean:
        text = multi_line(text)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return cap(_MANY_BREAKS.sub("\n\n", "\n".join(lines)).strip(), MAX_TEXT)


def _one_space(text: str) -> str:
    """Every whitespace run as one space, as `re.sub(r"\\s+", " ", text)` writes it (`\\s` and
    `str.split` know the same whitespace) in a third of the time."""
    words = " ".join(text.split())
    if text[:1].isspace():
        words = " " + words
    if text[-1:].isspace() and words != " ":
        words += " "
    return words


def _plain_of_paragraphs(paragraphs: list[str]) -> str:
    """The plain text of a description without markup, as the text-block cleaning makes it:
    the text is escaped, cleaned and unescaped back to itself, so what remains is its lines
    with whitespace collapsed, its paragraphs one blank line apart."""
    text = "\n\n".join("\n".join(" ".join(line.split()) for line in p.split("\n"))
                       for p in paragraphs)
    return cap(_MANY_BREAKS.sub("\n\n", text).strip(), MAX_TEXT)
