"""Making article text safe: nh3 for HTML, XML 1.0 character rules, header-safe single lines."""

from __future__ import annotations

import html
import re

import nh3

# XML 1.0 allows #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x85]+")
# A start tag, end tag or comment: `<` directly followed by a letter, `/` or `!` ("a < b" stays).
_MARKUP = re.compile(r"<!--.*?-->|</?[A-Za-z][^<>]*>|<![^<>]*>", re.DOTALL)
_ROUNDS = 3

# Tags an article body may keep. Everything else is unwrapped; script/style/iframe are dropped
# with their contents by nh3's defaults (clean_content_tags).
ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dl", "dt",
        "em", "figcaption", "figure", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "li",
        "ol", "p", "pre", "q", "s", "small", "strong", "sub", "sup", "table", "tbody", "td",
        "tfoot", "th", "thead", "tr", "u", "ul",
    }
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "abbr": {"title"},
    "*": {"lang", "dir"},
}
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})


def strip_xml_forbidden(text: str) -> str:
    """Remove characters XML 1.0 forbids (C0 controls but tab/LF/CR, surrogates, U+FFFE/F)."""
    return _XML_FORBIDDEN.sub("", text)


def single_line(text: str) -> str:
    """Collapse CR/LF (and Unicode line separators) to single spaces: for titles and names."""
    return " ".join(_LINE_BREAKS.sub(" ", strip_xml_forbidden(text)).split())


def plain_title(text: str) -> str:
    """A title as text: tags and comments dropped, entities decoded, on one line.

    Decoding can reveal markup that was escaped once (`&lt;b&gt;`), so tags are dropped again
    until nothing changes (a few rounds): a stored title never contains markup a feed reader
    or validator would take for HTML.
    """
    for _ in range(_ROUNDS):
        decoded = html.unescape(_MARKUP.sub("", text))
        if decoded == text:
            break
        text = decoded
    return single_line(_MARKUP.sub("", text))


def sanitize_html(fragment: str) -> str:
    """An article HTML fragment with only safe tags, attributes and URL schemes left."""
    cleaned = nh3.clean(
        strip_xml_forbidden(fragment),
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return cleaned.strip()


def text_to_html(paragraphs: list[str]) -> str:
    """Plain-text paragraphs as escaped `<p>` elements; single newlines become `<br>`."""
    out = []
    for para in paragraphs:
        lines = [html.escape(line.strip(), quote=False) for line in para.splitlines() if line.strip()]
        if lines:
            out.append("<p>" + "<br>\n".join(lines) + "</p>")
    return "\n".join(out)


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of a plain text: blocks separated by one or more blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [block.strip() for block in re.split(r"\n[ \t\u00a0]*\n", text) if block.strip()]
