"""The HTML allow-list of descriptions: the one definition the mapping and the pages share."""

from __future__ import annotations

# What survives in a description: enough for paragraphs, emphasis, lists and links.
HTML_TAGS: frozenset[str] = frozenset({"p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "a"})
HTML_ATTRIBUTES: dict[str, set[str]] = {"a": {"href"}}
URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto", "tel"})
LINK_REL = "noopener noreferrer nofollow"
