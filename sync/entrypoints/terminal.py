"""Text for a terminal: control characters from the feed or a person are shown, not obeyed."""

from __future__ import annotations

import re

# C0 and C1 controls (ESC starts terminal commands, CR overwrites a line), DEL, the Unicode
# line separators and the bidirectional overrides that make text read other than it is.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                     "\u2066-\u2069]")
_UNSAFE_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                             "\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    c = match.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def clean(value: object, *, lines: bool = False) -> str:
    """`value` as one printable line (`lines`: line breaks and tabs may stay)."""
    text = "" if value is None else str(value)
    return (_UNSAFE_IN_TEXT if lines else _UNSAFE).sub(_escape, text)


def json_safe(document: str) -> str:
    """A JSON text with the controls json.dumps leaves raw (DEL, C1, separators, bidi) written
    as \\u escapes: the same JSON value, harmless on a terminal."""
    return _UNSAFE_IN_TEXT.sub(lambda m: f"\\u{ord(m.group()):04x}", document)
