"""Turning a translated item into a Draft: lead, images, attribution, reviewer note (pure).

What an editor gets in the draft's body: the teaser as its first paragraph (unless
the body begins with it), the translated body, every image of the item (those not in
the body as figures, their alt text translated with the body: ``translatable_body``
is what ``sync`` sends to translation), the reviewer note and the attribution.

The attribution is written in the target language, names the source language and
city, links the original, and carries syncd's marker (``syncd:<16 hex>``) as plain
text so that it survives any sanitizer and our own drafts are recognised if they come
back through the partner's feed (promise 4). Only http(s) URLs reach a draft: the
source URL and image URLs of any other scheme are left out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from .config import CityConfig
from .models import MARKER_PREFIX, Draft, Item, QualityFlag, Translation
from .sanitize import clean_html, escape, http_url, to_text

#: "machine-translated from <language>" per target language, keyed by source language.
_FROM = {
    "de": {"zh": "Chinesischen", "zh-Hant": "Chinesischen", "en": "Englischen", "de": "Deutschen"},
    "zh": {"de": "德语", "en": "英语", "zh-Hant": "中文", "zh": "中文"},
    "zh-Hant": {"de": "德語", "en": "英語", "zh": "中文", "zh-Hant": "中文"},
    "en": {"de": "German", "zh": "Chinese", "zh-Hant": "Chinese"},
}
_TEMPLATE = {
    "de": 'Maschinell übersetzt aus dem {lang}. Quelle: {city}, <a href="{url}">Original</a>. ({marker})',
    "zh": '本文由{lang}机器翻译。来源：{city}，<a href="{url}">原文</a>。({marker})',
    "zh-Hant": '本文由{lang}機器翻譯。來源：{city}，<a href="{url}">原文</a>。({marker})',
    "en": 'Machine-translated from {lang}. Source: {city}, <a href="{url}">original</a>. ({marker})',
}
_TEMPLATE_NO_URL = {
    "de": "Maschinell übersetzt aus dem {lang}. Quelle: {city}. ({marker})",
    "zh": "本文由{lang}机器翻译。来源：{city}。({marker})",
    "zh-Hant": "本文由{lang}機器翻譯。來源：{city}。({marker})",
    "en": "Machine-translated from {lang}. Source: {city}. ({marker})",
}
_REVIEW = {
    "de": "Hinweis für die Redaktion: {n} Stelle(n) der Maschinenübersetzung bitte prüfen ({kinds}).",
    "zh": "编辑提示：机器翻译中有 {n} 处需要核对（{kinds}）。",
    "zh-Hant": "編輯提示：機器翻譯中有 {n} 處需要核對（{kinds}）。",
    "en": "Note for editors: please check {n} place(s) in the machine translation ({kinds}).",
}
_KIND_NAMES = {
    "de": {"repetition": "Wiederholung", "untranslated": "unübersetzt", "length-ratio": "Länge",
           "numbers": "Zahlen", "placeholder": "Platzhalter", "glossary": "Fachbegriff"},
    "zh": {"repetition": "重复", "untranslated": "未翻译", "length-ratio": "长度异常",
           "numbers": "数字", "placeholder": "占位符", "glossary": "术语"},
    "zh-Hant": {"repetition": "重複", "untranslated": "未翻譯", "length-ratio": "長度異常",
                "numbers": "數字", "placeholder": "佔位符", "glossary": "術語"},
    "en": {},
}  # fmt: skip


def _lang_key(language: str) -> str:
    return language if language in _TEMPLATE else language.split("-")[0]


def attribution_html(
    source_language: str,
    target_language: str,
    source_city: CityConfig,
    url: str | None,
    marker: str,
) -> str:
    lk = _lang_key(target_language)
    lang = _FROM[lk].get(source_language, source_language)
    city = escape(source_city.name_in(target_language))
    token = f"{MARKER_PREFIX}{marker}"
    url = http_url(url)
    if url:
        text = _TEMPLATE[lk].format(lang=lang, city=city, url=escape(url), marker=token)
    else:
        text = _TEMPLATE_NO_URL[lk].format(lang=lang, city=city, marker=token)
    return f'<p class="syncd-attribution">{text}</p>'


def review_note_html(target_language: str, flags: Sequence[QualityFlag]) -> str:
    if not flags:
        return ""
    lk = _lang_key(target_language)
    kinds = Counter(f.kind for f in flags)
    names = _KIND_NAMES.get(lk, {})
    sep = "、" if lk.startswith("zh") else ", "
    listed = sep.join(names.get(k, k) for k in sorted(kinds))
    return f'<p class="syncd-review">{escape(_REVIEW[lk].format(n=len(flags), kinds=listed))}</p>'


_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']([^"']+)["']""", re.I)
_CAPTIONED = re.compile(
    r"""(<figure>\s*<img\b[^>]*?)\salt=""([^>]*>)\s*<figcaption>(.*?)</figcaption>""",
    re.I | re.S,
)
#: a lead this much like the start of the body is already the body's first paragraph
_LEAD_PREFIX = 40


def translatable_body(item: Item) -> str:
    """The body that is translated for a draft: the item's body, then a figure for
    each image that is not in it, its alt text as the caption so that it is
    translated with the rest (``build_draft`` puts it back into ``alt``)."""
    present = set(_IMG_SRC.findall(item.body_html))
    figures = [
        f'<figure><img src="{escape(url)}" alt="">'
        + (f"<figcaption>{escape(i.title)}</figcaption>" if i.title else "")
        + "</figure>"
        for i in item.images
        if (url := http_url(i.url)) and url not in present
    ]
    return item.body_html + "".join(figures)


def _alt_from_captions(html: str) -> str:
    return _CAPTIONED.sub(
        lambda m: (
            f'{m.group(1)} alt="{escape(to_text(m.group(3)))}"{m.group(2)}'
            f"<figcaption>{m.group(3)}</figcaption>"
        ),
        html,
    )


def lead_html(item: Item, translated_summary: str) -> str:
    """The teaser as the draft's first paragraph, unless the body begins with it."""
    lead = to_text(item.summary)
    if not lead or not translated_summary.strip():
        return ""
    start = to_text(item.body_html)[: len(lead)]
    if start[:_LEAD_PREFIX] == lead[:_LEAD_PREFIX]:
        return ""
    return f"<p><strong>{escape(translated_summary)}</strong></p>"


def build_draft(
    *,
    marker: str,
    item: Item,
    version: int,
    translation: Translation,
    source_city: CityConfig,
    target_city: CityConfig,
) -> Draft:
    # The source edge already drops non-http(s) URLs; checked again here because every
    # target receives what is built here (sidecars, payloads, CMS fields).
    source_url = http_url(item.url)
    images = tuple(replace(i, url=url) for i in item.images if (url := http_url(i.url)))
    attribution = attribution_html(
        source_city.language, target_city.language, source_city, source_url, marker
    )
    review = review_note_html(target_city.language, translation.flags)
    lead = lead_html(item, translation.summary)
    body = clean_html(lead + _alt_from_captions(translation.body_html) + review + attribution)
    return Draft(
        marker=marker,
        source_id=item.source_id,
        source_key=item.key,
        source_url=source_url,
        source_city=source_city.id,
        source_city_name=source_city.name,
        target_city=target_city.id,
        source_language=source_city.language,
        target_language=target_city.language,
        original_title=item.title,
        title=translation.title,
        summary=translation.summary,
        body_html=body,
        attribution_html=attribution,
        content_hash=item.content_hash(),
        version=version,
        published=item.published,
        images=images,
        categories=item.categories,
        pivot=translation.pivot,
        flags=translation.flags,
        packages=translation.packages,
        original_body_html=item.body_html,
        original_summary=item.summary,
    )
