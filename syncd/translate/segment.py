"""HTML → blocks → sentences, and back again. Pure: no I/O, no models.

``parse(html, lang)`` turns a (sanitized) HTML fragment into a ``Document``: a list of
verbatim markup strings and ``Block`` s. A block is one run of text and inline markup
between block-level tags (a paragraph, heading, list item, quote, table cell, caption,
…). Its text is whitespace-collapsed (line breaks inside a paragraph do not split it)
and split into ``Sentence`` s by language rules (``split``). Inline elements (links,
bold, italic, …) become ``Span`` s: character ranges of a sentence, so a link in
mid-sentence does not split the sentence.

``render(doc, sentence_html, lang)`` writes the document back with the same block
structure, each sentence replaced by the HTML the caller gives (see ``inject``, which
puts a sentence's inline markup back around the translated words it belonged to).

What is not kept: inline elements without text (``<b> </b>``) and comments.
``<pre>``, ``<code>`` blocks outside sentences, ``<script>``/``<style>`` stay verbatim.
"""

from __future__ import annotations

import difflib
import html as htmlmod
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser

#: Elements that stay inside a sentence; every other tag starts or ends a block.
INLINE = frozenset(
    {"a", "abbr", "b", "cite", "del", "em", "i", "ins", "mark", "q", "s", "small", "span",
     "strong", "sub", "sup", "time", "u"}
)  # fmt: skip
#: Elements whose content is never translated (kept verbatim).
OPAQUE = frozenset({"pre", "code", "script", "style", "textarea", "svg", "math", "kbd", "samp"})
VOID = frozenset(
    {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)

#: Text that is one unit and never split (nor translated: see ``glossary.mask``).
URL_RE = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'“”„«»\u3000-\u9fff\uff00-\uffef]*"
    r"[^\s<>\"'“”„«»\u3000-\u9fff\uff00-\uffef.,;:!?)\]}’]"
)
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")

_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Span:
    """Inline markup over ``text[start:end]`` of a sentence (outer spans come first)."""

    start: int
    end: int
    open: str  # the start tag as written, e.g. '<a href="https://…">'
    close: str  # '</a>'

    @property
    def tag(self) -> str:
        return self.close[2:-1]


@dataclass(frozen=True)
class Sentence:
    text: str  # whitespace-collapsed plain text, no markup
    spans: tuple[Span, ...] = ()

    def span_text(self, span: Span) -> str:
        return self.text[span.start : span.end]

    def is_whole(self, span: Span) -> bool:
        """True when a span covers the whole sentence (no need to locate it)."""
        return span.start == 0 and span.end == len(self.text)


@dataclass(frozen=True)
class Block:
    sentences: tuple[Sentence, ...]
    lead: str = ""  # whitespace before the first sentence, as written
    trail: str = ""  # whitespace after the last one


@dataclass
class Document:
    parts: list[str | Block] = field(default_factory=list)

    def blocks(self) -> list[Block]:
        return [p for p in self.parts if isinstance(p, Block)]

    def sentences(self) -> list[Sentence]:
        return [s for b in self.blocks() for s in b.sentences]


# --------------------------------------------------------------------------- parsing

# A run token: ("text", data) | ("open", tag, raw) | ("close", tag, raw)
_Tok = tuple[str, ...]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[tuple[str, ...]] = []  # ("raw", s) | run tokens
        self.opaque = 0

    def _raw(self, s: str) -> None:
        self.out.append(("raw", s))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raw = self.get_starttag_text() or f"<{tag}>"
        if self.opaque or tag in OPAQUE:
            if tag in OPAQUE and tag not in VOID:
                self.opaque += 1
            self._raw(raw)
        elif tag in INLINE:
            self.out.append(("open", tag, raw))
        else:
            self._raw(raw)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._raw(self.get_starttag_text() or f"<{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        raw = f"</{tag}>"
        if self.opaque:
            if tag in OPAQUE:
                self.opaque -= 1
            self._raw(raw)
        elif tag in INLINE:
            self.out.append(("close", tag, raw))
        elif tag not in VOID:
            self._raw(raw)

    def handle_data(self, data: str) -> None:
        if self.opaque:
            self._raw(htmlmod.escape(data, quote=False))
        else:
            self.out.append(("text", data))

    def handle_comment(self, data: str) -> None:
        pass  # comments are dropped (the sanitizer drops them too)

    def handle_decl(self, decl: str) -> None:
        pass

    def handle_pi(self, data: str) -> None:
        pass

    def unknown_decl(self, data: str) -> None:
        pass


def parse(fragment: str, lang: str) -> Document:
    """Split an HTML fragment into verbatim markup and blocks of sentences."""
    c = _Collector()
    c.feed(fragment)
    c.close()
    doc = Document()
    for part in _cut(c.out, lambda _i, tok: tok[1] if tok[0] == "raw" else None):
        if isinstance(part, str):
            _append_raw(doc, part)
        else:
            _flush(doc, part, lang)
    return doc


def _cut(
    tokens: Sequence[_Tok], cut: Callable[[int, _Tok], str | None]
) -> Iterator[list[_Tok] | str]:
    """The runs of tokens between cut points, and each cut point's markup in between."""
    piece: list[_Tok] = []
    for i, tok in enumerate(tokens):
        raw = cut(i, tok)
        if raw is None:
            piece.append(tok)
        else:
            yield piece
            yield raw
            piece = []
    yield piece


def parse_text(text: str, lang: str) -> Document:
    """A plain-text field (title, summary) as one block."""
    doc = Document()
    _flush(doc, [("text", text)], lang)
    return doc


def _append_raw(doc: Document, s: str) -> None:
    if doc.parts and isinstance(doc.parts[-1], str):
        doc.parts[-1] += s
    else:
        doc.parts.append(s)


def _flush(doc: Document, run: list[_Tok], lang: str) -> None:
    """Add a run of text and inline tags; unmatched inline tags become verbatim."""
    stack: list[int] = []
    broken: set[int] = set()
    for i, tok in enumerate(run):
        if tok[0] == "open":
            stack.append(i)
        elif tok[0] == "close":
            if stack and run[stack[-1]][1] == tok[1]:
                stack.pop()
            else:
                broken.add(i)
    broken.update(stack)
    for part in _cut(run, lambda i, tok: tok[2] if i in broken else None):
        if isinstance(part, str):
            _append_raw(doc, part)
        else:
            _add_block(doc, part, lang)


@dataclass
class _Open:
    start: int
    end: int
    open: str
    close: str


def _add_block(doc: Document, run: list[_Tok], lang: str) -> None:
    if not run:
        return
    text_parts: list[str] = []
    spans: list[_Open] = []
    open_stack: list[_Open] = []
    pos = 0
    for tok in run:
        if tok[0] == "text":
            text_parts.append(tok[1])
            pos += len(tok[1])
        elif tok[0] == "open":
            spans.append(_Open(pos, pos, tok[2], f"</{tok[1]}>"))
            open_stack.append(spans[-1])
        else:
            open_stack.pop().end = pos
    raw_text = "".join(text_parts)
    if not raw_text.strip():
        _append_raw(doc, htmlmod.escape(raw_text, quote=False))
        return
    # collapse whitespace, mapping raw offsets to collapsed offsets
    lead_len = len(raw_text) - len(raw_text.lstrip())
    body_end = len(raw_text.rstrip())
    mapping: list[int] = []
    out: list[str] = []
    prev_space = True
    for i, ch in enumerate(raw_text):
        mapping.append(len(out))
        if i < lead_len or i >= body_end:
            continue
        if ch.isspace():
            if not prev_space:
                out.append(" ")
            prev_space = True
        else:
            out.append(ch)
            prev_space = False
    mapping.append(len(out))
    text = "".join(out)
    collapsed = [Span(mapping[o.start], mapping[o.end], o.open, o.close) for o in spans]
    sentences = tuple(_sentence(text, a, b, collapsed) for a, b in split(text, lang))
    doc.parts.append(Block(sentences, raw_text[:lead_len], raw_text[body_end:]))


def _sentence(text: str, start: int, end: int, spans: Sequence[Span]) -> Sentence:
    own: list[Span] = []
    for sp in spans:
        a, b = max(sp.start, start), min(sp.end, end)
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            own.append(Span(a - start, b - start, sp.open, sp.close))
    return Sentence(text[start:end], tuple(own))


# ---------------------------------------------------------------- sentence splitting


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_DE_ABBR = _words(
    "abs allg apr art aug bd bsp bzw ca chr dez di dipl do dr ev evang evtl fa feb fr geb gem"
    " ggf hr hrsg inkl ing jan jh jhd jr jul jun kath max min mio mo mrd mwst nov nr okt prof"
    " sa sen sep sept so sog st std str tel usw vgl zt zzgl"
)
_EN_ABBR = _words(
    "approx apr aug co col corp dec dept dr est etc feb fig gen gov inc jan jr jul jun lt ltd"
    " mar mr mrs ms no nov oct prof rep sen sep sept sr st vs"
)
_DE_MONTHS = _words(
    "Januar Februar März April Mai Juni Juli August September Oktober November Dezember"
)
#: Capitalized words that usually start a German sentence: after "12." they mean the
#: number ended a sentence; before any other capitalized word "12." is an ordinal.
_DE_STARTERS = _words(
    "Der Die Das Dem Den Des Ein Eine Einen Einem Es Er Sie Wir Ich Ihr Man Im Am In An Auf"
    " Aus Bei Mit Nach Für Zum Zur Von Vom Bis Seit Um Dies Diese Dieser Dieses Dabei Damit"
    " Dazu Danach Dann Doch Aber Auch Außerdem So Wie Was Wer Wo Wenn Als Da Nun Jetzt Heute"
    " Insgesamt Zudem Trotzdem Deshalb Daher Alle Viele"
)
_LATIN_END = re.compile(r"[.!?]+[\"'”“’»«)\]]*(?=\s)|[.!?]+[\"'”“’»«)\]]*$")
_ZH_END = re.compile(r"[。！？；!?;]+[”’」』）)\]\"']*|\.(?=\s|[\u3000-\u9fff]|$)[”’」』）)\]\"']*")
_WORD_BEFORE = re.compile(r"(\w+)\.?$")


def split(text: str, lang: str) -> list[tuple[int, int]]:
    """Sentence boundaries of collapsed ``text`` as (start, end), whitespace excluded."""
    if not text.strip():
        return []
    protected = [(m.start(), m.end()) for r in (URL_RE, EMAIL_RE) for m in r.finditer(text)]
    zh = lang.split("-")[0] == "zh"
    cuts: list[int] = []
    for m in (_ZH_END if zh else _LATIN_END).finditer(text):
        end = m.end()
        if any(a < end <= b or a <= m.start() < b for a, b in protected):
            continue
        if zh:
            between_digits = m.start() > 0 and end < len(text) and text[end].isdigit()
            if m.group().startswith(".") and between_digits and text[m.start() - 1].isdigit():
                continue
        elif any(b == m.start() for _, b in protected):
            pass  # "… unter www.dueren.de. Dort …": the URL ends, then the sentence
        elif not _latin_boundary(text, m.start(), end, lang):
            continue
        cuts.append(end)
    out: list[tuple[int, int]] = []
    start = 0
    for c in [*cuts, len(text)]:
        a, b = start, c
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            out.append((a, b))
        start = c
    return out


def _latin_boundary(text: str, term_start: int, end: int, lang: str) -> bool:
    rest = text[end:].lstrip()
    if not rest:
        return True
    first = rest[0]
    if not (first.isupper() or first.isdigit() or first in "\"'„“”‚‘«»([¿¡"):
        return False
    if text[term_start] != ".":
        return True
    before = text[:term_start]
    m = _WORD_BEFORE.search(before)
    if m is None:
        return True
    word = m.group(1)
    next_word = re.match(r"[\w-]+", rest)
    nxt = next_word.group() if next_word else ""
    if len(word) == 1 and word.isalpha():
        return False  # initials and "z. B.", "d. h.", "u. a."
    if word.isdigit():
        if lang == "de":  # "1. Mai", "der 2. Bürgermeister"
            return nxt not in _DE_MONTHS and (nxt in _DE_STARTERS or not nxt[:1].isupper())
        return True
    abbr = _DE_ABBR if lang == "de" else _EN_ABBR
    if word.lower() in abbr or (lang == "de" and word.lower() in _EN_ABBR & {"etc"}):
        return False
    # "e.g." / "i.e." / "U.S." : dotted abbreviations
    return re.search(r"(?:\b\w\.){2,}$", before + ".") is None


# ------------------------------------------------------------------------- rendering


def join_sentences(parts: Sequence[str], lang: str) -> str:
    """Chinese runs sentences together; other languages separate them by a space."""
    sep = "" if lang.split("-")[0] == "zh" else " "
    return sep.join(p for p in parts if p)


def render(doc: Document, sentence_html: Callable[[Sentence], str], lang: str) -> str:
    """Write ``doc`` back, each sentence replaced by ``sentence_html(sentence)``."""
    out: list[str] = []
    for part in doc.parts:
        if isinstance(part, str):
            out.append(part)
        else:
            body = join_sentences([sentence_html(s) for s in part.sentences], lang)
            out.append(
                htmlmod.escape(part.lead, quote=False)
                + body
                + htmlmod.escape(part.trail, quote=False)
            )
    return "".join(out)


def render_text(doc: Document, sentence_text: Callable[[Sentence], str], lang: str) -> str:
    """A plain-text field back from its sentences."""
    return join_sentences([sentence_text(s) for s in doc.sentences()], lang)


def identity_html(sentence: Sentence) -> str:
    """The sentence as HTML with its own markup, as it came in."""
    return _wrap(
        sentence.text,
        {i: (sp.start, sp.end) for i, sp in enumerate(sentence.spans)},
        sentence.spans,
    )


# ------------------------------------------------------------------------- injection


@dataclass(frozen=True)
class Injected:
    html: str
    moved: tuple[int, ...] = ()  # links that could not be placed: appended after the sentence
    dropped: tuple[int, ...] = ()  # other markup that could not be placed: dropped


def inject(
    sentence: Sentence, translated: str, span_translations: Sequence[str], lang: str
) -> Injected:
    """Put a sentence's inline markup back into its translation.

    ``span_translations[i]`` is the translation of ``sentence.spans[i]``'s text alone.
    A span that covers its parent wholly wraps the parent's whole translation; other
    spans are located in their parent's translated range (exactly, then ignoring case,
    then by closest match; of several places, the one nearest the span's relative
    position in the source). A link that cannot be placed is appended after the
    sentence (its words and href survive); other markup that cannot be placed is
    dropped (the words are still in the sentence).
    """
    spans = sentence.spans
    ranges: dict[int, tuple[int, int]] = {-1: (0, len(translated))}
    taken: dict[int, list[tuple[int, int]]] = {}
    failed: list[int] = []
    for i, sp in enumerate(spans):
        p = _parent(spans, i)
        sa, sb = (0, len(sentence.text)) if p == -1 else (spans[p].start, spans[p].end)
        if p not in ranges:
            failed.append(i)
            continue
        pa, pb = ranges[p]
        if (sp.start, sp.end) == (sa, sb):
            ranges[i] = (pa, pb)
            continue
        expect = pa + (pb - pa) * (sp.start - sa) / max(1, sb - sa)
        found = _locate(translated, pa, pb, span_translations[i].strip(), taken.get(p, []), expect)
        if found is None:
            failed.append(i)
            continue
        ranges[i] = found
        taken.setdefault(p, []).append(found)
    html = _wrap(translated, ranges, spans)
    moved = tuple(i for i in failed if spans[i].tag == "a")
    for i in moved:
        text = htmlmod.escape(span_translations[i].strip(), quote=False)
        if lang.split("-")[0] == "zh":
            html += f"（{spans[i].open}{text}{spans[i].close}）"
        else:
            html += f" ({spans[i].open}{text}{spans[i].close})"
    return Injected(html, moved, tuple(i for i in failed if spans[i].tag != "a"))


def _parent(spans: Sequence[Span], i: int) -> int:
    """The nearest earlier span containing span ``i`` (-1: the sentence)."""
    sp = spans[i]
    for j in range(i - 1, -1, -1):
        if spans[j].start <= sp.start and sp.end <= spans[j].end:
            return j
    return -1


def _wrap(text: str, ranges: dict[int, tuple[int, int]], spans: Sequence[Span]) -> str:
    opens: dict[int, list[str]] = {}
    closes: dict[int, list[str]] = {}
    for i, sp in enumerate(spans):
        if i in ranges and ranges[i][0] < ranges[i][1]:
            a, b = ranges[i]
            opens.setdefault(a, []).append(sp.open)
            closes.setdefault(b, []).insert(0, sp.close)
    out: list[str] = []
    for k in range(len(text) + 1):
        out.extend(closes.get(k, ()))
        out.extend(opens.get(k, ()))
        if k < len(text):
            out.append(htmlmod.escape(text[k], quote=False))
    return "".join(out)


def _locate(
    text: str, lo: int, hi: int, needle: str, taken: Sequence[tuple[int, int]], expect: float
) -> tuple[int, int] | None:
    """Where ``needle`` sits in ``text[lo:hi]``, outside ranges already ``taken``."""
    if not needle:
        return None

    def free(a: int, b: int) -> bool:
        return all(b <= x or a >= y for x, y in taken)

    hay = text[lo:hi]
    for h, pat in ((hay, needle), (hay.lower(), needle.lower())):
        hits = [lo + m.start() for m in re.finditer(re.escape(pat), h)]
        hits = [k for k in hits if free(k, k + len(pat))]
        if hits:
            k = min(hits, key=lambda k: abs(k - expect))
            return k, k + len(pat)
    # closest match: the best-scoring substring between word boundaries
    bounds = sorted({0, len(hay)} | {i for m in _CUT.finditer(hay) for i in (m.start(), m.end())})
    best: tuple[float, int, int] | None = None
    n = len(needle)
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(needle.lower())
    for i, a in enumerate(bounds):
        for b in bounds[i + 1 :]:
            if b - a > 2 * n + 4:
                break
            cand = hay[a:b]
            if cand != cand.strip() or (cand[-1] in _PUNCT and needle[-1] not in _PUNCT):
                continue
            if len(cand) < max(1, n // 2):
                continue
            matcher.set_seq1(cand.lower())
            score = matcher.ratio()
            if score >= 0.6 and free(lo + a, lo + b) and (best is None or score > best[0]):
                best = (score, lo + a, lo + b)
    return None if best is None else (best[1], best[2])


_PUNCT = ".,;:!?\"'»«“”„)。，；：！？）、"
_CUT = re.compile(r"\s+|[\u3000-\u9fff\uff00-\uffef]|[.,;:!?\"'»«“”„)]+(?=\s|$)")


# ----------------------------------------------------------------- long sentences

_CLAUSE = re.compile(r"[,;:，；：、–—](?:\s+|(?=\S))|\s+(?=(?:und|oder|aber|and|or|but)\s)")
_PLACEHOLDER_SPAN = re.compile(r"⟦\s*\d*\s*⟧")


def halves(text: str) -> list[str]:
    """Cut ``text`` in two near its middle: after a clause mark if there is one close
    enough, else at a space, else between characters (never inside a placeholder)."""
    mid = len(text) / 2
    inside = [(m.start(), m.end()) for m in _PLACEHOLDER_SPAN.finditer(text)]

    def ok(k: int) -> bool:
        return 0 < k < len(text) and not any(a < k < b for a, b in inside)

    for candidates in (
        [m.end() for m in _CLAUSE.finditer(text)],
        [m.end() for m in re.finditer(r"\s+", text)],
        list(range(1, len(text))),
    ):
        usable = [k for k in candidates if ok(k) and abs(k - mid) <= len(text) / 3]
        if usable:
            k = min(usable, key=lambda k: abs(k - mid))
            left, right = text[:k].strip(), text[k:].strip()
            if left and right:
                return [left, right]
    return [text]


def split_long(text: str, too_long: Callable[[str], bool]) -> list[str]:
    """Cut a sentence into parts that are not ``too_long`` (e.g. over 250 pieces)."""
    if not too_long(text):
        return [text]
    parts = halves(text)
    if len(parts) == 1:
        return parts
    return [p for part in parts for p in split_long(part, too_long)]
