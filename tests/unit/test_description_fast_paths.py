"""The descriptions' fast paths (no nh3 for plain text, one nh3 pass for both forms of most
HTML) give exactly what the two nh3 cleanings give."""

from __future__ import annotations

import html as html_module
import re

import nh3
import pytest

from mappings.uitdatabank.html import describe, plain_text, sanitise_html
from mappings.uitdatabank.readers import MAX_TEXT, cap, multi_line
from sync.domain.html import HTML_ATTRIBUTES, HTML_TAGS, LINK_REL, URL_SCHEMES

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")

SCALE = hypothesis.settings().max_examples / 100

# The mapping as it was before its fast paths, every description through nh3: the reference.
_BLOCK_TAGS = {"p", "br", "li", "ul", "ol", "div", "h1", "h2", "h3", "h4", "h5", "h6",
               "blockquote", "table", "tr", "td", "th", "tbody", "thead"}


def _reference_as_html(raw: str) -> str:
    raw = multi_line(raw)
    if re.search(r"<[A-Za-z/!]", raw):
        return raw
    paragraphs = [p for p in re.split(r"\n\s*\n", raw) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html_module.escape(line.strip()) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def reference_html(raw: str) -> str:
    return nh3.clean(cap(_reference_as_html(raw), 2 * MAX_TEXT), tags=set(HTML_TAGS),
                     attributes=HTML_ATTRIBUTES, url_schemes=set(URL_SCHEMES),
                     link_rel=LINK_REL).strip()


def reference_text(raw: str) -> str:
    blocks = nh3.clean(_reference_as_html(raw), tags=_BLOCK_TAGS, attributes={}, link_rel=None)
    blocks = re.sub(r"\s+", " ", blocks)
    blocks = re.sub(r"</?(?:p|div|h[1-6]|blockquote|ul|ol|table)\b[^>]*>", "\n\n", blocks,
                    flags=re.IGNORECASE)
    blocks = re.sub(r"<br\s*/?>|</(?:li|tr)\s*>", "\n", blocks, flags=re.IGNORECASE)
    text = multi_line(html_module.unescape(re.sub(r"<[^>]*>", " ", blocks)))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return cap(re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip(), MAX_TEXT)


def outcome(function: object, raw: str) -> str:
    assert callable(function)
    try:
        return f"ok {function(raw)!r}"
    except Exception as exc:  # noqa: BLE001 - a refusal must stay the same refusal
        return f"raised {type(exc).__name__}: {exc}"


TRICKY = [
    "", " ", "plain", "Tom & Jerry", "a &amp; b &lt;c&gt; &#39;q&#39; &nbsp;x &#x27; &quot;",
    "x < y > z", "3 < 4 & zo", "'single' \"double\"", "nb\u00a0sp", "line\u2028sep\u3000wide",
    "para1\n\n\npara2\r\nline\rcr", "  \n  lead\n\n \t \ntrail \n ", "tab\there\t\tx",
    "ctl\x00\x07\x1b[31mred\x7f\x85end\x0b\x0c", "zero\u200bwidth\ufeffbom\ufffe\ufdd0",
    "<3 liefde", "a<b", "<", "&", "&amp", "&unknown;", "emoji 🎉", "\ud83d lone",
    "<p>html</p>", "<!-- c -->x", "</p>", "woord " * 6000, "a&b" * 12000, "'" * 11000,
    "\u00a0" * 12000, "x\n" * 20000,
]


@pytest.mark.parametrize("raw", TRICKY)
def test_tricky_descriptions_are_as_nh3_makes_them(raw: str) -> None:
    assert outcome(sanitise_html, raw) == outcome(reference_html, raw)
    assert outcome(plain_text, raw) == outcome(reference_text, raw)


TEXT = st.text(
    alphabet=st.sampled_from(list("ab é<>&;#x27\"' /!p\n\r\t\x00\x1b\x85\u00a0\u2028\u200b🎉"))
    | st.characters(),
    max_size=80,
)


@hypothesis.settings(max_examples=round(500 * SCALE), deadline=None)
@hypothesis.given(raw=TEXT)
def test_any_description_is_as_nh3_makes_it(raw: str) -> None:
    assert outcome(sanitise_html, raw) == outcome(reference_html, raw)
    assert outcome(plain_text, raw) == outcome(reference_text, raw)


def both(raw: str) -> str:
    """`describe` as the mapping calls it (on `multi_line`'d text), or its refusal."""
    try:
        return f"ok {describe(multi_line(raw))!r}"
    except Exception as exc:  # noqa: BLE001 - a refusal must stay the same refusal
        return f"raised {type(exc).__name__}: {exc}"


def reference_both(raw: str) -> str:
    try:
        return f"ok {(reference_html(raw), reference_text(raw))!r}"
    except Exception as exc:  # noqa: BLE001
        return f"raised {type(exc).__name__}: {exc}"


# Tag soup: the page and text-block tags, inline tags with awkward attributes, content that
# is dropped, foreign content, entities, stray brackets.
FRAGMENTS = [
    "<p>", "</p>", "<P class='x'>", "<br>", "<br/>", "<BR >", "</br>", "<strong>", "</strong>",
    "<b>", "</b>", "<i>", "</I>", "<em>", "</em>", "<ul>", "</ul>", "<ol>", "<li>", "</li>",
    '<a href="https://x.be/?a=1&b=2">', '<a href="javascript:alert(1)">', "<a>", "</a>",
    '<a href="http://x/?q=>" title=t>', "<a href='x\"y'>", "<span>", "</span>",
    "<script>x</script>", "<style>p{}</style>", "<!-- c -->", "<img src=x>", "<u>",
    "<svg><p>x</p></svg>", "<math>", "<template>t</template>", "<select><option>o</option>",
    "<textarea>t</textarea>", "<pre>\n pre</pre>", "<xmp>x</xmp>", "<noscript>n</noscript>",
    "<title>t</title>", "<div>", "</div>", "<h2>", "<table><tr><td>c</td></tr></table>", "<td>",
    "<dl><dt>t<dd>d</dl>", "<blockquote>", "text", " ", "\n", "\t", "&amp;", "&lt;", "&gt;",
    "&nbsp;", "&#39;", "&quot;", "\"", "'", "<", ">", "&", "é", "\u00a0", "\u2028", "&#12;",
    "&#1;", "&#x85;", "&#13;", "x<y", "<3", "</", "<a", "<p", "<!", "<?php ?>", "<![CDATA[x]]>",
    "<body>", "</body>", "<divx>", "<div/>", "<th\x0b>",
]


@hypothesis.settings(max_examples=round(500 * SCALE), deadline=None)
@hypothesis.given(parts=st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=25))
def test_any_html_description_is_as_the_two_cleanings_make_it(parts: list[str]) -> None:
    raw = "".join(parts)
    assert both(raw) == reference_both(raw)


@pytest.mark.parametrize("raw", TRICKY + ["<p>" + "x " * 31_000 + "</p>",
                                          "<p>a</p><div>b</div>", "<p>a<strong>b</strong>c</p>"])
def test_tricky_descriptions_described_as_the_two_cleanings_make_them(raw: str) -> None:
    assert both(raw) == reference_both(raw)
