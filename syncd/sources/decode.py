"""Text decoding and date reading for web pages. Contains no business logic.

Charset, in this order (the first that decodes the bytes strictly wins):

1. a byte-order mark (it beats everything, as in browsers); without one, UTF-16 and
   UTF-32 are told by the NUL bytes of the first characters (XML 1.0, Appendix F);
2. the ``charset`` of the Content-Type header;
3. ``<meta charset>`` / ``<meta http-equiv="Content-Type">`` or the XML declaration,
   looked for in the first 4 KiB;
4. UTF-8 (valid UTF-8 with non-ASCII bytes is UTF-8 with near certainty), then the
   caller's language hints (``gb18030`` for Chinese sources), then detection with
   charset-normalizer.

GB2312 and GBK are decoded as GB18030, their superset: pages that declare GB2312 and
use a character outside it (common on Chinese sites) still decode. A declaration that
does not fit the bytes is overridden with a warning. Any other declaration over bytes
that are valid UTF-8 (with non-ASCII in them) is overridden too: Latin-1 never fails
and GB18030 rarely does, so either would garble UTF-8 Chinese silently, while GBK or
Latin-1 text that happens to be valid UTF-8 is vanishingly rare. When nothing decodes strictly the
best guess is used with replacement characters and a warning; ``garbled`` tells the
caller how bad it is.

Dates: full-width digits and punctuation are normalized (NFKC) first; then the
caller's ``strptime`` formats, then ISO 8601, ``2024年3月22日 10:00``,
``22.03.2024 10:00``, ``22. März 2024``, ``2024/03/22`` and RFC 2822. A date without
a zone is read in the source's zone; the result is UTC.

Every conversion of an outside date is total: a date that cannot be represented in
UTC (year 1 or 9999 with an offset, a year with twenty digits) is no date, logged as
``date-out-of-range``, never an ``OverflowError``. Use ``to_utc`` for dates read
elsewhere (feedparser, pushed JSON).
"""

from __future__ import annotations

import codecs
import email.utils
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo

import charset_normalizer

from .. import logs

log = logs.get(__name__)

#: Declared names decoded as their superset.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "gb18030": "gb18030",
    "iso8859-1": "cp1252",  # WHATWG: ISO-8859-1 and ASCII labels mean windows-1252
    "latin-1": "cp1252",
    "ascii": "cp1252",
}
_BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.I)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)["']""", re.I)
#: share of replacement characters above which a page counts as garbled
GARBLED_RATIO = 0.01


def codec_name(label: str) -> str | None:
    """The Python codec for a declared charset label (supersets applied); None if unknown."""
    try:
        name = codecs.lookup(label.strip().lower()).name
    except (LookupError, ValueError):
        return None
    return _SUPERSETS.get(name, name)


def _strict(content: bytes, codec: str) -> str | None:
    try:
        return content.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _sniff_wide(content: bytes) -> str | None:
    """UTF-16/32 without a byte-order mark, from where the NUL bytes of the first two
    characters fall (XML 1.0, Appendix F). A feed or page opens with ``<`` or
    whitespace, and no ASCII-compatible charset has NUL bytes there."""
    if len(content) < 4:
        return None
    a, b, c, d = content[:4]
    if a == b == c == 0 and 0 < d < 0x80:
        return "utf-32-be"
    if b == c == d == 0 and 0 < a < 0x80:
        return "utf-32-le"
    if a == c == 0 and 0 < b < 0x80 and 0 < d < 0x80:
        return "utf-16-be"
    if b == d == 0 and 0 < a < 0x80 and 0 < c < 0x80:
        return "utf-16-le"
    return None


def declared_charsets(content: bytes, headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """(where, label) of every charset the response declares, strongest first."""
    out: list[tuple[str, str]] = []
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    m = _HEADER_CHARSET.search(ctype)
    if m:
        out.append(("header", m.group(1)))
    head = content[:4096]
    m2 = _XML_DECL.search(head) or _META_CHARSET.search(head)
    if m2:
        out.append(("page", m2.group(1).decode("ascii", "replace")))
    return out


def decode_html(
    content: bytes, headers: Mapping[str, str], hints: Sequence[str] = ()
) -> tuple[str, str, list[str]]:
    """Decode a page: ``(text, codec, warnings)``. Never raises for bad bytes.

    ``hints`` are codecs to try before statistical detection (a source's language
    makes some far likelier: ``("gb18030",)`` for Chinese, ``("cp1252",)`` for German).
    """
    warnings: list[str] = []
    for bom, codec in _BOMS:
        if content.startswith(bom):
            return content[len(bom) :].decode(codec, "replace"), codec, warnings
    wide = _sniff_wide(content)
    if wide is not None:
        text = _strict(content, wide)
        if text is None:
            warnings.append(f"charset: {wide} without byte-order mark, with replacement characters")
            text = content.decode(wide, "replace")
        return text, wide, warnings
    has_non_ascii = not content.isascii()
    for where, label in declared_charsets(content, headers):
        declared = codec_name(label)
        if declared is None:
            warnings.append(f"charset: unknown charset {label!r} declared in the {where}; ignored")
            continue
        text = _strict(content, declared)
        if text is None:
            warnings.append(
                f"charset: the {where} declares {label!r}, which does not fit the bytes"
            )
            continue
        if declared != "utf-8" and has_non_ascii and _strict(content, "utf-8") is not None:
            warnings.append(
                f"charset: the {where} declares {label!r} but the page is UTF-8; read as UTF-8"
            )
            return content.decode("utf-8"), "utf-8", warnings
        return text, declared, warnings
    if not has_non_ascii:
        return content.decode("ascii"), "ascii", warnings
    for codec in ("utf-8", *(codec_name(h) or h for h in hints)):
        text = _strict(content, codec)
        if text is not None:
            if warnings:
                warnings.append(f"charset: read as {codec}")
            return text, codec, warnings
    best = charset_normalizer.from_bytes(content).best()
    guess = codec_name(best.encoding) if best is not None else None
    if guess is not None:
        text = _strict(content, guess)
        if text is not None:
            warnings.append(f"charset: none declared that fits; detected {guess}")
            return text, guess, warnings
    fallback = guess or (codec_name(hints[0]) if hints else None) or "utf-8"
    warnings.append(
        f"charset: no charset fits the bytes; read as {fallback} with replacement characters"
    )
    return content.decode(fallback, "replace"), fallback, warnings


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_controls(text: str) -> str:
    """Drop C0 control characters other than tab and newlines: they mean nothing in
    HTML, and lxml (like XML) refuses them."""
    return _CONTROLS.sub("", text)


def garbled(text: str) -> bool:
    """Whether a decoded text has too many replacement characters to be trusted."""
    if not text:
        return False
    return text.count("\ufffd") / len(text) > GARBLED_RATIO


# ------------------------------------------------------------------------------ dates


def normalize_digits(text: str) -> str:
    """Full-width digits, colons, dashes and spaces → ASCII (NFKC), whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


_MONTHS = {
    name: n
    for n, names in enumerate(
        (
            ("januar", "jan", "january", "jänner"),
            ("februar", "feb", "february"),
            ("märz", "mär", "maerz", "march", "mar"),
            ("april", "apr"),
            ("mai", "may"),
            ("juni", "jun", "june"),
            ("juli", "jul", "july"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("oktober", "okt", "october", "oct"),
            ("november", "nov"),
            ("dezember", "dez", "december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_TIME = r"(?:\s*(?:T|,|um)?\s*(\d{1,2})[:时點点](\d{2})(?:[:分](\d{2}))?(?:\.\d+)?秒?\s*(?:Uhr)?)?"
_ZONE = r"\s*(Z|GMT|UTC|[+-]\d{2}:?\d{2})?"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})" + _TIME + _ZONE), "ymd"),
    (re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?" + _TIME + _ZONE), "ymd"),
    (re.compile(r"(\d{4})[/.](\d{1,2})[/.](\d{1,2})" + _TIME + _ZONE), "ymd"),
    (re.compile(r"(?<!\d)(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4})" + _TIME + _ZONE), "dmy"),
    (re.compile(r"(?<!\d)(\d{1,2})\.?\s+([^\W\d_]+)\.?\s+(\d{4})" + _TIME + _ZONE, re.I), "dMy"),
)


def _zone(text: str | None) -> tzinfo | None:
    if not text:
        return None
    if text in ("Z", "GMT", "UTC"):
        return UTC
    return datetime.strptime(text.replace(":", ""), "%z").tzinfo


def _from_match(m: re.Match[str], order: str) -> datetime | None:
    g = m.groups()
    if order == "ymd":
        year, month, day = int(g[0]), int(g[1]), int(g[2])
    elif order == "dmy":
        day, month, year = int(g[0]), int(g[1]), int(g[2])
    else:
        found = _MONTHS.get(g[1].lower())
        if found is None:
            return None
        day, month, year = int(g[0]), found, int(g[2])
    hour, minute, second = (int(x) if x else 0 for x in g[3:6])
    try:
        zone = _zone(g[6])
    except ValueError:  # an offset like +2599
        return None
    if not 1970 <= year <= 2200:
        return None
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        return None


def to_utc(dt: datetime, tz: tzinfo) -> datetime | None:
    """``dt`` in UTC, read in ``tz`` when it has no zone; None (and a log line) when
    UTC cannot hold it, as for year 1 or 9999 with an offset. Never raises."""
    try:
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=tz)
        return dt.astimezone(UTC)
    except (OverflowError, ValueError):
        log.info("date-out-of-range", date=dt.isoformat())
        return None


_RFC_YEAR = re.compile(r"\d{1,2}\s+[^\W\d_]{3,}\.?\s+(\d+)")


def rfc2822(text: str) -> datetime | None:
    """An RFC 2822 date, naive when its zone is ``-0000`` ("unknown"); None when the
    text is not one or names a year a datetime cannot hold. Never raises."""
    try:
        dt = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):  # year 99999999999999999999
        return None
    year = _RFC_YEAR.search(text)
    # email reads any year below 100 as two digits: "0001" would become 2001.
    if year and len(year.group(1)) > 2 and int(year.group(1)) != dt.year:
        return None
    if text.rstrip().endswith("-0000"):
        dt = dt.replace(tzinfo=None)
    return dt


def parse_date(text: str | None, tz: tzinfo, formats: Iterable[str] = ()) -> datetime | None:
    """The first date found in ``text`` as UTC, or None. Local times are read in ``tz``.
    Never raises: a date UTC cannot hold is no date."""
    found = find_date(text, tz, formats)
    return found[0] if found is not None else None


def find_date(
    text: str | None, tz: tzinfo, formats: Iterable[str] = ()
) -> tuple[datetime, bool] | None:
    """The first date found in ``text`` as UTC and whether it is date-only (no time of
    day given: midnight in ``tz``), or None. Never raises."""
    if not text:
        return None
    norm = normalize_digits(text)[:500]  # a date is short; cap work on hostile input
    for fmt in formats:
        try:
            parsed = datetime.strptime(norm, fmt)
        except ValueError:
            continue
        utc = to_utc(parsed, tz)
        return None if utc is None else (utc, not any(d in fmt for d in _TIME_DIRECTIVES))
    for pattern, order in _PATTERNS:
        for m in pattern.finditer(norm):
            dt = _from_match(m, order)
            if dt is not None:
                utc = to_utc(dt, tz)
                return None if utc is None else (utc, m.group(4) is None)
    dt = rfc2822(norm)
    if dt is None or not 1970 <= dt.year <= 2200:
        return None
    utc = to_utc(dt, tz)
    return None if utc is None else (utc, False)


_TIME_DIRECTIVES = ("%H", "%I", "%M", "%X", "%c", "%T", "%R")
