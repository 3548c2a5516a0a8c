"""Descriptions: sanitised HTML for pages, plain text for search, mail and diffs."""

from __future__ import annotations

import html as html_module
import re

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


def _as_html(raw: str) -> str:
    raw = multi_line(raw)
    if _LOOKS_LIKE_HTML.search(raw):
        return raw
    # Plain-text descriptions: keep their paragraphs and line breaks visible once rendered.
    paragraphs = [p for p in re.split(r"\n\s*\n", raw) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html_module.escape(line.strip()) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def sanitise_html(raw: str) -> str:
    """Sanitised description HTML: a small tag set, safe links only."""
    # Capped before cleaning, so nh3 closes whatever the cut left open.
    return nh3.clean(
        cap(_as_html(raw), 2 * MAX_TEXT),
        tags=set(HTML_TAGS),
        attributes=HTML_ATTRIBUTES,
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
    ).strip()


def plain_text(raw: str) -> str:
    """Plain text: tags gone, entities decoded, whitespace collapsed, paragraphs kept."""
    blocks = nh3.clean(_as_html(raw), tags=_TEXT_BLOCK_TAGS, attributes={}, link_rel=None)
    # Source newlines are HTML whitespace; only the tags decide where lines break.
    blocks = re.sub(r"\s+", " ", blocks)
    blocks = _PARAGRAPH_TAG.sub("\n\n", blocks)
    blocks = _LINE_TAG.sub("\n", blocks)
    text = multi_line(html_module.unescape(_ANY_TAG.sub(" ", blocks)))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return cap(re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip(), MAX_TEXT)
