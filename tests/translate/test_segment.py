"""segment: HTML → blocks → sentences → HTML (pure)."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.translate import segment as seg


def sentences(text: str, lang: str) -> list[str]:
    return [text[a:b] for a, b in seg.split(text, lang)]


# ------------------------------------------------------------------ sentence rules


def test_german_abbreviations_and_ordinals_do_not_end_a_sentence() -> None:
    text = (
        "Am 1. Mai lädt Dr. Müller z. B. ins Rathaus ein. Es ist Nr. 5 der Reihe! "
        "Der 2. Bürgermeister kommt am 3. Oktober. Es kamen 300. Danach wurde gefeiert."
    )
    assert sentences(text, "de") == [
        "Am 1. Mai lädt Dr. Müller z. B. ins Rathaus ein.",
        "Es ist Nr. 5 der Reihe!",
        "Der 2. Bürgermeister kommt am 3. Oktober.",
        "Es kamen 300.",
        "Danach wurde gefeiert.",
    ]


def test_quotes_urls_and_mail_addresses() -> None:
    text = (
        "Sie sagte: „Ja.“ Dann ging sie. Infos unter www.dueren.de/a_b. Mail an info@dueren.de! Gut"
    )
    assert sentences(text, "de") == [
        "Sie sagte: „Ja.“",
        "Dann ging sie.",
        "Infos unter www.dueren.de/a_b.",
        "Mail an info@dueren.de!",
        "Gut",
    ]


def test_chinese_ends_on_full_width_and_ascii_terminators() -> None:
    text = "金华今天举行活动。市长出席了！真的吗？是的；访问www.jinhua.gov.cn了解。版本3.5发布! 好"
    assert sentences(text, "zh") == [
        "金华今天举行活动。",
        "市长出席了！",
        "真的吗？",
        "是的；",
        "访问www.jinhua.gov.cn了解。",
        "版本3.5发布!",
        "好",
    ]


def test_english_initials_and_titles() -> None:
    assert sentences("Mr. Smith met Dr. Wu in the U.S. Army. Done.", "en") == [
        "Mr. Smith met Dr. Wu in the U.S. Army.",
        "Done.",
    ]


# ------------------------------------------------------------------------ blocks


def test_blocks_links_and_line_breaks() -> None:
    doc = seg.parse(
        '<h2>Neues\n  Rathaus</h2><p>Der <a href="https://x.de/a_b">neue\n Saal</a> ist offen. '
        "Alle sind\n eingeladen.</p><ul><li><b>Eintritt frei.</b></li></ul><table><tr><td>Ort</td></tr></table>",
        "de",
    )
    assert [s.text for s in doc.sentences()] == [
        "Neues Rathaus",
        "Der neue Saal ist offen.",
        "Alle sind eingeladen.",
        "Eintritt frei.",
        "Ort",
    ]
    link = doc.sentences()[1].spans[0]
    assert (link.open, doc.sentences()[1].span_text(link)) == (
        '<a href="https://x.de/a_b">',
        "neue Saal",
    )
    assert doc.sentences()[3].is_whole(doc.sentences()[3].spans[0])
    assert seg.render(doc, seg.identity_html, "de") == (
        '<h2>Neues Rathaus</h2><p>Der <a href="https://x.de/a_b">neue Saal</a> ist offen. '
        "Alle sind eingeladen.</p><ul><li><b>Eintritt frei.</b></li></ul><table><tr><td>Ort</td></tr></table>"
    )


def test_pre_and_code_stay_verbatim_and_br_separates() -> None:
    doc = seg.parse("<p>Zeile eins<br>Zeile zwei</p><pre>x = 1 &lt; 2</pre>", "de")
    assert [s.text for s in doc.sentences()] == ["Zeile eins", "Zeile zwei"]
    assert (
        seg.render(doc, lambda s: s.text.upper(), "de")
        == "<p>ZEILE EINS<br>ZEILE ZWEI</p><pre>x = 1 &lt; 2</pre>"
    )


def test_unbalanced_inline_tags_are_kept_verbatim() -> None:
    doc = seg.parse("<p>Ein <b>kaputter Satz. Und</p><p>noch einer.</b></p>", "de")
    out = seg.render(doc, seg.identity_html, "de")
    assert out == "<p>Ein <b>kaputter Satz. Und</p><p>noch einer.</b></p>"


def test_inject_places_markup_around_translated_words() -> None:
    (sentence,) = seg.parse(
        '<p>Der <a href="/x">neue Saal</a> ist <b>offen</b>.</p>', "de"
    ).sentences()
    placed = seg.inject(sentence, "The new hall is open.", ["new hall", "open"], "en")
    assert placed.html == 'The <a href="/x">new hall</a> is <b>open</b>.'
    assert not placed.moved and not placed.dropped


def test_inject_uses_closest_match_then_moves_links() -> None:
    (sentence,) = seg.parse(
        '<p>Mehr <a href="/x">auf der Website</a> der <i>Stadt</i>.</p>', "de"
    ).sentences()
    close = seg.inject(sentence, "More on the city website.", ["on the website", "city"], "en")
    assert close.html == 'More <a href="/x">on the city website</a>.'
    assert close.dropped == (1,)  # "city" is inside the link's words now: <i> cannot nest there
    lost = seg.inject(sentence, "更多信息。", ["网络", "城市"], "zh")
    assert lost.html == '更多信息。（<a href="/x">网络</a>）'
    assert lost.moved == (0,) and lost.dropped == (1,)


# ------------------------------------------------------------------- properties

WORDS_DE = [
    "Düren",
    "Stadt",
    "neue",
    "z. B.",
    "Dr. Klein",
    "1. Mai",
    "am",
    "3.",
    "und",
    "Satz",
    "www.a_b.de",
]
PUNCT = [".", "!", "?", ",", ""]
SPACE = [" ", "\n  ", " \t"]


@st.composite
def inline_text(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["text", "text", "inline"] if depth < 2 else ["text"]))
        if kind == "text":
            words = draw(st.lists(st.sampled_from(WORDS_DE), min_size=1, max_size=4))
            text = draw(st.sampled_from(SPACE)).join(words) + draw(st.sampled_from(PUNCT))
            parts.append(html.escape(text, quote=False))
        else:
            tag = draw(st.sampled_from(['a href="https://x.de/p_1"', "b", "i", "em", "strong"]))
            name = tag.split()[0]
            parts.append(f"<{tag}>{draw(inline_text(depth + 1))}</{name}>")
    return draw(st.sampled_from(SPACE)).join(parts)


@st.composite
def fragments(draw: st.DrawFn) -> str:
    blocks = []
    for _ in range(draw(st.integers(1, 4))):
        body = draw(inline_text())
        kind = draw(st.sampled_from(["p", "h2", "li", "blockquote", "td"]))
        if kind == "li":
            blocks.append(f"<ul><li>{body}</li></ul>")
        elif kind == "td":
            blocks.append(f"<table><tr><td>{body}</td></tr></table>")
        else:
            blocks.append(f"<{kind}>{body}</{kind}>")
    return "\n".join(blocks)


def plain(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]*>", "", fragment)).split())


def block_tags(fragment: str) -> list[str]:
    return [t for t in re.findall(r"</?(\w+)", fragment) if t not in seg.INLINE]


@settings(max_examples=150, deadline=None)
@given(fragments())
def test_round_trip_keeps_text_blocks_and_markup(fragment: str) -> None:
    doc = seg.parse(fragment, "de")
    out = seg.render(doc, seg.identity_html, "de")
    assert plain(out) == plain(fragment)
    assert block_tags(out) == block_tags(fragment)
    again = seg.parse(out, "de")
    assert again.sentences() == doc.sentences()  # same sentences, same spans
    assert seg.render(again, seg.identity_html, "de") == out


@settings(max_examples=150, deadline=None)
@given(fragments())
def test_links_and_emphasis_never_split_sentences(fragment: str) -> None:
    unwrapped = re.sub(r"</?(a|b|i|em|strong)\b[^>]*>", "", fragment)
    assert [s.text for s in seg.parse(fragment, "de").sentences()] == [
        s.text for s in seg.parse(unwrapped, "de").sentences()
    ]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abc ABC.!?。！？；;\n3", max_size=80), st.sampled_from(["de", "en", "zh"]))
def test_split_covers_every_character_in_order(text: str, lang: str) -> None:
    ranges = seg.split(" ".join(text.split()), lang)
    norm = " ".join(text.split())
    assert all(a < b for a, b in ranges)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(ranges, ranges[1:], strict=False))
    assert "".join(norm[a:b] for a, b in ranges).replace(" ", "") == norm.replace(" ", "")


@settings(max_examples=100, deadline=None)
@given(fragments())
def test_inject_with_the_source_as_translation_is_the_identity(fragment: str) -> None:
    for s in seg.parse(fragment, "de").sentences():
        placed = seg.inject(s, s.text, [s.span_text(sp) for sp in s.spans], "de")
        assert placed.html == seg.identity_html(s)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="ab ,;⟦⟧12", min_size=2, max_size=60))
def test_long_sentences_are_cut_without_losing_text(text: str) -> None:
    parts = seg.split_long(text, lambda t: len(t) > 10)
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")
