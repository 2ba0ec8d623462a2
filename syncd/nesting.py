"""A linear first pass over untrusted HTML that bounds what the sanitizer's parser
must do. Contains no business logic.

html5ever (inside nh3) is quadratic in nesting depth: 40,000 nested ``<div>`` took
over a minute. Its "active formatting elements" can also multiply nodes: formatting
tags with distinct attributes, re-opened after every paragraph, grew 2,000 tags into
19 MB. ``bound`` rewrites a fragment, in one pass and linear time, into a canonical
form that the parser reads exactly as written:

- tags only from an allow-list, lower-cased, with allowed attributes re-quoted (so
  formatting tags carry none, and the parser's three-alike rule bounds its list);
- every element closed explicitly and in order (stray end tags dropped, elements
  left open closed where their parent closes, ``<p>``, ``<li>``, ``<dd>``, ``<dt>``,
  table cells and rows closed where HTML closes them implicitly);
- no element deeper than ``max_depth``: deeper tags are dropped, their text kept;
- comments, doctypes and processing instructions dropped; ``<script>``-like
  elements dropped with their content; text outside tags has ``<`` and ``>`` escaped.

Well-formed markup means the same before and after. Misnested formatting loses the
parser's repair: in ``<b>x<i>y</b>z</i>``, "z" is no longer italic. The result
still goes through the real sanitizer; this pass only bounds its work.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta",
     "param", "source", "track", "wbr"}
)  # fmt: skip
#: content is text up to the matching end tag (HTML's raw text and RCDATA elements)
RAW_TEXT = frozenset(
    {"script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "textarea", "title"}
)
#: a start tag of these closes an open <p> (unless a table cell lies between)
CLOSES_P = frozenset(
    {"address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div",
     "dl", "fieldset", "figcaption", "figure", "footer", "header", "hgroup", "main", "menu",
     "nav", "ol", "p", "section", "summary", "ul", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
     "listing", "table", "hr", "li", "dd", "dt", "xmp"}
)  # fmt: skip
_P_SCOPE = frozenset({"table", "td", "th", "caption"})
#: tag → the open tags it closes when found near the top, and the tags that stop the search
_SIBLINGS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "li": (frozenset({"li"}), frozenset({"ul", "ol", "table", "td", "th"})),
    "dd": (frozenset({"dd", "dt"}), frozenset({"dl", "table", "td", "th"})),
    "dt": (frozenset({"dd", "dt"}), frozenset({"dl", "table", "td", "th"})),
    "td": (frozenset({"td", "th"}), frozenset({"tr", "table"})),
    "th": (frozenset({"td", "th"}), frozenset({"tr", "table"})),
    "tr": (frozenset({"tr"}), frozenset({"table", "tbody", "thead", "tfoot"})),
    "tbody": (frozenset({"tbody", "thead", "tfoot"}), frozenset({"table"})),
    "thead": (frozenset({"tbody", "thead", "tfoot"}), frozenset({"table"})),
    "tfoot": (frozenset({"tbody", "thead", "tfoot"}), frozenset({"table"})),
    "a": (frozenset({"a"}), frozenset({"table", "td", "th"})),
}
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
#: how far below the top the implicit-close search looks (keeps each tag O(1))
_WINDOW = 6

_WS = "\t\n\f\r "
_NAME = rf"[A-Za-z][^{_WS}/>]*"
_ATTRS = r"""(?:[^>"']+|"[^"]*(?:"|\Z)|'[^']*(?:'|\Z))*"""
_TOKEN = re.compile(
    r"<!--.*?(?:--!?>|\Z)"  # comment (an unterminated one runs to the end, as in HTML)
    r"|<[!?][^>]*(?:>|\Z)"  # doctype, CDATA, processing instruction: bogus comments
    rf"|</(?P<end>{_NAME})?{_ATTRS}(?:(?P<end_gt>>)|\Z)"  # a tag cut off by the end
    rf"|<(?P<start>{_NAME})(?P<attrs>{_ATTRS})(?:(?P<start_gt>>)|\Z)",  # is dropped
    re.S,
)
_ATTR = re.compile(
    rf"""([^{_WS}"'>/=][^{_WS}"'>/=]*)(?:[{_WS}]*=[{_WS}]*(?:"([^"]*)"?|'([^']*)'?|([^{_WS}>]+)))?"""
)
_RAW_END: dict[str, re.Pattern[str]] = {
    name: re.compile(rf"</{name}(?=[{_WS}/>]|\Z)[^>]*(?:>|\Z)", re.I) for name in RAW_TEXT
}


@dataclass(frozen=True)
class Bounded:
    html: str
    #: tags dropped because they were nested deeper than ``max_depth``
    flattened: int


def _text(s: str) -> str:
    return s.replace("<", "&lt;").replace(">", "&gt;")


def _attr_value(s: str) -> str:
    return s.replace('"', "&quot;")


class _Writer:
    """The open elements as written, with O(1) answers to "is a <p> open in scope"."""

    def __init__(self, max_depth: int) -> None:
        self.out: list[str] = []
        self.stack: list[str] = []
        self.p_at: list[int] = []  # stack positions of open <p>
        self.scope_at: list[int] = []  # stack positions of open table/td/th/caption
        self.max_depth = max_depth
        self.count: dict[str, int] = {}  # open elements by name
        self.excess = 0  # dropped start tags still "open"
        self.flattened = 0

    def open(self, name: str, attrs: str) -> None:
        if (
            name in CLOSES_P
            and self.p_at
            and (not self.scope_at or self.p_at[-1] > self.scope_at[-1])
        ):
            self.close_to(self.p_at[-1])
        if name in _HEADINGS and self.stack and self.stack[-1] in _HEADINGS:
            self.close_to(len(self.stack) - 1)
        sibling = _SIBLINGS.get(name)
        if sibling is not None:
            closes, stops = sibling
            for i in range(len(self.stack) - 1, max(-1, len(self.stack) - 1 - _WINDOW), -1):
                if self.stack[i] in closes:
                    self.close_to(i)
                    break
                if self.stack[i] in stops:
                    break
        if name in VOID:
            self.out.append(f"<{name}{attrs}>")
            return
        if len(self.stack) >= self.max_depth:
            self.excess += 1
            self.flattened += 1
            return
        if name == "p":
            self.p_at.append(len(self.stack))
        elif name in _P_SCOPE:
            self.scope_at.append(len(self.stack))
        self.stack.append(name)
        self.count[name] = self.count.get(name, 0) + 1
        self.out.append(f"<{name}{attrs}>")

    def close_to(self, index: int) -> None:
        """Close the element at ``index`` and everything above it."""
        while len(self.stack) > index:
            name = self.stack.pop()
            self.count[name] -= 1
            pos = len(self.stack)
            if self.p_at and self.p_at[-1] == pos:
                self.p_at.pop()
            if self.scope_at and self.scope_at[-1] == pos:
                self.scope_at.pop()
            self.out.append(f"</{name}>")

    def close(self, name: str) -> None:
        if self.excess:  # an end tag beyond the depth cap belongs to a dropped start tag
            self.excess -= 1
            return
        if not self.count.get(name):
            return  # a stray end tag: dropped
        i = len(self.stack) - 1
        while self.stack[i] != name:
            i -= 1
        self.close_to(i)  # amortized: what is searched through is closed


def bound(
    fragment: str,
    *,
    tags: Collection[str],
    attributes: Mapping[str, Collection[str]],
    drop_with_content: Collection[str],
    max_depth: int,
) -> Bounded:
    """``fragment`` rewritten in the canonical form described above; linear time."""
    w = _Writer(max_depth)
    out = w.out
    pos, n = 0, len(fragment)
    dropping: str | None = None  # inside an element dropped with its content
    drop_depth = 0
    while pos < n:
        lt = fragment.find("<", pos)
        if lt < 0:
            lt = n
        if lt > pos and dropping is None:
            out.append(_text(fragment[pos:lt]))
        if lt >= n:
            break
        m = _TOKEN.match(fragment, lt)
        if m is None:  # "<" that starts no tag is text
            if dropping is None:
                out.append("&lt;")
            pos = lt + 1
            continue
        pos = m.end()
        start, end = m.group("start"), m.group("end")
        if start is None and end is None:
            continue  # comment, doctype, "</ >"
        if m.group("start_gt") is None and m.group("end_gt") is None:
            break  # a tag cut off by the end of the fragment: HTML drops it
        name = (start or end or "").lower()
        if dropping is not None:
            if name == dropping:
                drop_depth += 1 if start else -1
                if drop_depth == 0:
                    dropping = None
            continue
        if start is not None:
            if name in RAW_TEXT:
                raw_end = _RAW_END[name].search(fragment, pos)
                stop = raw_end.start() if raw_end else n
                if name not in drop_with_content:
                    out.append(_text(fragment[pos:stop]))
                pos = raw_end.end() if raw_end else n
                continue
            if name in drop_with_content:
                if name not in VOID and not m.group(0).endswith("/>"):
                    dropping, drop_depth = name, 1
                continue
            if name not in tags:
                continue
            w.open(name, _attributes(m.group("attrs"), attributes.get(name, ())))
        elif name == "br" and "br" in tags:
            w.open("br", "")  # </br> is read as <br>
        elif name in tags and name not in VOID:
            w.close(name)
    w.close_to(0)
    return Bounded("".join(out), w.flattened)


def _attributes(raw: str, allowed: Collection[str]) -> str:
    if not allowed or not raw:
        return ""
    seen: dict[str, str] = {}
    for m in _ATTR.finditer(raw):
        key = m.group(1).lower()
        if key in allowed and key not in seen:  # the first of duplicates wins, as in HTML
            value = next((g for g in m.group(2, 3, 4) if g is not None), "")
            seen[key] = value
    return "".join(f' {k}="{_attr_value(v)}"' for k, v in seen.items())
